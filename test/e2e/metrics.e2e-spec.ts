import { eventually } from '../support/eventually';
import { completedExecution } from '../support/executions';
import { http, readSse } from '../support/http-client';
import { freePort, InProcessSystem, JetflowProcess } from '../support/jetflow-system';
import { TestNatsServer } from '../support/nats-server';
import { TestDatabase } from '../support/postgres';

/**
 * `/metrics` shows what the engine does, not only HTTP: runs started and ended, how step tasks
 * reached their workers (in-process or through the work queue), step results, the read models'
 * progress and SSE streams. A process without the gateway serves them on `METRICS_PORT`.
 */

const WORKFLOW = {
  name: 'metrics',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['call'] },
    { step_id: 'call', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { n: '{{input.n}}' } }, next_steps: ['shape'] },
    { step_id: 'shape', step_type: 'data_transform', parameters: { mapping: { n: '{{input.n}}' } }, next_steps: [] },
  ],
};

/** Prometheus text → the sum of the samples of `name` whose labels include `labels` (0 when none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

async function scrape(url: string): Promise<string> {
  const res = await http(url, 'GET', '/metrics', undefined, {});
  expect(res.status).toBe(200);
  expect(String(res.headers['content-type'])).toContain('text/plain');
  return res.text;
}

async function runToCompletion(baseUrl: string, workflowId: string, n: number): Promise<string> {
  const run = await http(baseUrl, 'POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'api', n } });
  expect(run.status).toBe(202);
  const id = run.body.execution_id as string;
  await completedExecution(baseUrl, id);
  return id;
}

describe('engine metrics', () => {
  describe('all services in one process', () => {
    let sys: InProcessSystem;
    beforeAll(async () => {
      sys = await InProcessSystem.start();
    });
    afterAll(async () => {
      await sys?.stop();
    });

    it('counts runs, in-process task hand-offs, step results, read-model entries and SSE streams', async () => {
      const wf = await http(sys.baseUrl, 'POST', '/api/workflows', WORKFLOW);
      expect(wf.status).toBe(201);
      const before = await scrape(sys.baseUrl);

      const run = await http(sys.baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { kind: 'api', n: 1 } });
      expect(run.status).toBe(202);
      const sse = await readSse(sys.baseUrl, `/api/executions/${run.body.execution_id}/stream`);
      expect(sse.messages.at(-1)?.event).toBe('complete');
      await runToCompletion(sys.baseUrl, wf.body.id, 2);

      const delta = (text: string, name: string, labels: Record<string, string> = {}) => sample(text, name, labels) - sample(before, name, labels);
      const after = await eventually(
        async () => {
          const text = await scrape(sys.baseUrl);
          // The read model lags the log by a batch, and the worker counts a result once the actor
          // answered it (after the run may already read as completed): wait for both runs' share.
          if (delta(text, 'jetflow_projector_entries_total') < 4) throw new Error('projection not caught up yet');
          if (delta(text, 'jetflow_step_results_total') < 2 || sample(text, 'jetflow_step_tasks_held') > 0) throw new Error('worker not done yet');
          return text;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      expect(delta(after, 'jetflow_executions_started_total')).toBe(2);
      expect(delta(after, 'jetflow_executions_finished_total', { status: 'completed' })).toBe(2);
      // One tool step per run, handed to this process's worker: nothing through the work queue.
      expect(delta(after, 'jetflow_step_tasks_dispatched_total', { path: 'local' })).toBe(2);
      expect(delta(after, 'jetflow_step_tasks_dispatched_total', { path: 'queue' })).toBe(0);
      expect(delta(after, 'jetflow_step_tasks_dispatched_total', { path: 'requeue' })).toBe(0);
      expect(delta(after, 'jetflow_step_results_total', { step_type: 'tool_call', outcome: 'completed' })).toBe(2);
      expect(sample(after, 'jetflow_step_tasks_running')).toBe(0);
      // How long the handlers took: both tool calls, every bucket cumulative, `+Inf` = the count.
      const tool = { step_type: 'tool_call', outcome: 'completed' };
      expect(delta(after, 'jetflow_step_duration_seconds_count', tool)).toBe(2);
      expect(delta(after, 'jetflow_step_duration_seconds_bucket', { ...tool, le: '+Inf' })).toBe(2);
      const buckets = after
        .split('\n')
        .filter((l) => l.startsWith('jetflow_step_duration_seconds_bucket{') && l.includes('step_type="tool_call"') && l.includes('outcome="completed"'))
        .map((l) => Number(l.split(' ').at(-1)));
      expect(buckets.length).toBeGreaterThan(5);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      // A no-op tool in this process: well under a second each.
      expect(sample(after, 'jetflow_step_duration_seconds_bucket', { ...tool, le: '1' })).toBe(sample(after, 'jetflow_step_duration_seconds_count', tool));
      expect(delta(after, 'jetflow_step_duration_seconds_sum', tool)).toBeGreaterThan(0);
      expect(delta(after, 'jetflow_step_duration_seconds_sum', tool)).toBeLessThan(2);
      // Start, the tool step's result: two decisions per run, all applied to the read models.
      expect(delta(after, 'jetflow_log_appends_total')).toBe(4);
      expect(delta(after, 'jetflow_log_append_conflicts_total')).toBe(0);
      expect(delta(after, 'jetflow_projector_entries_total')).toBe(4);
      expect(delta(after, 'jetflow_projector_batch_failures_total')).toBe(0);
      expect(after).toMatch(/^jetflow_projector_skipped_total\{durable="[^"]+"\} 0$/m);
      expect(sample(after, 'jetflow_actors_cached', { state: 'finished' })).toBeGreaterThanOrEqual(2);
      expect(delta(after, 'jetflow_sse_histories_total')).toBe(1);
      expect(sample(after, 'jetflow_sse_streams_open')).toBe(0);
      // The HTTP ones are still there.
      expect(delta(after, 'jetflow_http_requests_total', { route: '/api/workflows/:id/execute', status: '202' })).toBe(2);
    });
    it('counts user regex matches answered on the sandbox thread, and the uses it refused', async () => {
      const wf = await http(sys.baseUrl, 'POST', '/api/workflows', {
        name: 'regex',
        steps: [
          { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['check'] },
          { step_id: 'check', step_type: 'data_transform', parameters: { expression: '$contains(input.text, /(?=\\s)\\s*\\s*\\s*y$/)' }, next_steps: [] },
        ],
      });
      expect(wf.status).toBe(201);
      const before = await scrape(sys.baseUrl);
      const quick = await http(sys.baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { text: '  y' } });
      await completedExecution(sys.baseUrl, quick.body.execution_id);
      const slow = await http(sys.baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { text: `${' '.repeat(2_000)}x` } });
      await eventually(async () => (await http(sys.baseUrl, 'GET', `/api/executions/${slow.body.execution_id}`)).body.status === 'failed');
      const after = await scrape(sys.baseUrl);
      const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
      expect(delta('jetflow_regex_sandbox_refusals_total', { reason: 'over_budget' })).toBe(1);
      expect(delta('jetflow_regex_sandbox_refusals_total', { reason: 'unavailable' })).toBe(0);
      expect(delta('jetflow_regex_sandbox_matches_total')).toBeGreaterThanOrEqual(1);
    });
  });

  describe('split processes', () => {
    let nats: TestNatsServer;
    let db: TestDatabase;
    const procs: JetflowProcess[] = [];
    beforeAll(() => JetflowProcess.assertBuilt());
    afterAll(async () => {
      for (const p of procs) await p.kill('SIGTERM');
      await nats?.stop();
      await db?.drop();
    });

    it('a steps process serves its own /metrics on METRICS_PORT; tasks reach it through the work queue', async () => {
      nats = await TestNatsServer.start();
      db = await TestDatabase.create('jf_e2e_metrics');
      const [port, metricsPort] = [await freePort(), await freePort()];
      const env = { NATS_URL: nats.url, DATABASE_URL: db.url, HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
      const edge = new JetflowProcess({ ...env, PORT: String(port) }, 'gateway,workflows,executions,approvals');
      const steps = new JetflowProcess({ ...env, METRICS_PORT: String(metricsPort) }, 'steps');
      procs.push(edge, steps);
      await edge.start();
      await steps.start();
      const baseUrl = `http://127.0.0.1:${port}`;
      const stepsUrl = `http://127.0.0.1:${metricsPort}`;
      await eventually(() => http(stepsUrl, 'GET', '/metrics', undefined, {}).then((r) => r.status === 200), { timeoutMs: 20_000, intervalMs: 100 });

      const wf = await http(baseUrl, 'POST', '/api/workflows', WORKFLOW);
      await runToCompletion(baseUrl, wf.body.id, 3);

      // The worker counts the result once the actor answered it: maybe just after the run reads completed.
      const worker = await eventually(
        async () => {
          const text = await scrape(stepsUrl);
          if (sample(text, 'jetflow_step_results_total') < 1) throw new Error('no step result counted yet');
          return text;
        },
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      expect(sample(worker, 'jetflow_step_results_total', { step_type: 'tool_call', outcome: 'completed' })).toBe(1);
      expect(sample(worker, 'jetflow_step_results_total')).toBe(1);
      expect(sample(worker, 'jetflow_step_tasks_running')).toBe(0);
      expect(sample(worker, 'jetflow_step_duration_seconds_count', { step_type: 'tool_call', outcome: 'completed' })).toBe(1);
      expect(sample(worker, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      // The steps process hosts no actors: it has no such series.
      expect(worker).not.toContain('jetflow_executions_started_total');
      const gateway = await scrape(baseUrl);
      expect(sample(gateway, 'jetflow_step_tasks_dispatched_total', { path: 'queue' })).toBe(1);
      expect(sample(gateway, 'jetflow_step_tasks_dispatched_total', { path: 'local' })).toBe(0);
      expect(sample(gateway, 'jetflow_executions_finished_total', { status: 'completed' })).toBe(1);

      // Nothing else is served on the metrics port.
      const other = await http(stepsUrl, 'GET', '/api/workflows', undefined, {});
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('NOT_FOUND');
    });
  });
});
