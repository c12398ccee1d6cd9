import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import type { DataSource } from 'typeorm';
import { RpcClient, RpcServer } from '@jetflow/bus';
import { SUBJECTS, type CompleteStep, type ExecutionEvent, type Scope } from '@jetflow/contracts';
import { createDataSource, runMigrations } from '@jetflow/persistence';
import { toEntry, type ProjectionEntry } from '@jetflow/projections';
import { TestDatabase } from '../../../test/support/postgres';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import { approvalId, ApprovalsProjection, ApprovalsProjector, ApprovalsService, DecisionDelivery } from './index';

describe('approvals projection, decisions and delivery (NATS + Postgres)', () => {
  const scope: Scope = { organization_id: 'org-a', project_id: 'proj-a', user_id: 'alice' };
  const otherScope: Scope = { organization_id: 'org-b', project_id: 'proj-a', user_id: 'alice' };
  const wf1 = randomUUID();
  const wf2 = randomUUID();
  const [a, b, c, d, e, f, g] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const streamName = `EXEC_${randomUUID().slice(0, 8)}`;

  let nats: TestNatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let db: TestDatabase;
  let ds: DataSource;
  const projectors: ApprovalsProjector[] = [];

  const t = (s: number) => new Date(Date.parse('2026-03-01T12:00:00.000Z') + s * 1000).toISOString();
  const append = (id: string, events: ExecutionEvent[]) => js.publish(SUBJECTS.executionEvents(id), JSON.stringify(events));
  const started = (execution_id: string, workflow_id: string, s: Scope, at: string, withApproval = true): ExecutionEvent => ({
    type: 'ExecutionStarted',
    execution_id,
    workflow_id,
    workflow_version: 1,
    definition: {
      name: 'wf',
      steps: withApproval ? [{ step_id: 'approve', step_type: 'human_approval', parameters: { approvers: [] }, next_steps: [] }] : [{ step_id: 't', step_type: 'trigger', parameters: {}, next_steps: [] }],
    },
    scope: s,
    input: {},
    context: {},
    user_id: null,
    session_id: null,
    at,
  });
  const waiting = (step_id: string, at: string, o: { approvers?: string[]; expires_at?: string; iteration?: number[]; attempt?: number } = {}): ExecutionEvent => ({
    type: 'StepWaiting',
    step_id,
    ...(o.iteration ? { iteration: o.iteration } : {}),
    attempt: o.attempt ?? 1,
    approval: { approvers: o.approvers ?? [], message: `please approve ${step_id}`, expires_at: o.expires_at ?? null },
    at,
  });
  const decided = (decision: 'approved' | 'rejected', by: string, at: string) => ({ decision, comment: `${decision} by ${by}`, decided_by: by, decided_at: at });
  const rows = () => ds.query(`SELECT * FROM approvals ORDER BY id`);
  const execRows = () => ds.query(`SELECT * FROM approval_executions ORDER BY execution_id`);
  const run = async (durableName?: string) => {
    const p = new ApprovalsProjector(nc, ds, { streamName, durableName, batch: 3 });
    projectors.push(p);
    await p.start();
    return p;
  };
  const checkpoint = async (name: string) => {
    const r: { seq: string }[] = await ds.query(`SELECT seq FROM projection_checkpoints WHERE name = $1`, [name]);
    return r.length ? Number(r[0]!.seq) : 0;
  };
  const head = async () => (await (await jetstreamManager(nc)).streams.info(streamName)).state.last_seq;
  const projectAll = async (durable = 'jetflow-projector-approvals') => {
    const p = await run(durable);
    const last = await head();
    await eventually(async () => (await checkpoint(durable)) === last);
    await p.stop();
  };
  const reset = async () => {
    await ds.query(`TRUNCATE approvals, approval_executions, projection_checkpoints`);
    await (await jetstreamManager(nc)).consumers.delete(streamName, 'jetflow-projector-approvals').catch(() => undefined);
  };

  beforeAll(async () => {
    [nats, db] = await Promise.all([TestNatsServer.start(), TestDatabase.create()]);
    await runMigrations(db.url);
    ds = await createDataSource(db.url).initialize();
    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: streamName, subjects: [SUBJECTS.allExecutions], storage: StorageType.File });
    js = jetstream(nc);

    // a: approved; b: rejected without else_steps (the run fails); c: timed out; d: cancelled;
    // e: pending inside a loop iteration, other scope; f: two pending at once (parallel branches).
    await append(a, [started(a, wf1, scope, t(0)), waiting('ok', t(1), { approvers: ['alice'] })]);
    await append(b, [started(b, wf1, scope, t(2)), waiting('gate', t(2))]);
    await append(c, [started(c, wf2, scope, t(3)), waiting('gate', t(3), { expires_at: t(5) })]);
    await js.publish(SUBJECTS.executionDeltas(a), JSON.stringify([{ type: 'Delta', step_id: 'x', content: 'hi', at: t(3) }]));
    await append(a, [{ type: 'StepCompleted', step_id: 'ok', attempt: 1, output: decided('approved', 'alice', t(4)), branch: 'next', duration_ms: 3000, at: t(4) }]);
    await append(d, [started(d, wf2, scope, t(4)), waiting('gate', t(4))]);
    await append(b, [
      { type: 'StepFailed', step_id: 'gate', attempt: 1, error: { code: 'APPROVAL_REJECTED', message: 'approval rejected', details: [{ message: JSON.stringify(decided('rejected', 'bob', t(5))) }] }, will_retry: false, duration_ms: 1, at: t(5) },
      { type: 'ErrorRaised', step_id: 'gate', error: { code: 'APPROVAL_REJECTED', message: 'approval rejected' }, at: t(5) },
      { type: 'ExecutionCompleted', status: 'failed', error: { code: 'APPROVAL_REJECTED', message: 'approval rejected' }, at: t(5) },
    ]);
    await append(c, [
      { type: 'ErrorRaised', step_id: 'gate', error: { code: 'TIMEOUT', message: 'approval timed out' }, at: t(6) },
      { type: 'StepCancelled', step_id: 'gate', at: t(6) },
      { type: 'ExecutionCompleted', status: 'timeout', error: { code: 'TIMEOUT', message: 'approval timed out' }, at: t(6) },
    ]);
    await js.publish(SUBJECTS.executionEvents(randomUUID()), 'not json');
    await append(d, [{ type: 'StepCancelled', step_id: 'gate', at: t(7) }, { type: 'ExecutionCompleted', status: 'cancelled', at: t(7) }]);
    await append(e, [started(e, wf1, otherScope, t(8)), waiting('review', t(8), { iteration: [1] })]);
    await append(f, [started(f, wf2, scope, t(9)), waiting('left', t(9)), waiting('right', t(9))]);
    // g: a run with no human_approval step, whose output merely looks like a decision.
    await append(g, [started(g, wf1, scope, t(10), false)]);
    await append(g, [
      { type: 'StepCompleted', step_id: 't', attempt: 1, output: decided('approved', 'mallory', t(10)), branch: 'next', duration_ms: 1, at: t(10) },
      { type: 'ExecutionCompleted', status: 'completed', at: t(10) },
    ]);
  });

  afterAll(async () => {
    for (const p of projectors) await p.stop();
    await nc?.drain();
    await ds?.destroy();
    await Promise.all([nats?.stop(), db?.drop()]);
  });

  it('projects every transition of the log, skipping deltas and junk', async () => {
    await projectAll();
    const byId = new Map<string, Record<string, unknown>>((await rows()).map((r: Record<string, unknown>) => [r.id as string, r]));
    expect(byId.size).toBe(7);
    expect(byId.get(approvalId(a, 'ok', [], 1))).toMatchObject({
      status: 'approved',
      organization_id: 'org-a',
      workflow_id: wf1,
      approvers: ['alice'],
      message: 'please approve ok',
      comment: 'approved by alice',
      decided_by: 'alice',
      decided_at: new Date(t(4)),
      created_at: new Date(t(1)),
      delivered: true,
    });
    expect(byId.get(approvalId(b, 'gate', [], 1))).toMatchObject({ status: 'rejected', decided_by: 'bob', comment: 'rejected by bob', delivered: true });
    expect(byId.get(approvalId(c, 'gate', [], 1))).toMatchObject({ status: 'expired', expires_at: new Date(t(5)), updated_at: new Date(t(6)) });
    expect(byId.get(approvalId(d, 'gate', [], 1))).toMatchObject({ status: 'cancelled' });
    expect(byId.get(approvalId(e, 'review', [1], 1))).toMatchObject({ status: 'pending', organization_id: 'org-b', iteration: [1] });
    expect(byId.get(approvalId(f, 'left', [], 1))).toMatchObject({ status: 'pending' });
    expect(byId.get(approvalId(f, 'right', [], 1))).toMatchObject({ status: 'pending' });
    // A run without approval steps costs no statement and never gets a row.
    expect(await ds.query(`SELECT 1 FROM approval_executions WHERE execution_id = $1`, [g])).toEqual([]);
  });

  it('replaying the whole stream (new durable, or a reset) gives identical rows', async () => {
    const before = await rows();
    const beforeExec = await execRows();
    await projectAll('replay-1');
    expect(await rows()).toEqual(before);

    await reset();
    await projectAll();
    expect(await rows()).toEqual(before);
    expect(await execRows()).toEqual(beforeExec);

    // A second full replay over existing rows changes nothing either.
    await (await jetstreamManager(nc)).consumers.delete(streamName, 'jetflow-projector-approvals');
    await ds.query(`TRUNCATE projection_checkpoints`);
    await projectAll();
    expect(await rows()).toEqual(before);
  });

  it('gives the same rows whatever the order entries are applied in', async () => {
    const before = await rows();
    const beforeExec = await execRows();
    const entries: ProjectionEntry[] = [];
    const jsm = await jetstreamManager(nc);
    const last = await head();
    for (let seq = 1; seq <= last; seq++) entries.push(toEntry((await jsm.streams.getMessage(streamName, { seq }))!));
    const projection = new ApprovalsProjection();
    await ds.query(`TRUNCATE approvals, approval_executions, projection_checkpoints`);
    // Newest first, one entry per transaction: every resolution lands before what it resolves.
    for (const entry of [...entries].reverse()) await ds.transaction((m) => projection.apply(m, [entry]));
    expect(await rows()).toEqual(before);
    expect(await execRows()).toEqual(beforeExec);
  });

  describe('ApprovalsService', () => {
    const received: { execution_id: string; command: CompleteStep }[] = [];
    /** What the stand-in answers for a run that already ended (default: taken, running). */
    const endedRuns = new Map<string, string>();
    let executions: RpcServer | undefined;
    let delivery: DecisionDelivery;
    let service: ApprovalsService;
    const startExecutionsStandIn = async () => {
      executions = new RpcServer(nc, 'executions');
      executions.handle<{ execution_id: string; command: CompleteStep }, unknown>('command', async (r) => {
        received.push(r);
        const ended = endedRuns.get(r.execution_id);
        return ended ? { status: ended, seq: 3, taken: false } : { status: 'running', seq: 1, taken: true };
      });
      await nc.flush();
    };

    beforeAll(async () => {
      const client = new RpcClient(nc, { timeoutMs: 500 });
      delivery = new DecisionDelivery(ds, (execution_id, command) => client.request('executions', 'command', { execution_id, command }), { intervalMs: 100 });
      service = new ApprovalsService(ds, delivery);
    });
    afterAll(async () => {
      await delivery.stop();
      await executions?.close();
    });

    it('lists by scope, status, execution and workflow, newest first, paginated', async () => {
      const all = await service.list(scope, {});
      expect(all.items.map((i) => i.execution_id)).toEqual([f, f, d, c, b, a]);
      expect(all.next_cursor).toBeNull();
      expect((await service.list(scope, { status: 'pending' })).items.map((i) => i.step_id).sort()).toEqual(['left', 'right']);
      expect((await service.list(scope, { execution_id: a })).items).toEqual([
        {
          id: approvalId(a, 'ok', [], 1),
          execution_id: a,
          workflow_id: wf1,
          step_id: 'ok',
          status: 'approved',
          approvers: ['alice'],
          message: 'please approve ok',
          comment: 'approved by alice',
          decided_by: 'alice',
          decided_at: t(4),
          expires_at: null,
          created_at: t(1),
        },
      ]);
      expect((await service.list(scope, { workflow_id: wf2 })).items.map((i) => i.execution_id)).toEqual([f, f, d, c]);
      expect((await service.list(otherScope, {})).items.map((i) => i.execution_id)).toEqual([e]);
      const page1 = await service.list(scope, { limit: 4 });
      const page2 = await service.list(scope, { limit: 4, cursor: page1.next_cursor! });
      expect([...page1.items, ...page2.items].map((i) => i.id)).toEqual(all.items.map((i) => i.id));
      expect(page2.next_cursor).toBeNull();
      await expect(service.list(scope, { status: 'bogus' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    });

    it('404 outside the scope, 403 for a non-approver, 409 once decided', async () => {
      const gated = randomUUID();
      await append(gated, [started(gated, wf1, scope, t(20)), waiting('gate', t(20), { approvers: ['carol', 'Dave@Example.com'] })]);
      const id = approvalId(gated, 'gate', [], 1);
      await projectAll();
      await expect(service.decide(otherScope, id, { decision: 'approved' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(service.decide(scope, 'nope', { decision: 'approved' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(service.decide(scope, id, { decision: 'approved' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(service.decide(scope, id, { decision: 'maybe' }, { email: 'dave@example.com' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
      await startExecutionsStandIn();
      const view = await service.decide(scope, id, { decision: 'rejected', comment: 'no' }, { email: 'dave@example.com' });
      expect(view).toMatchObject({ status: 'rejected', comment: 'no', decided_by: 'alice' });
      expect(received.at(-1)).toMatchObject({ execution_id: gated, command: { type: 'CompleteStep', step_id: 'gate', attempt: 1, output: { decision: 'rejected', comment: 'no', decided_by: 'alice', decided_at: view.decided_at } } });
      expect((await ds.query(`SELECT delivered FROM approvals WHERE id = $1`, [id]))[0].delivered).toBe(true);
      await expect(service.decide({ ...scope, user_id: 'carol' }, id, { decision: 'approved' })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(service.decide(scope, approvalId(c, 'gate', [], 1), { decision: 'approved' })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(service.decide(scope, approvalId(d, 'gate', [], 1), { decision: 'approved' })).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it('exactly one of many racing decisions wins', async () => {
      const id = approvalId(f, 'left', [], 1);
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => service.decide({ ...scope, user_id: `u${i}` }, id, { decision: i % 2 ? 'approved' : 'rejected' })));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'CONFLICT' });
      expect(received.filter((r) => r.execution_id === f && r.command.step_id === 'left')).toHaveLength(1);
    });

    it('a decision made while the executions service is down is committed and delivered later', async () => {
      await executions!.close();
      executions = undefined;
      const id = approvalId(f, 'right', [], 1);
      const view = await service.decide(scope, id, { decision: 'approved' });
      expect(view.status).toBe('approved');
      expect((await ds.query(`SELECT delivered FROM approvals WHERE id = $1`, [id]))[0].delivered).toBe(false);
      delivery.start();
      await startExecutionsStandIn();
      await eventually(async () => (await ds.query(`SELECT delivered FROM approvals WHERE id = $1`, [id]))[0].delivered === true);
      expect(received.filter((r) => r.execution_id === f && r.command.step_id === 'right').at(-1)?.command.output).toMatchObject({ decision: 'approved', decided_by: 'alice' });
    });

    it('a decision for a run that ended before the read model knew is a 409, and the approval reads cancelled / expired', async () => {
      for (const [runStatus, approvalStatus] of [
        ['cancelled', 'cancelled'],
        ['timeout', 'expired'],
      ] as const) {
        const g = randomUUID();
        await append(g, [started(g, wf1, scope, t(40)), waiting('gate', t(40))]);
        await projectAll();
        // The run ends in the log, but the approvals read model has not seen it yet.
        endedRuns.set(g, runStatus);
        const id = approvalId(g, 'gate', [], 1);
        await expect(service.decide(scope, id, { decision: 'approved' })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already ended/) });
        expect(received.filter((r) => r.execution_id === g)).toHaveLength(1);
        expect((await ds.query(`SELECT status, delivered FROM approvals WHERE id = $1`, [id]))[0]).toEqual({ status: approvalStatus, delivered: true });
        expect((await service.list(scope, { execution_id: g })).items[0]?.status).toBe(approvalStatus);
      }
    });

    it('the log has the last word over a decision the actor never took', async () => {
      // The row says approved (decided via the API), then the log shows the run ending: the
      // decision never took effect, and the projection says so.
      const g = randomUUID();
      await append(g, [started(g, wf1, scope, t(30)), waiting('gate', t(30))]);
      await projectAll();
      await ds.query(`UPDATE approvals SET status = 'approved', decided_by = 'x', decided_at = $2 WHERE id = $1`, [approvalId(g, 'gate', [], 1), new Date(t(31))]);
      await append(g, [{ type: 'StepCancelled', step_id: 'gate', at: t(32) }, { type: 'ExecutionCompleted', status: 'cancelled', at: t(32) }]);
      await projectAll();
      expect((await ds.query(`SELECT status, delivered FROM approvals WHERE id = $1`, [approvalId(g, 'gate', [], 1)]))[0]).toEqual({ status: 'cancelled', delivered: true });
    });
  });

  it('a NUL anywhere in an approval (templated message, approvers, decision) is replaced, not a stuck projection', async () => {
    const nulScope: Scope = { organization_id: 'org-nul', project_id: 'proj-nul', user_id: 'alice' };
    const h = randomUUID();
    await append(h, [
      started(h, wf1, nulScope, t(40)),
      { ...waiting('gate', t(40)), approval: { approvers: ['al\u0000ice', 'bob'], message: 'note: \u0000', expires_at: null } } as ExecutionEvent,
    ]);
    await append(h, [{ type: 'StepCompleted', step_id: 'gate', attempt: 1, output: { ...decided('approved', 'b\u0000ob', t(41)), comment: 'ok\u0000' }, branch: 'next', duration_ms: 1, at: t(41) }]);
    await projectAll();
    const [row] = await ds.query(`SELECT organization_id, approvers, message, status, comment, decided_by FROM approvals WHERE id = $1`, [approvalId(h, 'gate', [], 1)]);
    expect(row).toEqual({ organization_id: 'org-nul', approvers: ['al\ufffdice', 'bob'], message: 'note: \ufffd', status: 'approved', comment: 'ok\ufffd', decided_by: 'b\ufffdob' });
  });
});
