import { randomUUID } from 'node:crypto';
import { InProcessSystem } from '../support/jetflow-system';
import { http, readSse } from '../support/http-client';

/** trigger → wait (delay `seconds: "{{input.s}}"`) → after */
const delayed = () => ({
  name: `durations ${randomUUID()}`,
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['wait'] },
    { step_id: 'wait', step_type: 'delay', parameters: { seconds: '{{input.s}}' }, next_steps: ['after'] },
    { step_id: 'after', step_type: 'data_transform', parameters: { mapping: { done: true } }, next_steps: [] },
  ],
});

describe('durations: templated delays and out-of-range times (HTTP + SSE, real NATS and PostgreSQL)', () => {
  let sys: InProcessSystem;
  let workflowId: string;
  const api = <T = any>(method: string, path: string, body?: unknown) => http<T>(sys.baseUrl, method, path, body);
  const stepOf = (exec: { steps: { step_id: string }[] }, id: string) => exec.steps.find((s) => s.step_id === id) as any;

  /** POST /execute, then follow the run to its `complete` event; returns the execution and the elapsed ms. */
  async function execute(trigger: Record<string, unknown>): Promise<{ exec: any; complete: any; elapsedMs: number }> {
    const t0 = Date.now();
    const started = await api('POST', `/api/workflows/${workflowId}/execute`, { trigger });
    expect(started.status).toBe(202);
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`, { timeoutMs: 30_000 });
    const elapsedMs = Date.now() - t0;
    const complete = messages.at(-1);
    expect(complete?.event).toBe('complete');
    const exec = (await api('GET', `/api/executions/${started.body.execution_id}`)).body;
    return { exec, complete, elapsedMs };
  }

  beforeAll(async () => {
    sys = await InProcessSystem.start();
    const created = await api('POST', '/api/workflows', delayed());
    expect(created.status).toBe(201);
    workflowId = created.body.id;
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('a delay whose templated seconds is not a number: 202, then the run ends failed with a VALIDATION_ERROR step error', async () => {
    const { exec, complete } = await execute({ s: 'abc' });
    expect(complete.data).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(exec).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(stepOf(exec, 'wait')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(stepOf(exec, 'after')).toBeUndefined(); // never started: the failure ends the run
  });

  it('a huge templated seconds fails the same way instead of a 500', async () => {
    const { exec } = await execute({ s: 99999999999999 });
    expect(exec).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(stepOf(exec, 'wait')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
  });

  it('a delay whose templated seconds is 1 completes after about a second', async () => {
    const { exec, complete, elapsedMs } = await execute({ s: 1 });
    expect(complete.data).toMatchObject({ status: 'completed' });
    expect(exec).toMatchObject({ status: 'completed', result: { done: true } });
    expect(stepOf(exec, 'wait').status).toBe('completed');
    expect(stepOf(exec, 'wait').result.waited_ms).toBeGreaterThanOrEqual(1_000);
    expect(elapsedMs).toBeGreaterThanOrEqual(950);
    expect(elapsedMs).toBeLessThan(10_000);
  });

  it('rejects a workflow timeout_seconds too large for a timer at creation (400 VALIDATION_ERROR)', async () => {
    const res = await api('POST', '/api/workflows', { ...delayed(), timeout_seconds: 1e13 });
    expect(res.status).toBe(400);
    expect(res.body?.error?.code).toBe('VALIDATION_ERROR');
  });
});
