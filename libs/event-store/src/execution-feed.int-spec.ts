import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@jetflow/bus';
import type { ExecutionEvent, StreamEvent } from '@jetflow/contracts';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import { EventStore, ExecutionFeed, ensureStreams, streamNames, type ExecutionFeedOptions, type LogFollower, type StoredEntry, type StreamOptions } from './index';

const AT = '2025-01-01T00:00:00.000Z';
const status = (n: number): ExecutionEvent => ({ type: 'ExecutionStatusChanged', status: 'running', step_id: `s${n}`, at: AT });
const delta = (n: number): StreamEvent => ({ type: 'Delta', step_id: 'agent', content: `d${n}`, at: AT });
const completed = (): ExecutionEvent => ({ type: 'ExecutionCompleted', status: 'completed', at: AT });
const isEnd = (e: StoredEntry) => e.events.some((ev) => ev.type === 'ExecutionCompleted');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads a follower until the execution's `ExecutionCompleted` entry (optionally slowly), then stops it. */
async function collect(follower: LogFollower, { delayMs = 0, onEntry }: { delayMs?: number; onEntry?: (e: StoredEntry) => void } = {}): Promise<StoredEntry[]> {
  const seen: StoredEntry[] = [];
  try {
    for await (const e of follower.entries) {
      seen.push(e);
      onEntry?.(e);
      if (isEnd(e)) break;
      if (delayMs) await sleep(delayMs);
    }
  } finally {
    await follower.stop();
  }
  return seen;
}

/** What a reader of the entry must see: seq and the first event's marker. */
const key = (e: StoredEntry) => `${e.seq}:${e.kind}:${(e.events[0] as { step_id?: string; content?: string }).content ?? (e.events[0] as { step_id?: string }).step_id ?? e.events[0]!.type}`;

/** Appends `n` entries to one execution (events with CAS, every third a delta), then `ExecutionCompleted`; returns their keys in order. */
async function writeRun(store: EventStore, id: string, n: number, { pauseMs = 0, startAfter = 0 }: { pauseMs?: number; startAfter?: number } = {}): Promise<string[]> {
  const keys: string[] = [];
  let last = startAfter;
  for (let i = 1; i <= n; i++) {
    if (i % 3 === 0) {
      const { seq } = await store.appendStream(id, [delta(i)]);
      keys.push(`${seq}:deltas:d${i}`);
    } else {
      const { seq } = await store.append(id, [status(i)], last, `${id}:${i}`);
      last = seq;
      keys.push(`${seq}:events:s${i}`);
    }
    if (pauseMs) await sleep(pauseMs);
  }
  const { seq } = await store.append(id, [completed()], last, `${id}:end`);
  keys.push(`${seq}:events:ExecutionCompleted`);
  return keys;
}

const fromSeqOf = (k: string) => Number(k.split(':')[0]);

