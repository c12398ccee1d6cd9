import { eventually } from '../support/eventually';
import { http } from '../support/http-client';
import { freePort, JetflowProcess } from '../support/jetflow-system';
import { TestNatsServer } from '../support/nats-server';
import { TestDatabase } from '../support/postgres';

/**
 * Process faults with the services split over separate OS processes (the built dist/ entry): one
 * gateway+workflows, one executions, one steps and one approvals process on one nats-server and one
 * database. 100 runs go at once; while they run, each process in turn is SIGKILLed and started
 * again. Every run must end `completed`, exactly once, with every step completed exactly once.
 */

const RUNS = 100;

const WORKFLOW = {
  name: 'process-faults',
  description: 'trigger -> tool -> delay 6 s -> tool -> transform',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['first'] },
    { step_id: 'first', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { n: '{{input.n}}' } }, next_steps: ['wait'] },
    { step_id: 'wait', step_type: 'delay', parameters: { seconds: 6 }, next_steps: ['second'] },
    { step_id: 'second', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { n: '{{steps.first.output.n}}' } }, next_steps: ['finish'] },
    { step_id: 'finish', step_type: 'data_transform', parameters: { mapping: { n: '{{steps.second.output.n}}', done: true } }, next_steps: [] },
  ],
};
const STEP_IDS = WORKFLOW.steps.map((s) => s.step_id).sort();

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inBatches<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

describe('process faults (gateway, executions, steps, approvals as separate processes; each SIGKILLed mid-run)', () => {
  let nats: TestNatsServer;
  let db: TestDatabase;
  let baseUrl: string;
  let common: Record<string, string>;
  let port: number;
  const all: JetflowProcess[] = [];
  const live: Record<string, JetflowProcess> = {};

  function processFor(role: string): JetflowProcess {
    const services = role === 'gateway' ? 'gateway,workflows' : role;
    const p = new JetflowProcess(role === 'gateway' ? { ...common, PORT: String(port), LOG_LEVEL: 'info' } : { ...common, LOG_LEVEL: 'info' }, services);
    all.push(p);
    return p;
  }

  /** Starts a fresh process for `role` and waits until it is serving. */
  async function startRole(role: string): Promise<void> {
    const p = processFor(role);
    live[role] = p;
    await p.start();
    await eventually(() => p.output.includes('jetflow started'), { timeoutMs: 30_000, intervalMs: 50 });
    if (role === 'gateway') await eventually(async () => (await http(baseUrl, 'GET', '/health')).status === 200, { timeoutMs: 10_000 });
  }

  /** How many of `ids` are not completed yet (GET folds the log through the executions service). */
  async function notCompleted(ids: readonly string[]): Promise<number> {
    const views = await inBatches(ids, 25, (id) => http(baseUrl, 'GET', `/api/executions/${id}`));
    for (const v of views) expect(v.status).toBe(200);
    return views.filter((v) => v.body.status !== 'completed').length;
  }

  beforeAll(async () => {
    JetflowProcess.assertBuilt();
    nats = await TestNatsServer.start();
    db = await TestDatabase.create('jf_e2e_faults');
    port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    common = { NATS_URL: nats.url, DATABASE_URL: db.url, HOST: '127.0.0.1' };
    // The gateway boots first (migrations), then the rest at once.
    await startRole('gateway');
    await Promise.all(['executions', 'steps', 'approvals'].map((r) => startRole(r)));
  }, 60_000);

  afterAll(async () => {
    for (const p of all) await p.kill();
    await nats?.stop();
    await db?.drop();
  });

  it(`${RUNS} concurrent runs each complete exactly once while every process is SIGKILLed and restarted in turn`, async () => {
    const t0 = Date.now();
    const wf = await http(baseUrl, 'POST', '/api/workflows', WORKFLOW);
    expect(wf.status).toBe(201);
    const workflowId: string = wf.body.id;

    const started = await Promise.all(
      Array.from({ length: RUNS }, (_, n) => http(baseUrl, 'POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'api', n } })),
    );
    expect(started.map((r) => r.status)).toEqual(new Array(RUNS).fill(202));
    const ids: string[] = started.map((r) => r.body.execution_id);
    expect(new Set(ids).size).toBe(RUNS);

    // One after another: kill -9, start a replacement, go on to the next service. Before each kill,
    // count the runs still going (the first two kills land inside the 6 s delay: a restart under load can take 4 s).
    const inFlightAtKill: Record<string, number> = {};
    for (const role of ['executions', 'gateway', 'steps', 'approvals']) {
      inFlightAtKill[role] = await notCompleted(ids);
      await live[role]!.kill('SIGKILL');
      await startRole(role);
    }
    expect(inFlightAtKill['gateway']).toBeGreaterThan(0);
    expect(inFlightAtKill['executions']).toBeGreaterThan(0);

    // Every run completes (from the logs: GET folds the log).
    let pending = [...ids];
    await eventually(
      async () => {
        const views = await inBatches(pending, 25, (id) => http(baseUrl, 'GET', `/api/executions/${id}`));
        for (const v of views) expect(['running', 'completed']).toContain(v.body?.status);
        pending = pending.filter((_, i) => views[i]!.body.status !== 'completed');
        if (pending.length) throw new Error(`${pending.length} of ${RUNS} not completed yet`);
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    // Exactly once, from each raw log.
    await inBatches(ids, 20, async (id, n) => {
      const view = await http(baseUrl, 'GET', `/api/executions/${id}`);
      expect(view.body).toMatchObject({ status: 'completed', result: { n, done: true } });
      for (const s of view.body.steps) expect(s).toMatchObject({ status: 'completed', attempts: 1 });
      const log = await http(baseUrl, 'GET', `/api/executions/${id}/events`);
      expect(log.status).toBe(200);
      expect(log.body.next_seq).toBeNull();
      const events: { type: string; step_id?: string }[] = log.body.items;
      expect(events.filter((e) => e.type === 'StepStarted').map((e) => e.step_id!).sort()).toEqual(STEP_IDS);
      expect(events.filter((e) => e.type === 'StepCompleted').map((e) => e.step_id!).sort()).toEqual(STEP_IDS);
      expect(events.filter((e) => e.type === 'ExecutionCompleted')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'TimerScheduled')).toHaveLength(1);
      expect(events.some((e) => e.type === 'StepFailed' || e.type === 'ErrorRaised')).toBe(false);
      expect(events.at(-1)!.type).toBe('ExecutionCompleted');
    });

    // The read model catches up (entries a killed projector held come back after its ack wait).
    await eventually(
      async () => {
        const list = await http(baseUrl, 'GET', `/api/executions?workflow_id=${workflowId}&status=completed&limit=500`);
        expect(list.status).toBe(200);
        expect(new Set(list.body.items.map((i: { id: string }) => i.id))).toEqual(new Set(ids));
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );

    for (const p of Object.values(live)) expect(p.output).not.toMatch(/jetflow failed to start|uncaught|unhandled/i);
    console.log(`process faults: runs in flight at each kill ${JSON.stringify(inFlightAtKill)}, ${Date.now() - t0} ms`);
  }, 90_000);
});
