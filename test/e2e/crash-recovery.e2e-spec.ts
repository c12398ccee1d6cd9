import { eventually } from '../support/eventually';
import { http } from '../support/http-client';
import { freePort, JetflowProcess } from '../support/jetflow-system';
import { TestNatsServer } from '../support/nats-server';
import { TestDatabase } from '../support/postgres';

/**
 * Crash recovery with real processes: the whole system runs as one child process (the built
 * dist/ entry) on its own nats-server and database. Runs are parked in a durable `delay`, then
 * either the Jetflow process is SIGKILLed and replaced, or nats-server itself is SIGKILLed and
 * restarted on the same file store. Every run must finish, and finish exactly once.
 */

const RUNS = 20;
const DELAY_SECONDS = 3;

const WORKFLOW = {
  name: 'crash-recovery',
  description: 'trigger -> transform -> delay -> tool -> transform',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['prepare'] },
    { step_id: 'prepare', step_type: 'data_transform', parameters: { mapping: { n: '{{input.n}}' } }, next_steps: ['wait'] },
    { step_id: 'wait', step_type: 'delay', parameters: { seconds: DELAY_SECONDS }, next_steps: ['tool'] },
    { step_id: 'tool', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { n: '{{steps.prepare.output.n}}' } }, next_steps: ['finish'] },
    { step_id: 'finish', step_type: 'data_transform', parameters: { mapping: { n: '{{steps.tool.output.n}}', done: true } }, next_steps: [] },
  ],
};
const STEP_IDS = WORKFLOW.steps.map((s) => s.step_id);

interface Env {
  nats: TestNatsServer;
  db: TestDatabase;
  env: Record<string, string>;
  baseUrl: string;
}