describe('ExecutionFeed (one shared live subscription) against nats-server', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let writerNc: NatsConnection;
  let store: EventStore;
  const feeds: ExecutionFeed[] = [];
  const opts: StreamOptions = { prefix: 'FEED_' };
  const warnings: string[] = [];
  const newFeed = (extra: Partial<ExecutionFeedOptions> = {}) => {
    const feed = new ExecutionFeed(nc, { ...opts, logger: { warn: (_o, msg) => void warnings.push(msg) }, ...extra });
    feeds.push(feed);
    return feed;
  };
  const consumerCount = async () => (await (await jetstreamManager(nc)).streams.info(streamNames(opts).executions)).state.consumer_count;

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'feed-test' });
    writerNc = await connectNats({ servers: server.url, name: 'feed-test-writer' });
    await ensureStreams(nc, opts);
    store = new EventStore(writerNc, opts);
  });

  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((f) => f.stop()));
  });

  afterAll(async () => {
    await writerNc?.close();
    await nc?.close();
    await server?.stop();
  });

  it('many followers on many executions each get exactly their entries, in order, from one consumer', async () => {
    const feed = newFeed();
    const ids = Array.from({ length: 40 }, () => randomUUID());
    // Three followers per execution registered before anything is written ...
    const early = ids.map((id) => Array.from({ length: 3 }, () => collect(feed.follow(id))));
    await eventually(() => feed.stats().running);
    // ... while all executions are written at once, interleaved in the stream.
    const writing = ids.map((id) => writeRun(store, id, 12));
    // ... and two more per execution joining while the writes go on (history + live).
    await sleep(20);
    const late = ids.map((id) => Array.from({ length: 2 }, () => collect(feed.follow(id))));
    const expected = await Promise.all(writing);
    expect(await consumerCount()).toBe(1);
    const got = await Promise.all([...early, ...late].map((group) => Promise.all(group)));
    for (const [i, id] of ids.entries()) {
      for (const seen of [...got[i]!, ...got[ids.length + i]!]) expect([id, seen.map(key)]).toEqual([id, expected[i]]);
    }
    expect(feed.stats().listeners).toBe(0);
  });

  // `replicas` only picks how history is read here (the test stream has one replica either way).
  it.each([
    ['direct gets (one replica)', 1],
    ['stream-leader message gets (replicated stream)', 3],
  ])('a follower joining mid-stream (short or long history, any start) has no gap and no duplicate: history by %s', async (_how, replicas) => {
    const feed = newFeed({ replicas });
    const id = randomUUID();
    // Keep the feed positioned before the run starts, with another execution's listener.
    const keepAlive = feed.follow(randomUUID());
    const it0 = keepAlive.entries[Symbol.asyncIterator]();
    void it0.next();
    await eventually(() => feed.stats().running);

    const seenSoFar: string[] = [];
    const writing = writeRun(store, id, 300, { pauseMs: 1 });
    const joins: Promise<{ from: number; seen: string[] }>[] = [];
    const watcher = collect(feed.follow(id), { onEntry: (e) => seenSoFar.push(key(e)) });
    // Join at many points: from 1 (history grows from a few entries to hundreds: walk and consumer
    // paths) and from the middle (Last-Event-ID style), while entries are appended concurrently.
    for (let k = 0; k < 12; k++) {
      await eventually(() => seenSoFar.length >= k * 20, { timeoutMs: 30_000, intervalMs: 5 });
      const from = k % 2 === 0 || seenSoFar.length === 0 ? 1 : fromSeqOf(seenSoFar[Math.floor(seenSoFar.length / 2)]!);
      joins.push(collect(feed.follow(id, from)).then((s) => ({ from, seen: s.map(key) })));
    }
    const expected = await writing;
    expect((await watcher).map(key)).toEqual(expected);
    for (const { from, seen } of await Promise.all(joins)) {
      expect([from, seen]).toEqual([from, expected.filter((k) => fromSeqOf(k) >= from)]);
    }
    expect(feed.stats()).toMatchObject({ gaps: 0, overflows: 0 });
    // Joining after the end reads the whole log (> the walk limit) and stops at the end.
    expect((await collect(feed.follow(id))).map(key)).toEqual(expected);
    expect((await collect(feed.follow(id, fromSeqOf(expected.at(-2)!)))).map(key)).toEqual(expected.slice(-2));
    await keepAlive.stop();
  });

  it('serves the history of an execution it saw start from memory (no log read), and reads the log for one it did not', async () => {
    const feed = newFeed();
    const started = (id: string): ExecutionEvent =>
      ({ type: 'ExecutionStarted', execution_id: id, workflow_id: 'w', workflow_version: 1, definition: { name: 'w', steps: [] }, scope: { organization_id: 'o', project_id: 'p' }, input: {}, context: {}, user_id: null, session_id: null, at: AT }) as ExecutionEvent;
    const before = randomUUID();
    const beforeStart = await store.append(before, [started(before)], 0, `${before}:start`);
    const beforeKeys = [`${beforeStart.seq}:events:ExecutionStarted`, ...(await writeRun(store, before, 5, { startAfter: beforeStart.seq }))];

    const keepAlive = feed.follow(randomUUID());
    void keepAlive.entries[Symbol.asyncIterator]().next();
    // Positioned (its start sequence fixed) before the run below starts, so it sees that start.
    // `running` alone is not enough: the run exists before it has read the stream's last sequence.
    await eventually(() => feed.position >= beforeStart.seq);
    const id = randomUUID();
    const first = await store.append(id, [started(id)], 0, `${id}:start`);
    const keys = [`${first.seq}:events:ExecutionStarted`, ...(await writeRun(store, id, 20, { startAfter: first.seq }))];
    await eventually(() => feed.position >= fromSeqOf(keys.at(-1)!));

    const reads = feed.stats();
    expect((await collect(feed.follow(id))).map(key)).toEqual(keys);
    expect((await collect(feed.follow(id, fromSeqOf(keys[7]!)))).map(key)).toEqual(keys.slice(7));
    expect(feed.stats()).toMatchObject({ recentReads: reads.recentReads + 2, logReads: reads.logReads });
    // Started before the feed ran: its history comes from the log.
    expect((await collect(feed.follow(before))).map(key)).toEqual(beforeKeys);
    expect(feed.stats().logReads).toBe(reads.logReads + 1);
    await keepAlive.stop();
  });

  it('a slow reader overflows its buffer and reads the log again: still every entry once, in order', async () => {
    const feed = newFeed({ followerBufferLimit: 4 });
    const id = randomUUID();
    const slow = collect(feed.follow(id), { delayMs: 3 });
    const fast = collect(feed.follow(id));
    const expected = await writeRun(store, id, 150);
    expect((await fast).map(key)).toEqual(expected);
    expect((await slow).map(key)).toEqual(expected);
    expect(feed.stats().overflows).toBeGreaterThan(0);
  });

  it('after a gap signal every follower re-reads its position from the log, losing nothing', async () => {
    const feed = newFeed();
    const id = randomUUID();
    const followers = [collect(feed.follow(id)), collect(feed.follow(id), { delayMs: 1 })];
    const writing = writeRun(store, id, 60, { pauseMs: 1 });
    for (let i = 0; i < 5; i++) {
      await sleep(15);
      feed.signalGap();
    }
    const expected = await writing;
    for (const seen of await Promise.all(followers)) expect(seen.map(key)).toEqual(expected);
  });

  it('deletes its consumer when idle and when stopped; stop() ends its followers', async () => {
    const feed = newFeed({ idleStopMs: 100 });
    const id = randomUUID();
    const before = await consumerCount();
    expect(before).toBe(0);
    const f = feed.follow(id);
    const it = f.entries[Symbol.asyncIterator]();
    const first = it.next();
    await eventually(async () => (await consumerCount()) === before + 1);
    await store.append(id, [status(1)], 0, `${id}:1`);
    expect((await first).value).toMatchObject({ events: [{ step_id: 's1' }] });
    await f.stop();
    await eventually(async () => (await consumerCount()) === before);
    expect(feed.stats().running).toBe(false);

    // It starts again for the next follower, from the log's end (the history read covers the rest).
    const again = feed.follow(id);
    const it2 = again.entries[Symbol.asyncIterator]();
    expect((await it2.next()).value).toMatchObject({ seq: expect.any(Number), events: [{ step_id: 's1' }] });
    const pending = it2.next();
    await feed.stop();
    expect(await pending).toEqual({ done: true, value: undefined });
    await eventually(async () => (await consumerCount()) === before);
  });

  it('survives a nats-server restart while streaming: no entry lost or repeated, the consumer resumes from its last sequence', async () => {
    const feed = newFeed();
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const firstSeqs: number[] = [];
    for (const id of ids) firstSeqs.push((await store.append(id, [status(1)], 0, `${id}:1`)).seq);
    const got = ids.map(() => [] as StoredEntry[]);
    const done = ids.map((id, i) => collect(feed.follow(id), { onEntry: (e) => got[i]!.push(e) }));
    await eventually(() => got.every((g) => g.length === 1));
    const warningsBefore = warnings.length;

    await server.kill();
    await server.restart();
    // Appends after the restart (once JetStream is back), on every execution, while followers wait.
    const last = [...firstSeqs];
    for (let round = 2; round <= 4; round++) {
      for (const [i, id] of ids.entries()) {
        last[i] = (await eventually(() => store.append(id, [status(round)], last[i]!, `${id}:${round}`), { timeoutMs: 20_000, intervalMs: 200 })).seq;
      }
    }
    // A follower joining after the restart gets everything too.
    const lateJoin = collect(feed.follow(ids[0]!));
    const t0 = Date.now();
    await eventually(() => got.every((g) => g.length === 4), { timeoutMs: 45_000, intervalMs: 100 });
    console.log(`feed followers caught up ${Date.now() - t0} ms after the restart`);
    for (const [i, id] of ids.entries()) await store.append(id, [completed()], last[i]!, `${id}:end`);
    const all = await Promise.all(done);
    for (const [i, seen] of all.entries()) {
      expect(seen.map((e) => e.events[0]!.type === 'ExecutionCompleted' ? 'end' : (e.events[0] as { step_id: string }).step_id)).toEqual(['s1', 's2', 's3', 's4', 'end']);
      const seqs = seen.map((e) => e.seq);
      expect(seqs[0]).toBe(firstSeqs[i]);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    }
    expect((await lateJoin).map((e) => e.seq)).toEqual(all[0]!.map((e) => e.seq));
    // The ordered consumer was re-created from its cursor: the feed never saw a jump.
    expect(warnings.slice(warningsBefore).filter((w) => w.includes('skipped'))).toEqual([]);
  }, 90_000);
});
