import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import type { DataSource, EntityManager } from 'typeorm';
import { SUBJECTS } from '@jetflow/contracts';
import { createDataSource, runMigrations } from '@jetflow/persistence';
import { TestDatabase } from '../../../test/support/postgres';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import type { ProjectionEntry } from './execution-patch';
import { LogProjector, type LogProjection } from './log.projector';
import { checkpointUpsert, readCheckpoint } from './projection-checkpoint';

/** A read model that records which log entries it was given (a real table, idempotent like ours). */
class RecordingProjection implements LogProjection {
  readonly singleStatement = true;
  constructor(readonly checkpointName: string) {}
  async apply(manager: EntityManager, entries: readonly ProjectionEntry[]): Promise<void> {
    await manager.query(`INSERT INTO seen (projection, seq) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`, [this.checkpointName, entries.map((e) => e.seq)]);
  }
}

/**
 * Writes each entry's status into a text column (PostgreSQL refuses a NUL there, as in our read
 * models), rows and checkpoint in one transaction. `transientAt`: the entry whose statement fails
 * with a serialization failure (an error that says nothing about the entry).
 */
class NoteProjection implements LogProjection {
  transientAt?: number;
  constructor(readonly checkpointName: string) {}
  async apply(manager: EntityManager, entries: readonly ProjectionEntry[]): Promise<void> {
    for (const e of entries) {
      if (e.seq === this.transientAt) await manager.query(`DO $$ BEGIN RAISE EXCEPTION 'try again' USING ERRCODE = 'serialization_failure'; END $$`);
      const status = (e.events[0] as { status?: unknown } | undefined)?.status;
      if (typeof status === 'string') await manager.query(`INSERT INTO notes (projection, seq, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [this.checkpointName, e.seq, status]);
    }
    await manager.query(checkpointUpsert(), [this.checkpointName, Math.max(...entries.map((e) => e.seq)), new Date()]);
  }
}

describe('LogProjector (NATS + Postgres)', () => {
  const streamName = `LOG_${randomUUID().slice(0, 8)}`;
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let db: TestDatabase;
  let ds: DataSource;
  const running: LogProjector[] = [];

  const publish = async (n: number) => {
    let seq = 0;
    for (let i = 0; i < n; i++) seq = (await js.publish(SUBJECTS.executionEvents(randomUUID()), JSON.stringify([{ type: 'ExecutionStatusChanged', status: 'running', at: new Date().toISOString() }]))).seq;
    return seq;
  };
  const seen = async (projection: string): Promise<number[]> =>
    (await ds.query(`SELECT seq FROM seen WHERE projection = $1 ORDER BY seq`, [projection])).map((r: { seq: string }) => Number(r.seq));
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const project = async (names: string[], durableName: string) => {
    const p = new LogProjector(nc, ds, names.map((n) => new RecordingProjection(n)), { streamName, durableName, lingerMs: 0 });
    running.push(p);
    await p.start();
    return p;
  };
  const consumer = async (name: string) => (await jetstreamManager(nc)).consumers.info(streamName, name);

  beforeAll(async () => {
    [nats, db] = await Promise.all([TestNatsServer.start(), TestDatabase.create()]);
    await runMigrations(db.url);
    ds = await createDataSource(db.url).initialize();
    await ds.query(`CREATE TABLE seen (projection text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (projection, seq))`);
    await ds.query(`CREATE TABLE notes (projection text NOT NULL, seq bigint NOT NULL, note text NOT NULL, PRIMARY KEY (projection, seq))`);
    nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.add({ name: streamName, subjects: [SUBJECTS.allExecutions], storage: StorageType.File });
    js = jetstream(nc);
  });

  afterAll(async () => {
    for (const p of running) await p.stop();
    await nc?.drain();
    await ds?.destroy();
    await Promise.all([nats?.stop(), db?.drop()]);
  });

  it('feeds several projections from one consumer: each entry delivered and acked once, applied to each', async () => {
    const head = await publish(10);
    const p = await project(['one', 'two'], 'both');
    await eventually(async () => (await consumer('both')).num_ack_pending === 0 && (await seen('two')).length === 10);
    await p.stop();
    expect(await seen('one')).toEqual(range(1, head));
    expect(await seen('two')).toEqual(range(1, head));
    const info = await consumer('both');
    expect(info.delivered.consumer_seq).toBe(10);
    expect(info.ack_floor.stream_seq).toBe(head);
    expect(info.config.description).toBe('jetflow projections: one,two');
  });

  it('a new durable starts where every projection it feeds is complete, so a change of layout never skips an entry', async () => {
    await ds.query(`TRUNCATE seen`);
    const jsm = await jetstreamManager(nc);
    for (const c of ['both']) await jsm.consumers.delete(streamName, c);
    // Split layout: "a" has its own durable, caught up; "b" has one that acked only part of the log.
    const a = await project(['a'], 'own-a');
    const upTo = (await jsm.streams.info(streamName)).state.last_seq;
    await eventually(async () => (await consumer('own-a')).ack_floor.stream_seq === upTo);
    await a.stop();
    await jsm.consumers.add(streamName, { durable_name: 'own-b', description: 'jetflow projections: b', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: SUBJECTS.allExecutionEvents });
    const partial = await (await js.consumers.get(streamName, 'own-b')).fetch({ max_messages: 4, expires: 2_000 });
    for await (const m of partial) {
      await new RecordingProjection('b').apply(ds.manager, [{ seq: m.seq, executionId: '', events: [] }]);
      m.ack();
    }
    await eventually(async () => (await consumer('own-b')).ack_floor.stream_seq === 4);
    const more = await publish(3);

    // One process now hosts both: the shared durable starts at b's floor, the lower of the two.
    const shared = await project(['a', 'b'], 'shared');
    expect((await consumer('shared')).config).toMatchObject({ deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 5 });
    await eventually(async () => (await consumer('shared')).ack_floor.stream_seq === more);
    expect(await seen('a')).toEqual(range(1, more));
    expect(await seen('b')).toEqual(range(1, more));

    // Back to the split layout with "a"'s durable gone: it is made again from the shared floor.
    await jsm.consumers.delete(streamName, 'own-a');
    const last = await publish(2);
    await eventually(async () => (await consumer('shared')).ack_floor.stream_seq === last);
    await shared.stop();
    await project(['a'], 'own-a');
    expect((await consumer('own-a')).config).toMatchObject({ deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: last + 1 });
    expect(await seen('a')).toEqual(range(1, last));

    // A projection no durable ever fed starts from the beginning.
    await project(['c'], 'own-c');
    expect((await consumer('own-c')).config.deliver_policy).toBe(DeliverPolicy.All);
    await eventually(async () => (await seen('c')).length === last);
  });

  describe('an entry that fails every batch it is in', () => {
    const skippedLog: object[] = [];
    const notes = new NoteProjection('notes');
    const notesSeen = async (): Promise<number[]> =>
      (await ds.query(`SELECT seq FROM notes WHERE projection = 'notes' ORDER BY seq`)).map((r: { seq: string }) => Number(r.seq));
    const poisoned = async () => {
      const p = new LogProjector(nc, ds, [new RecordingProjection('rec'), notes], {
        streamName,
        durableName: 'poisoned',
        lingerMs: 0,
        retryDelayMs: 50,
        isolateAfter: 3,
        logger: { error: (obj) => skippedLog.push(obj) },
      });
      running.push(p);
      await p.start();
      return p;
    };

    it('is skipped by the projection that cannot apply it (checkpoint moved, reported without content); nothing else is held back', async () => {
      await publish(3);
      const poisonId = randomUUID();
      const poison = (await js.publish(SUBJECTS.executionEvents(poisonId), JSON.stringify([{ type: 'ExecutionStatusChanged', status: 'secret\u0000', at: new Date().toISOString() }]))).seq;
      const last = await publish(3);
      const p = await poisoned();
      await eventually(async () => (await consumer('poisoned')).ack_floor.stream_seq === last && (await consumer('poisoned')).num_ack_pending === 0);
      expect(await seen('rec')).toEqual(range(1, last));
      expect(await notesSeen()).toEqual(range(1, last).filter((seq) => seq !== poison));
      expect(await readCheckpoint(ds.manager, 'notes')).toBe(last);
      expect(skippedLog).toEqual([{ durable: 'poisoned', projection: 'notes', execution_id: poisonId, seq: poison, error_code: '22021', error_name: 'QueryFailedError' }]);
      expect(JSON.stringify(skippedLog)).not.toContain('secret');
      expect(p.stats()).toMatchObject({ skipped: 1 });
      expect(p.stats().failures).toBeGreaterThanOrEqual(3);
      await p.stop();
    });

    it('an entry failing for a reason that is not its own (serialization failure) is retried, never skipped', async () => {
      const p = await poisoned();
      const seq = (await (await jetstreamManager(nc)).streams.info(streamName)).state.last_seq + 1;
      notes.transientAt = seq;
      expect(await publish(1)).toBe(seq);
      const next = await publish(1);
      // Several rounds, some of them one entry at a time (isolateAfter 3): the entry stays unacked.
      await eventually(async () => p.stats().failures >= 6);
      expect(await notesSeen()).not.toContain(seq);
      expect(p.stats().skipped).toBe(0);
      expect(skippedLog).toHaveLength(1);
      expect((await consumer('poisoned')).ack_floor.stream_seq).toBeLessThan(seq);

      notes.transientAt = undefined;
      await eventually(async () => (await consumer('poisoned')).ack_floor.stream_seq === next);
      expect(await notesSeen()).toEqual(expect.arrayContaining([seq, next]));
      expect(p.stats().skipped).toBe(0);
      await p.stop();
    });
  });
});
