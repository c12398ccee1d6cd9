import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError } from '@nats-io/jetstream';
import { connectNats } from '@jetflow/bus';
import type { ExecutionEvent, StreamEvent } from '@jetflow/contracts';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import { EventStore, JOURNAL_INLINE_MAX_BYTES, ensureStreams, streamNames, WrongExpectedSequenceError, type StoredEntry, type StreamOptions } from './index';

const AT = '2025-01-01T00:00:00.000Z';

function started(executionId: string): ExecutionEvent {
  return {
    type: 'ExecutionStarted',
    execution_id: executionId,
    workflow_id: 'wf-1',
    workflow_version: 1,
    definition: { name: 'wf', steps: [] },
    scope: { organization_id: 'org', project_id: 'proj' },
    input: { kind: 'api' },
    context: {},
    user_id: null,
    session_id: null,
    at: AT,
  };
}
function status(n: number): ExecutionEvent {
  return { type: 'ExecutionStatusChanged', status: 'running', step_id: `s${n}`, at: AT };
}
function delta(content: string): StreamEvent {
  return { type: 'Delta', step_id: 'agent', content, at: AT };
}

describe('EventStore against nats-server', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let nc2: NatsConnection;
  let store: EventStore;
  const opts: StreamOptions = { prefix: `T${Date.now().toString(36)}_` };

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'event-store-test' });
    nc2 = await connectNats({ servers: server.url, name: 'event-store-test-2' });
    await ensureStreams(nc, opts);
    store = new EventStore(nc, opts);
  });

  afterAll(async () => {
    await nc2?.close();
    await nc?.close();
    await server?.stop();
  });

  it('creates the streams idempotently, also when processes race', async () => {
    await ensureStreams(nc, opts);
    const jsm = await jetstreamManager(nc);
    const names = streamNames(opts);
    // Start from nothing, then several "processes" race to create the streams.
    for (const name of Object.values(names)) await jsm.streams.delete(name);
    await Promise.all([nc, nc2, nc, nc2, nc, nc2].map((conn) => ensureStreams(conn, opts)));
    const exec = await jsm.streams.info(names.executions);
    expect(exec.config).toMatchObject({ subjects: ['jetflow.exec.>'], retention: 'limits', storage: 'file', allow_direct: true, num_replicas: 1, duplicate_window: 30e9 });
    expect((await jsm.streams.info(names.tasks)).config).toMatchObject({ subjects: ['jetflow.tasks.>'], retention: 'workqueue' });
    expect((await jsm.streams.info(names.timers)).config).toMatchObject({ subjects: ['jetflow.timers.>'], retention: 'workqueue' });
    // A changed option updates the existing stream.
    await ensureStreams(nc, { ...opts, maxAgeSeconds: 3600 });
    expect((await jsm.streams.info(names.executions)).config.max_age).toBe(3600 * 1e9);
    await ensureStreams(nc, opts);
    expect((await jsm.streams.info(names.executions)).config.max_age).toBe(0);
    // The duplicate window is an option, and never longer than a max age (the server refuses that).
    await ensureStreams(nc, { ...opts, duplicateWindowSeconds: 90 });
    expect((await jsm.streams.info(names.tasks)).config.duplicate_window).toBe(90e9);
    await ensureStreams(nc, { ...opts, duplicateWindowSeconds: 90, maxAgeSeconds: 10 });
    expect((await jsm.streams.info(names.executions)).config).toMatchObject({ max_age: 10e9, duplicate_window: 10e9 });
    await ensureStreams(nc, opts);
    expect((await jsm.streams.info(names.executions)).config).toMatchObject({ max_age: 0, duplicate_window: 30e9 });
  });

  it('appends a journal first in the same entry as the decision it led to', async () => {
    const id = randomUUID();
    const a = await store.append(id, [started(id)], 0, `${id}:1`);
    const call: StreamEvent = { type: 'ToolCalled', step_id: 's1', tool: 'noop', arguments: { q: 1 }, at: AT };
    const result: StreamEvent = { type: 'ToolResulted', step_id: 's1', tool: 'noop', result: { ok: true }, at: AT };
    const b = await store.append(id, [status(1)], a.seq, `${id}:2`, [call, result]);
    expect(b.seq).toBe(a.seq + 1);
    const all = await store.read(id);
    expect(all.map((e) => e.events)).toEqual([[started(id)], [call, result, status(1)]]);
    const history = [];
    for await (const e of store.history(id, 1, b.seq)) history.push(e);
    expect(history.map((e) => e.events)).toEqual([[started(id)], [call, result, status(1)]]);
  });

  it('appends a large journal on deltas just before the decision instead of inline, once even when the append is retried', async () => {
    const id = randomUUID();
    const a = await store.append(id, [started(id)], 0, `${id}:1`);
    const big: StreamEvent = { type: 'ToolResulted', step_id: 's1', tool: 'noop', result: { blob: 'x'.repeat(JOURNAL_INLINE_MAX_BYTES) }, at: AT };
    const b = await store.append(id, [status(1)], a.seq, `${id}:2`, [big]);
    // The same command retried (same message id): the decision and the journal are both deduped.
    expect(await store.append(id, [status(1)], a.seq, `${id}:2`, [big])).toEqual({ seq: b.seq, duplicate: true });
    const history = [];
    for await (const e of store.history(id, 1, b.seq)) history.push(e);
    expect(history.map((e) => [e.kind, e.events.map((x) => x.type)])).toEqual([
      ['events', ['ExecutionStarted']],
      ['deltas', ['ToolResulted']],
      ['events', ['ExecutionStatusChanged']],
    ]);
    expect((await store.readStream(id)).length).toBe(1);
  });

  it('appends, reads, and answers lastSeq and first', async () => {
    const id = randomUUID();
    const other = randomUUID();
    expect(await store.lastSeq(id)).toBe(0);
    expect(await store.first(id)).toBeNull();
    expect(await store.read(id)).toEqual([]);

    const a = await store.append(id, [started(id)], 0, `${id}:1`);
    await store.append(other, [started(other)], 0, `${other}:1`); // interleaved, must not show up
    const b = await store.append(id, [status(1), status(2)], a.seq, `${id}:2`);
    await store.appendStream(id, [delta('hel'), delta('lo')]); // deltas are not in read()
    const c = await store.append(id, [status(3)], b.seq, `${id}:3`);
    expect(a).toEqual({ seq: expect.any(Number), duplicate: false });
    expect(b.seq).toBeGreaterThan(a.seq);

    const all = await store.read(id);
    expect(all.map((e) => e.seq)).toEqual([a.seq, b.seq, c.seq]);
    expect(all.every((e) => e.kind === 'events')).toBe(true);
    expect(all[0].events).toEqual([started(id)]);
    expect(all[1].events).toEqual([status(1), status(2)]);
    expect(new Date(all[0].time).toISOString()).toBe(all[0].time);
    expect(Math.abs(Date.parse(all[0].time) - Date.now())).toBeLessThan(60_000);

    expect((await store.read(id, b.seq)).map((e) => e.seq)).toEqual([b.seq, c.seq]);
    expect(await store.read(id, c.seq + 1)).toEqual([]);
    expect(await store.lastSeq(id)).toBe(c.seq);
    const first = await store.first(id);
    expect(first).toEqual({ seq: a.seq, kind: 'events', events: [started(id)], time: expect.any(String) });
    expect(first!.time).toBe(all[0].time.slice(0, 23) + 'Z');
    expect((await store.first(other))!.events).toEqual([started(other)]);
  });

  it('rejects an append at a stale expected sequence, 0 included', async () => {
    const id = randomUUID();
    const a = await store.append(id, [started(id)], 0, `${id}:1`);
    // 0 means "no entry yet": enforced by nats-server 2.9.10 when the v3 client sends it.
    const zero = await store.append(id, [started(id)], 0, `${id}:again`).catch((e: unknown) => e);
    expect(zero).toBeInstanceOf(WrongExpectedSequenceError);
    expect(zero).toMatchObject({ code: 'CONFLICT', executionId: id, expectedSeq: 0 });
    expect((zero as Error).cause).toBeInstanceOf(JetStreamApiError);
    expect(((zero as Error).cause as JetStreamApiError).code).toBe(10071);

    await store.append(id, [status(1)], a.seq, `${id}:2`);
    await expect(store.append(id, [status(2)], a.seq, `${id}:3`)).rejects.toBeInstanceOf(WrongExpectedSequenceError);
    await expect(store.append(id, [status(2)], a.seq + 1000, `${id}:4`)).rejects.toBeInstanceOf(WrongExpectedSequenceError);
    expect((await store.read(id)).length).toBe(2);
  });

  it('dedupes a retried append by msgId and returns the original sequence', async () => {
    const id = randomUUID();
    const a = await store.append(id, [started(id)], 0, `${id}:start`);
    // The retry carries the same (now stale) expectation: dedupe is checked first.
    const again = await store.append(id, [started(id)], 0, `${id}:start`);
    expect(again).toEqual({ seq: a.seq, duplicate: true });
    const b = await store.append(id, [status(1)], a.seq, `${id}:s1`);
    expect(await store.append(id, [status(1)], a.seq, `${id}:s1`)).toEqual({ seq: b.seq, duplicate: true });
    expect((await store.read(id)).map((e) => e.seq)).toEqual([a.seq, b.seq]);
  });

  it('follows history then live entries, deltas interleaved in stream order, and resumes from a sequence', async () => {
    const id = randomUUID();
    const s1 = await store.append(id, [started(id)], 0, `${id}:1`);
    const d1 = await store.appendStream(id, [delta('a')]);
    const s2 = await store.append(id, [status(1)], s1.seq, `${id}:2`);

    const follower = store.follow(id);
    const seen: StoredEntry[] = [];
    const done = (async () => {
      for await (const entry of follower.entries) seen.push(entry);
    })();
    await eventually(() => seen.length === 3);

    const d2 = await store.appendStream(id, [delta('b'), delta('c')]);
    await store.append(randomUUID(), [status(9)], 0, randomUUID()); // other execution: filtered out
    const s3 = await store.append(id, [status(2)], s2.seq, `${id}:3`);
    await eventually(() => seen.length === 5);

    expect(seen.map((e) => [e.seq, e.kind])).toEqual([
      [s1.seq, 'events'],
      [d1.seq, 'deltas'],
      [s2.seq, 'events'],
      [d2.seq, 'deltas'],
      [s3.seq, 'events'],
    ]);
    expect(seen[3].events).toEqual([delta('b'), delta('c')]);

    await follower.stop();
    await done; // the iterator ends after stop()
    const jsm = await jetstreamManager(nc);
    await eventually(async () => (await jsm.streams.info(streamNames(opts).executions)).state.consumer_count === 0);

    // Resume after an SSE id: only entries after it, then live.
    const resumed = store.follow(id, d1.seq + 1);
    const later: number[] = [];
    const done2 = (async () => {
      for await (const entry of resumed.entries) later.push(entry.seq);
    })();
    await eventually(() => later.length === 3);
    expect(later).toEqual([s2.seq, d2.seq, s3.seq]);
    await resumed.stop();
    await done2;
  });

  it('stop() before iterating, or while idle, leaves no consumer behind', async () => {
    const id = randomUUID();
    await store.append(id, [started(id)], 0, `${id}:1`);
    const jsm = await jetstreamManager(nc);
    const consumers = async () => (await jsm.streams.info(streamNames(opts).executions)).state.consumer_count;
    await eventually(async () => (await consumers()) === 0);

    const never = store.follow(id);
    await never.stop();
    const it = never.entries[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(true);

    const idle = store.follow(id);
    const iter = idle.entries[Symbol.asyncIterator]();
    expect((await iter.next()).value?.seq).toBeGreaterThan(0);
    const pending = iter.next(); // waits for a live entry that never comes
    await idle.stop();
    expect((await pending).done).toBe(true);
    await eventually(async () => (await consumers()) === 0);
  });

  it('keeps exactly one winner per round with two concurrent writers', async () => {
    const id = randomUUID();
    await store.append(id, [started(id)], 0, `${id}:start`);
    const rounds = 50;

    // Each writer keeps its own folded state: the counter is the number of increments in the log.
    async function writer(name: string, conn: NatsConnection): Promise<{ wins: number; conflicts: number }> {
      const es = new EventStore(conn, opts);
      let wins = 0;
      let conflicts = 0;
      let lastSeq = 0;
      let counter = 0;
      const load = async () => {
        for (const e of await es.read(id, lastSeq + 1)) {
          lastSeq = e.seq;
          counter += e.events.filter((ev) => ev.type === 'ExecutionStatusChanged').length;
        }
      };
      await load();
      while (counter < rounds) {
        // decide: increment `counter` → the event names the value it produces
        const next = counter + 1;
        try {
          await es.append(id, [{ type: 'ExecutionStatusChanged', status: 'running', step_id: `${name}:${next}`, at: AT }], lastSeq, `${id}:inc:${next}:${name}`);
          wins++;
        } catch (err) {
          if (!(err instanceof WrongExpectedSequenceError)) throw err;
          conflicts++;
        }
        await load();
      }
      return { wins, conflicts };
    }

    const [w1, w2] = await Promise.all([writer('w1', nc), writer('w2', nc2)]);
    const log = await store.read(id);
    const increments = log.flatMap((e) => e.events).filter((e) => e.type === 'ExecutionStatusChanged') as Array<{ step_id: string }>;
    // No lost or duplicated increment: exactly `rounds`, each value once, in order.
    expect(increments.map((e) => Number(e.step_id.split(':')[1]))).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
    expect(w1.wins + w2.wins).toBe(rounds);
    console.log(`two writers, ${rounds} rounds: w1 ${w1.wins} wins / ${w1.conflicts} conflicts, w2 ${w2.wins} wins / ${w2.conflicts} conflicts`);
  });

  it('reads a short log without a consumer and a longer one with a single consumer after the walk', async () => {
    // nats-server 2.9 keeps a deleted consumer's memory: a consumer per read of a finished run piled up.
    const consumerApi: string[] = [];
    const sub = nc.subscribe('$JS.API.CONSUMER.>', { callback: (_e, m) => void consumerApi.push(m.subject) });
    await nc.flush();
    const id = randomUUID();
    let seq = 0;
    const appended: number[] = [];
    for (let i = 1; i <= 5; i++) appended.push((seq = (await store.append(id, [status(i)], seq, `${id}:${i}`)).seq));
    expect((await store.read(id)).map((e) => e.seq)).toEqual(appended);
    expect((await store.read(id, appended[2])).map((e) => e.seq)).toEqual(appended.slice(2));
    await nc.flush();
    expect(consumerApi).toEqual([]);

    for (let i = 6; i <= 40; i++) appended.push((seq = (await store.append(id, [status(i)], seq, `${id}:${i}`)).seq));
    const long = await store.read(id);
    expect(long.map((e) => e.seq)).toEqual(appended);
    expect(long.map((e) => e.events)).toEqual(appended.map((_, i) => [status(i + 1)]));
    await nc.flush();
    expect(consumerApi.filter((s) => s.includes('.CREATE.')).length).toBe(1);

    // A page: at most `max` entries, from the walk alone when it is enough, else from the consumer.
    expect((await store.read(id, 1, 3)).map((e) => e.seq)).toEqual(appended.slice(0, 3));
    expect((await store.read(id, appended[4], 20)).map((e) => e.seq)).toEqual(appended.slice(4, 24));
    expect((await store.read(id, appended[30], 100)).map((e) => e.seq)).toEqual(appended.slice(30));
    await nc.flush();
    expect(consumerApi.filter((s) => s.includes('.CREATE.')).length).toBe(2);
    sub.unsubscribe();
    expect((await jetstreamManager(nc).then((jsm) => jsm.streams.info(streamNames(opts).executions))).state.consumer_count).toBe(0);
  });

  it('reads 10k entries of one execution', async () => {
    const id = randomUUID();
    const js = jetstream(nc);
    const total = 10_000;
    // Fill fast with many publishes in flight (append() awaits one at a time by design).
    const subject = `jetflow.exec.${id}.events`;
    const payload = new TextEncoder().encode(JSON.stringify([status(1)]));
    for (let i = 0; i < total; i += 1_000) {
      await Promise.all(Array.from({ length: 1_000 }, () => js.publish(subject, payload)));
    }
    const t0 = performance.now();
    let entries = await store.read(id);
    const ms = performance.now() - t0;
    const t2 = performance.now();
    entries = await store.read(id);
    const warmMs = performance.now() - t2;
    expect(entries.length).toBe(total);
    expect(entries.every((e, i) => i === 0 || e.seq > entries[i - 1].seq)).toBe(true);
    const t1 = performance.now();
    const tail = await store.read(id, entries[total - 100].seq);
    const tailMs = performance.now() - t1;
    expect(tail.length).toBe(100);
    console.log(`read of ${total} entries: ${ms.toFixed(1)} ms (again: ${warmMs.toFixed(1)} ms); last 100: ${tailMs.toFixed(1)} ms`);
  });
});
