import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import type { DataSource } from 'typeorm';
import { SUBJECTS, type ExecutionEvent, type Scope } from '@jetflow/contracts';
import { createDataSource, runMigrations } from '@jetflow/persistence';
import { TestDatabase } from '../../../test/support/postgres';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import { ExecutionsProjector } from './executions.projector';
import { ExecutionsQuery } from './executions.query';
import { completed, started, statusChanged, stepStarted } from './testing/execution-events.fixture';

describe('ExecutionsProjector (NATS + Postgres)', () => {
  const scope: Scope = { organization_id: 'org-a', project_id: 'proj-a' };
  const otherScope: Scope = { organization_id: 'org-b', project_id: 'proj-a' };
  const wf1 = randomUUID();
  const wf2 = randomUUID();
  const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const streamName = `EXEC_${randomUUID().slice(0, 8)}`;

  let nats: TestNatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let db: TestDatabase;
  let ds: DataSource;
  const projectors: ExecutionsProjector[] = [];

  const t = (s: number) => new Date(Date.parse('2026-03-01T12:00:00.000Z') + s * 1000).toISOString();
  const append = (id: string, events: ExecutionEvent[]) => js.publish(SUBJECTS.executionEvents(id), JSON.stringify(events));
  const rows = () =>
    ds.query(
      `SELECT id, organization_id, project_id, workflow_id, workflow_version, status, status_seq, started_at, completed_at, updated_at, error_code, last_seq
       FROM executions ORDER BY id`,
    );
  const run = async (durableName?: string) => {
    const p = new ExecutionsProjector(nc, ds, { streamName, durableName, batch: 3 });
    projectors.push(p);
    await p.start();
    return p;
  };
  const checkpoint = async (name: string) => {
    const r: { seq: string }[] = await ds.query(`SELECT seq FROM projection_checkpoints WHERE name = $1`, [name]);
    return r.length ? Number(r[0]!.seq) : 0;
  };

  let lastSeq = 0;

  beforeAll(async () => {
    [nats, db] = await Promise.all([TestNatsServer.start(), TestDatabase.create()]);
    await runMigrations(db.url);
    ds = await createDataSource(db.url).initialize();
    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: streamName, subjects: [SUBJECTS.allExecutions], storage: StorageType.File });
    js = jetstream(nc);

    await append(a, [started({ execution_id: a, workflow_id: wf1, scope, at: t(0) }), stepStarted('trigger', t(0))]);
    await append(b, [started({ execution_id: b, workflow_id: wf1, scope, at: t(1) })]);
    await append(a, [statusChanged('waiting', t(2))]);
    await js.publish(SUBJECTS.executionDeltas(a), JSON.stringify([{ type: 'Delta', step_id: 'x', content: 'hi', at: t(2) }]));
    await append(c, [started({ execution_id: c, workflow_id: wf2, scope, at: t(3), version: 3 })]);
    await append(d, [started({ execution_id: d, workflow_id: wf2, scope: otherScope, at: t(4) })]);
    await append(b, [completed('failed', t(5), 'TOOL_ERROR')]);
    await js.publish(SUBJECTS.executionEvents(randomUUID()), 'not json');
    await append(a, [statusChanged('running', t(6))]);
    const ack = await append(a, [completed('completed', t(7))]);
    lastSeq = ack.seq;
  });

  afterAll(async () => {
    for (const p of projectors) await p.stop();
    await nc?.drain();
    await ds?.destroy();
    await Promise.all([nats?.stop(), db?.drop()]);
  });

  it('projects every execution, skipping deltas and junk, and checkpoints the last sequence', async () => {
    const p = await run();
    await eventually(async () => (await checkpoint('jetflow-projector-executions')) === lastSeq);
    await p.stop();

    const byId = new Map<string, Record<string, unknown>>((await rows()).map((r: Record<string, unknown>) => [r.id as string, r]));
    expect(byId.size).toBe(4);
    expect(byId.get(a)).toMatchObject({ status: 'completed', workflow_id: wf1, started_at: new Date(t(0)), completed_at: new Date(t(7)), updated_at: new Date(t(7)), error_code: null, last_seq: String(lastSeq) });
    expect(byId.get(b)).toMatchObject({ status: 'failed', completed_at: new Date(t(5)), error_code: 'TOOL_ERROR' });
    expect(byId.get(c)).toMatchObject({ status: 'running', workflow_id: wf2, workflow_version: 3, completed_at: null });
    expect(byId.get(d)).toMatchObject({ status: 'running', organization_id: 'org-b' });

    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(streamName, 'jetflow-projector-executions');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('picks up new entries live and resumes the durable after a restart', async () => {
    const p = await run();
    const e = randomUUID();
    await append(e, [started({ execution_id: e, workflow_id: wf1, scope, at: t(10) })]);
    await eventually(async () => (await ds.query(`SELECT status FROM executions WHERE id = $1`, [e]))[0]?.status === 'running');
    await p.stop();
    await append(e, [completed('cancelled', t(11))]);
    const again = await run();
    await eventually(async () => (await ds.query(`SELECT status FROM executions WHERE id = $1`, [e]))[0]?.status === 'cancelled');
    await again.stop();
  });

  it('replaying the whole stream (new durable, or a reset) gives identical rows', async () => {
    const before = await rows();
    const head = (await (await jetstreamManager(nc)).streams.info(streamName)).state.last_seq;

    const replay = await run('replay-1');
    await eventually(async () => (await checkpoint('replay-1')) === head);
    await replay.stop();
    expect(await rows()).toEqual(before);

    // Full reset: drop the read model and the consumer, rebuild from sequence 1.
    await ds.query(`TRUNCATE executions, projection_checkpoints`);
    await (await jetstreamManager(nc)).consumers.delete(streamName, 'jetflow-projector-executions');
    const rebuilt = await run();
    await eventually(async () => (await checkpoint('jetflow-projector-executions')) === head);
    await rebuilt.stop();
    expect(await rows()).toEqual(before);
  });

  it('two replicas sharing the durable converge to the same rows', async () => {
    const before = await rows();
    await ds.query(`TRUNCATE executions, projection_checkpoints`);
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(streamName, 'jetflow-projector-executions');
    const head = (await jsm.streams.info(streamName)).state.last_seq;
    const [r1, r2] = await Promise.all([run(), run()]);
    await eventually(async () => {
      const info = await jsm.consumers.info(streamName, 'jetflow-projector-executions');
      return info.num_pending === 0 && info.num_ack_pending === 0 && (await checkpoint('jetflow-projector-executions')) === head;
    });
    await Promise.all([r1.stop(), r2.stop()]);
    expect(await rows()).toEqual(before);
  });

  it('the query lists the projected rows by scope, workflow and status', async () => {
    const q = new ExecutionsQuery(ds);
    const page = await q.list(scope, {});
    expect(page.items.map((i) => i.id)).toEqual(expect.arrayContaining([a, b, c]));
    expect(page.items.map((i) => i.id)).not.toContain(d);
    expect((await q.list(scope, { workflow_id: wf2 })).items.map((i) => i.id)).toEqual([c]);
    expect((await q.list(scope, { status: 'failed' })).items).toEqual([
      { id: b, workflow_id: wf1, workflow_version: 1, status: 'failed', started_at: t(1), completed_at: t(5), updated_at: t(5) },
    ]);
    expect((await q.list(otherScope, {})).items.map((i) => i.id)).toEqual([d]);
  });
});
