import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { STREAMS } from '@jetflow/contracts';
import { InProcessSystem } from '../support/jetflow-system';
import { http, readSse, type SseMessage } from '../support/http-client';
import { eventually } from '../support/eventually';
import { HttpFixture } from '../support/http-fixture';

const trigger = (next: string[]) => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });
const call = (url: string, extra: Record<string, unknown> = {}) => ({ step_id: 'call', step_type: 'api_call', parameters: { url }, next_steps: [], ...extra });

describe('retries, timeouts and cancel (HTTP + SSE, real NATS and PostgreSQL, local HTTP fixture)', () => {
  let sys: InProcessSystem;
  let fixture: HttpFixture;
  const api = <T = any>(method: string, path: string, body?: unknown) => http<T>(sys.baseUrl, method, path, body);
  const run = async (steps: unknown[], extra: Record<string, unknown> = {}) => {
    const wf = await api('POST', '/api/workflows', { name: `wf ${randomUUID()}`, steps, ...extra });
    expect(wf.status).toBe(201);
    const exec = await api('POST', `/api/workflows/${wf.body.id}/execute`, {});
    expect(exec.status).toBe(202);
    return exec.body.execution_id as string;
  };
  const stream = async (id: string) => (await readSse(sys.baseUrl, `/api/executions/${id}/stream`, { timeoutMs: 30_000 })).messages;
  const get = async (id: string) => (await api('GET', `/api/executions/${id}`)).body;
  const stepOf = (exec: { steps: { step_id: string }[] }, id: string) => exec.steps.find((s) => s.step_id === id) as any;
  /** Step tasks of one execution still in the work queue (a task leaves once its result was recorded). */
  const pendingTasks = async (id: string) => {
    const info = await (await jetstreamManager(sys.jetflow.nc)).streams.info(STREAMS.tasks, { subjects_filter: `jetflow.tasks.${id}.*` });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  };
  const startsOf = (messages: SseMessage[], step: string) => messages.filter((m) => m.event === 'step_start' && m.data.step === step).map((m) => m.data.attempt);

  beforeAll(async () => {
    fixture = await HttpFixture.start();
    // The fixture is on loopback: api_call must be allowed to reach it.
    sys = await InProcessSystem.start({ API_CALL_ALLOW_PRIVATE: 'true' });
  });
  afterAll(async () => {
    await sys?.stop();
    await fixture?.stop();
  });

  describe('retries', () => {
    it('retries 503s with backoff and completes on the third attempt (attempts: 3, step_start attempt 1,2,3)', async () => {
      const url = fixture.route(`/flaky/${randomUUID()}`, (n) => (n <= 2 ? { status: 503, body: { n } } : { status: 200, body: { ok: true, n } }));
      const id = await run([trigger(['call']), call(url, { retry: { max_attempts: 3, backoff_seconds: 0.1 } })]);
      const messages = await stream(id);
      expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { status: 200, body: { ok: true, n: 3 } } });
      expect(startsOf(messages, 'call')).toEqual([1, 2, 3]);
      const exec = await get(id);
      expect(stepOf(exec, 'call')).toMatchObject({ status: 'completed', attempts: 3 });
      expect(fixture.hitsOf(new URL(url).pathname)).toHaveLength(3);
    });

    it('does not retry a 400: the run fails with TOOL_ERROR after one attempt', async () => {
      const url = fixture.route(`/bad/${randomUUID()}`, () => ({ status: 400, body: { error: 'bad request' } }));
      const id = await run([trigger(['call']), call(url, { retry: { max_attempts: 5, backoff_seconds: 0.1 } })]);
      const messages = await stream(id);
      expect(messages.at(-1)!.data).toMatchObject({ status: 'failed', error: { code: 'TOOL_ERROR' } });
      expect(messages.some((m) => m.event === 'error' && m.data.code === 'TOOL_ERROR')).toBe(true);
      expect(startsOf(messages, 'call')).toEqual([1]);
      expect(stepOf(await get(id), 'call')).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'TOOL_ERROR' } });
      expect(fixture.hitsOf(new URL(url).pathname)).toHaveLength(1);
    });

    it('honors a 429 Retry-After longer than the backoff', async () => {
      const path = `/limited/${randomUUID()}`;
      const url = fixture.route(path, (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200, body: { ok: true } }));
      const id = await run([trigger(['call']), call(url, { retry: { max_attempts: 3, backoff_seconds: 0.1 } })]);
      const messages = await stream(id);
      expect(messages.at(-1)!.data).toMatchObject({ status: 'completed' });
      const [first, second] = fixture.hitsOf(path);
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_900);
      expect(stepOf(await get(id), 'call')).toMatchObject({ status: 'completed', attempts: 2 });
    });

    it('gives up after max_attempts of retryable failures with the last error', async () => {
      const path = `/down/${randomUUID()}`;
      const url = fixture.route(path, () => ({ status: 502 }));
      const id = await run([trigger(['call']), call(url, { retry: { max_attempts: 2, backoff_seconds: 0.1 } })]);
      const messages = await stream(id);
      expect(messages.at(-1)!.data).toMatchObject({ status: 'failed', error: { code: 'TOOL_ERROR' } });
      expect(startsOf(messages, 'call')).toEqual([1, 2]);
      expect(fixture.hitsOf(path)).toHaveLength(2);
    });
  });

  describe('timeouts', () => {
    it('step timeout_seconds fails the attempt with TIMEOUT, the retry applies, and the late result is ignored', async () => {
      const path = `/late/${randomUUID()}`;
      // Attempt 1 answers only after 2.5 s (past its 1 s timeout); attempt 2 answers at once.
      const url = fixture.route(path, (n) => (n === 1 ? { status: 200, body: { attempt: 1 }, delayMs: 2_500 } : { status: 200, body: { attempt: 2 } }));
      const id = await run([trigger(['call']), call(url, { timeout_seconds: 1, retry: { max_attempts: 2, backoff_seconds: 0.1 } })]);
      const messages = await stream(id);
      const failed = messages.find((m) => m.event === 'step_complete' && m.data.step === 'call' && m.data.status === 'failed');
      expect(failed?.data.error).toMatchObject({ code: 'TIMEOUT' });
      expect(startsOf(messages, 'call')).toEqual([1, 2]);
      expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { body: { attempt: 2 } } });

      // The late answer reaches the worker, which reports it; the actor records nothing for it.
      await eventually(() => fixture.responded.filter((h) => h.path === path).length === 2);
      await eventually(async () => (await pendingTasks(id)) === 0);
      const log = (await api('GET', `/api/executions/${id}/events`)).body.items as { type: string; step_id?: string; attempt?: number }[];
      expect(log.filter((e) => e.type === 'StepCompleted' && e.step_id === 'call').map((e) => e.attempt)).toEqual([2]);
      expect(await get(id)).toMatchObject({ status: 'completed', result: { body: { attempt: 2 } } });
    });

    it('a step that never answers times out on every attempt: the run fails with TIMEOUT', async () => {
      const path = `/hang/${randomUUID()}`;
      const url = fixture.route(path, () => null);
      const id = await run([trigger(['call']), call(url, { timeout_seconds: 1, retry: { max_attempts: 2, backoff_seconds: 0.1 } })]);
      const messages = await stream(id);
      expect(messages.at(-1)!.data).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
      expect(startsOf(messages, 'call')).toEqual([1, 2]);
      expect(stepOf(await get(id), 'call')).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'TIMEOUT' } });
    });

    it('workflow timeout_seconds ends the run `timeout` with code TIMEOUT', async () => {
      const id = await run(
        [trigger(['wait']), { step_id: 'wait', step_type: 'delay', parameters: { seconds: 60 }, next_steps: [] }],
        { timeout_seconds: 1 },
      );
      const messages = await stream(id);
      expect(messages.at(-1)).toMatchObject({ event: 'complete', data: { status: 'timeout', error: { code: 'TIMEOUT' } } });
      expect(messages.some((m) => m.event === 'error' && m.data.code === 'TIMEOUT')).toBe(true);
      const exec = await get(id);
      expect(exec).toMatchObject({ status: 'timeout', error: { code: 'TIMEOUT' } });
      expect(stepOf(exec, 'wait').status).toBe('cancelled');
    });
  });

  describe('cancel', () => {
    it('cancels a run sitting in a delay: cancelled, SSE complete{status:"cancelled"}, a second cancel is 409', async () => {
      const id = await run([
        trigger(['wait']),
        { step_id: 'wait', step_type: 'delay', parameters: { seconds: 60 }, next_steps: ['after'] },
        { step_id: 'after', step_type: 'data_transform', parameters: { mapping: { x: 1 } }, next_steps: [] },
      ]);
      await eventually(async () => stepOf(await get(id), 'wait')?.status === 'running');
      const sse = readSse(sys.baseUrl, `/api/executions/${id}/stream`, { timeoutMs: 30_000 });
      const cancelled = await api('POST', `/api/executions/${id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
      expect(stepOf(cancelled.body, 'wait').status).toBe('cancelled');
      const { messages } = await sse;
      expect(messages.at(-1)).toMatchObject({ event: 'complete', data: { status: 'cancelled' } });
      expect(messages.some((m) => m.event === 'step_start' && m.data.step === 'after')).toBe(false);

      const again = await api('POST', `/api/executions/${id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('CONFLICT');
      // The read model follows.
      await eventually(async () => (await api('GET', `/api/executions?status=cancelled&limit=500`)).body.items.some((e: { id: string }) => e.id === id));
    });

    it('cancels a run while a worker step is running: the step\'s call is aborted at once, and nothing it returns changes the run', async () => {
      const path = `/slow/${randomUUID()}`;
      const url = fixture.route(path, () => ({ status: 200, body: { late: true }, delayMs: 10_000 }));
      const id = await run([trigger(['call']), call(url)]);
      await eventually(() => fixture.hitsOf(path).length === 1);
      const cancelled = await api('POST', `/api/executions/${id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('cancelled');
      expect(stepOf(cancelled.body, 'call').status).toBe('cancelled');
      const messages = await stream(id);
      expect(messages.at(-1)).toMatchObject({ event: 'complete', data: { status: 'cancelled' } });

      // The worker's handler is aborted when the run ends: the HTTP call is closed long before its 10 s answer.
      const t0 = Date.now();
      await eventually(() => fixture.aborted.some((h) => h.path === path), { timeoutMs: 5_000 });
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(fixture.responded.some((h) => h.path === path)).toBe(false);
      await eventually(async () => (await pendingTasks(id)) === 0);
      const exec = await get(id);
      expect(exec.status).toBe('cancelled');
      expect(stepOf(exec, 'call').status).toBe('cancelled');
      expect((await api('POST', `/api/executions/${id}/cancel`)).status).toBe(409);
    });

    it('cancel of an unknown execution is 404', async () => {
      const res = await api('POST', `/api/executions/${randomUUID()}/cancel`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      expect((await api('POST', '/api/executions/nope/cancel')).status).toBe(404);
    });
  });
});
