import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@jetflow/bus';
import { STREAMS } from '@jetflow/contracts';
import { TaskDispatcher } from '@jetflow/executions';
import { eventually } from '../support/eventually';
import { completedExecution } from '../support/executions';
import { HttpFixture } from '../support/http-fixture';
import { http } from '../support/http-client';
import { freePort, InProcessSystem, JetflowProcess } from '../support/jetflow-system';
import { TestNatsServer } from '../support/nats-server';
import { TestDatabase } from '../support/postgres';

/**
 * A process hosting both the actors and a steps worker hands a step's task straight to its worker
 * (no work-queue message). Such a task is on no queue while it runs: the recovery sweep must leave
 * it alone while a live worker holds it, and re-dispatch it through the queue when its process
 * died with it.
 */

const WORKFLOW = {
  name: 'local-dispatch',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['call'] },
    { step_id: 'call', step_type: 'api_call', parameters: { url: '{{input.url}}' }, next_steps: ['finish'] },
    { step_id: 'finish', step_type: 'data_transform', parameters: { mapping: { answer: '{{steps.call.output.body.n}}' } }, next_steps: [] },
  ],
};

async function tasksPublished(nc: NatsConnection): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(STREAMS.tasks)).state.last_seq;
}

/** The run's result once it reads completed. */
const completed = async (baseUrl: string, id: string, timeoutMs: number) => (await completedExecution(baseUrl, id, timeoutMs, 100)).result;

describe('local task dispatch (actors and steps worker in one process)', () => {
  let fixture: HttpFixture;
  beforeAll(async () => {
    fixture = await HttpFixture.start();
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  describe('in one process', () => {
    let sys: InProcessSystem;
    let nc: NatsConnection;
    beforeAll(async () => {
      sys = await InProcessSystem.start();
      nc = await connectNats({ servers: sys.nats.url, name: 'local-dispatch-test' });
    });
    afterAll(async () => {
      await nc?.close();
      await sys?.stop();
    });

    it('runs the task without the work queue, answers "held" while it runs, and the sweep does not run it twice', async () => {
      const path = `/slow/${randomUUID()}`;
      // Slower than the read model's 2 s grace plus several sweep passes (every 500 ms here): a
      // sweep that did not ask the workers would publish it again on its second pass.
      const url = fixture.route(path, () => ({ status: 200, body: { n: 42 }, delayMs: 6_000 }));
      const wf = await http(sys.baseUrl, 'POST', '/api/workflows', WORKFLOW);
      expect(wf.status).toBe(201);
      const run = await http(sys.baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { kind: 'api', url } });
      expect(run.status).toBe(202);
      const id = run.body.execution_id as string;
      await eventually(() => fixture.hitsOf(path).length === 1, { timeoutMs: 5_000, intervalMs: 20 });

      // Another process asks who holds it: the worker running it answers; a made-up key is held by nobody.
      const asker = new TaskDispatcher(nc, { heldWaitMs: 300 });
      expect([...(await asker.held([`${id}:call:1`, `${id}:nope:1`]))]).toEqual([`${id}:call:1`]);

      expect(await completed(sys.baseUrl, id, 12_000)).toEqual({ answer: 42 });
      expect(fixture.hitsOf(path)).toHaveLength(1);
      expect(await tasksPublished(nc)).toBe(0);
      expect([...(await asker.held([`${id}:call:1`]))]).toEqual([]);
    });
  });

  describe('with STEPS_LOCAL_DISPATCH=false', () => {
    let sys: InProcessSystem;
    let nc: NatsConnection;
    beforeAll(async () => {
      sys = await InProcessSystem.start({ STEPS_LOCAL_DISPATCH: 'false' });
      nc = await connectNats({ servers: sys.nats.url, name: 'queue-dispatch-test' });
    });
    afterAll(async () => {
      await nc?.close();
      await sys?.stop();
    });

    it('the task goes through the work queue', async () => {
      const url = fixture.route(`/queued/${randomUUID()}`, () => ({ status: 200, body: { n: 7 } }));
      const wf = await http(sys.baseUrl, 'POST', '/api/workflows', WORKFLOW);
      const run = await http(sys.baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { kind: 'api', url } });
      expect(await completed(sys.baseUrl, run.body.execution_id, 10_000)).toEqual({ answer: 7 });
      expect(await tasksPublished(nc)).toBe(1);
    });
  });

  describe('the process dies while its worker holds tasks', () => {
    let nats: TestNatsServer;
    let db: TestDatabase;
    const procs: JetflowProcess[] = [];
    beforeAll(() => JetflowProcess.assertBuilt());
    afterAll(async () => {
      for (const p of procs) await p.kill();
      await nats?.stop();
      await db?.drop();
    });

    it('a new process re-dispatches each through the queue and finishes every run exactly once', async () => {
      nats = await TestNatsServer.start();
      db = await TestDatabase.create('jf_e2e_local');
      const port = await freePort();
      const env = { NATS_URL: nats.url, DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
      const baseUrl = `http://127.0.0.1:${port}`;
      const first = new JetflowProcess(env, 'all');
      procs.push(first);
      await first.start();

      // The first request of each run hangs (its process will die holding it); the second answers.
      const paths = Array.from({ length: 5 }, () => `/hang/${randomUUID()}`);
      const urls = paths.map((p, n) => fixture.route(p, (k) => (k === 1 ? null : { status: 200, body: { n } })));
      const wf = await http(baseUrl, 'POST', '/api/workflows', WORKFLOW);
      const ids: string[] = [];
      for (const url of urls) ids.push((await http(baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { kind: 'api', url } })).body.execution_id);
      await eventually(() => paths.every((p) => fixture.hitsOf(p).length === 1), { timeoutMs: 10_000, intervalMs: 50 });
      // The read model has every run (the sweep finds runs there), as it would have long before any real crash.
      await eventually(
        async () => {
          const list = await http(baseUrl, 'GET', `/api/executions?workflow_id=${wf.body.id}&limit=50`);
          const running = new Set(list.body.items.filter((i: { status: string }) => i.status === 'running').map((i: { id: string }) => i.id));
          return ids.every((id) => running.has(id));
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );

      await first.kill('SIGKILL');
      const second = new JetflowProcess(env, 'all');
      procs.push(second);
      await second.start();

      for (const [n, id] of ids.entries()) {
        expect(await completed(baseUrl, id, 30_000)).toEqual({ answer: n });
        const log = await http(baseUrl, 'GET', `/api/executions/${id}/events`);
        const types: string[] = log.body.items.map((e: { type: string }) => e.type);
        expect(types.filter((t) => t === 'StepCompleted')).toHaveLength(3);
        expect(types.filter((t) => t === 'ExecutionCompleted')).toHaveLength(1);
      }
      // Exactly one more request per run: the re-dispatched task, once.
      expect(paths.map((p) => fixture.hitsOf(p).length)).toEqual([2, 2, 2, 2, 2]);
      const nc = await connectNats({ servers: nats.url, name: 'local-dispatch-crash-test' });
      try {
        expect(await tasksPublished(nc)).toBe(5);
      } finally {
        await nc.close();
      }
      // What an operator sees on the new process: the five published again by its recovery sweep.
      const metrics = (await http(baseUrl, 'GET', '/metrics', undefined, {})).text;
      expect(metrics).toMatch(/^jetflow_step_tasks_dispatched_total\{path="redispatch"\} 5$/m);
      expect(metrics).toMatch(/^jetflow_recovery_sweeps_total\{result="ok"\} [1-9]/m);
      expect(second.output).not.toMatch(/Unhandled|uncaught/i);
    });
  });
});