async function setUp(): Promise<Env> {
  const nats = await TestNatsServer.start();
  const db = await TestDatabase.create('jf_e2e_crash');
  const port = await freePort();
  const env = { NATS_URL: nats.url, DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  return { nats, db, env, baseUrl: `http://127.0.0.1:${port}` };
}

async function createWorkflow(baseUrl: string): Promise<string> {
  const wf = await http(baseUrl, 'POST', '/api/workflows', WORKFLOW);
  expect(wf.status).toBe(201);
  return wf.body.id as string;
}

async function startRuns(baseUrl: string, workflowId: string): Promise<string[]> {
  const started = await Promise.all(
    Array.from({ length: RUNS }, (_, n) => http(baseUrl, 'POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'api', n } })),
  );
  for (const r of started) expect(r.status).toBe(202);
  return started.map((r) => r.body.execution_id as string);
}

/** Polls GET /executions/{id} until every run has its `wait` step running (timer armed, not fired). */
async function allInDelay(baseUrl: string, ids: readonly string[]): Promise<void> {
  await eventually(
    async () => {
      const views = await Promise.all(ids.map((id) => http(baseUrl, 'GET', `/api/executions/${id}`)));
      for (const v of views) {
        expect(v.status).toBe(200);
        expect(v.body.status).toBe('running');
        const wait = v.body.steps.find((s: { step_id: string }) => s.step_id === 'wait');
        expect(wait?.status).toBe('running');
      }
      return true;
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
}

/** Every run completes, its raw log holds each step's StepCompleted once and one ExecutionCompleted. */
async function assertCompletedExactlyOnce(
  baseUrl: string,
  workflowId: string,
  ids: readonly string[],
  { timeoutMs, readModelTimeoutMs }: { timeoutMs: number; readModelTimeoutMs: number },
): Promise<void> {
  await eventually(
    async () => {
      const views = await Promise.all(ids.map((id) => http(baseUrl, 'GET', `/api/executions/${id}`)));
      const notDone = views.filter((v) => v.body?.status !== 'completed').map((v) => `${v.body?.execution_id ?? '?'}:${v.body?.status ?? v.status}`);
      if (notDone.length) throw new Error(`not completed yet: ${notDone.join(', ')}`);
      return true;
    },
    { timeoutMs, intervalMs: 200 },
  );

  for (const [n, id] of ids.entries()) {
    const view = await http(baseUrl, 'GET', `/api/executions/${id}`);
    expect(view.body).toMatchObject({ status: 'completed', result: { n, done: true } });
    const log = await http(baseUrl, 'GET', `/api/executions/${id}/events`);
    expect(log.status).toBe(200);
    expect(log.body.next_seq).toBeNull();
    const events: { type: string; step_id?: string }[] = log.body.items;
    const completedSteps = events.filter((e) => e.type === 'StepCompleted').map((e) => e.step_id!);
    expect([...completedSteps].sort()).toEqual([...STEP_IDS].sort());
    expect(events.filter((e) => e.type === 'ExecutionCompleted')).toHaveLength(1);
    // Nothing after the end: a late duplicate result or timer must not add to a finished log.
    expect(events.at(-1)!.type).toBe('ExecutionCompleted');
    // The delay ran once: one timer armed for it.
    expect(events.filter((e) => e.type === 'TimerScheduled')).toHaveLength(1);
  }

  await eventually(
    async () => {
      const list = await http(baseUrl, 'GET', `/api/executions?workflow_id=${workflowId}&limit=500`);
      expect(list.status).toBe(200);
      const byId = new Map<string, string>(list.body.items.map((i: { id: string; status: string }) => [i.id, i.status]));
      for (const id of ids) expect(byId.get(id)).toBe('completed');
      return true;
    },
    { timeoutMs: readModelTimeoutMs, intervalMs: 250 },
  );
}

describe('crash recovery (one Jetflow OS process, real nats-server and PostgreSQL)', () => {
  beforeAll(() => JetflowProcess.assertBuilt());

  describe('the Jetflow process is SIGKILLed while runs sit in a delay', () => {
    let sys: Env;
    const procs: JetflowProcess[] = [];
    beforeAll(async () => {
      sys = await setUp();
    });
    afterAll(async () => {
      for (const p of procs) await p.kill();
      await sys?.nats.stop();
      await sys?.db.drop();
    });

    it('a new process finishes every run exactly once', async () => {
      const first = new JetflowProcess(sys.env, 'all');
      procs.push(first);
      await first.start();
      const workflowId = await createWorkflow(sys.baseUrl);
      const ids = await startRuns(sys.baseUrl, workflowId);
      await allInDelay(sys.baseUrl, ids);

      await first.kill('SIGKILL');

      const second = new JetflowProcess(sys.env, 'all');
      procs.push(second);
      await second.start();
      // Log entries the dead process's projector had received but not yet committed come back only
      // after the projector consumer's ack wait (server default 30 s): allow for it.
      await assertCompletedExactlyOnce(sys.baseUrl, workflowId, ids, { timeoutMs: 20_000, readModelTimeoutMs: 40_000 });
      expect(second.output).not.toMatch(/jetflow failed to start|Unhandled|uncaught/i);
    });
  });

  describe('nats-server is SIGKILLed and restarted (file store kept) while runs sit in a delay', () => {
    let sys: Env;
    let proc: JetflowProcess | undefined;
    beforeAll(async () => {
      sys = await setUp();
    });
    afterAll(async () => {
      await proc?.kill();
      await sys?.nats.stop();
      await sys?.db.drop();
    });

    it('the same Jetflow process reconnects and finishes every run exactly once', async () => {
      proc = new JetflowProcess(sys.env, 'all');
      await proc.start();
      const workflowId = await createWorkflow(sys.baseUrl);
      const ids = await startRuns(sys.baseUrl, workflowId);
      await allInDelay(sys.baseUrl, ids);

      await sys.nats.kill();
      await sys.nats.restart();

      await assertCompletedExactlyOnce(sys.baseUrl, workflowId, ids, { timeoutMs: 20_000, readModelTimeoutMs: 15_000 });
      // It stayed up the whole time.
      expect((await http(sys.baseUrl, 'GET', '/health')).status).toBe(200);
    });
  });
});
