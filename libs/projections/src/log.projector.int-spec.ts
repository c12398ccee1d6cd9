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

/** A read model that records which log entries it was given (a real table, idempotent like ours). */
class RecordingProjection implements LogProjection {
  readonly singleStatement = true;
  constructor(readonly checkpointName: string) {}
  async apply(manager: EntityManager, entries: readonly ProjectionEntry[]): Promise<void> {
    await manager.query(`INSERT INTO seen (projection, seq) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`, [this.checkpointName, entries.map((e) => e.seq)]);
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
});
