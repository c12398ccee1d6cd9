import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InProcessSystem, SCOPE_HEADERS } from '../support/jetflow-system';
import { http, readSse, type HttpResponse } from '../support/http-client';
import { completedExecution } from '../support/executions';
import { eventually } from '../support/eventually';

/**
 * Inputs at the edges of what the stores underneath can take (PostgreSQL text and indexes, NATS
 * message sizes and uint64 sequences, timestamp ranges) are client errors, never a 500 or a stream
 * that never ends.
 */
const trigger = (next: string[] = []) => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });
const simple = { name: 'Simple', steps: [trigger(['done']), { step_id: 'done', step_type: 'data_transform', parameters: { mapping: { ok: true } }, next_steps: [] }] };
const delayed = {
  name: 'Delayed',
  steps: [trigger(['pause']), { step_id: 'pause', step_type: 'delay', parameters: { seconds: 120 }, next_steps: ['after'] }, { step_id: 'after', step_type: 'data_transform', parameters: { mapping: { done: true } }, next_steps: [] }],
};
const cursorAt = (iso: string) => Buffer.from(JSON.stringify([iso, '0f8fad5b-d9cb-469f-a165-70867728950e'])).toString('base64url');

describe('input limits (HTTP, SSE)', () => {
  let sys: InProcessSystem;
  let simpleId: string;
  const api = <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = SCOPE_HEADERS) => http<T>(sys.baseUrl, method, path, body, headers);
  const expectError = (res: HttpResponse, status: number, code: string) => {
    expect([res.status, res.body?.error?.code]).toEqual([status, code]);
  };
  async function create(definition: unknown): Promise<string> {
    const res = await api('POST', '/api/workflows', definition);
    expect(res.status).toBe(201);
    return res.body.id;
  }
  async function execute(workflowId: string, body: unknown = {}): Promise<string> {
    const res = await api('POST', `/api/workflows/${workflowId}/execute`, body);
    expect(res.status).toBe(202);
    return res.body.execution_id;
  }
  async function lastSeq(executionId: string): Promise<number> {
    const res = await api('GET', `/api/executions/${executionId}/events`);
    expect(res.status).toBe(200);
    return res.body.items.at(-1).seq;
  }

  beforeAll(async () => {
    sys = await InProcessSystem.start();
    simpleId = await create(simple);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('a deeply nested JSON body is a 400 VALIDATION_ERROR', async () => {
    const nested = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expectError(await api('POST', '/api/workflows', nested), 400, 'VALIDATION_ERROR');
    expectError(await api('POST', `/api/workflows/${simpleId}/execute`, `{"trigger":${nested}}`), 400, 'VALIDATION_ERROR');
    // 64 levels are fine.
    const ok = await api('POST', `/api/workflows/${simpleId}/execute`, { trigger: { deep: JSON.parse('['.repeat(60) + ']'.repeat(60)) } });
    expect(ok.status).toBe(202);
  });

  it('\\u0000 anywhere in a body is a 400 VALIDATION_ERROR, and nothing is stored', async () => {
    const res = await api('POST', '/api/workflows', { ...simple, name: 'Bad\u0000Name' });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.body.error.details).toEqual([{ path: 'body.name', message: '\\u0000 is not allowed' }]);
    expectError(await api('POST', `/api/workflows/${simpleId}/execute`, { trigger: { note: 'a\u0000b' } }), 400, 'VALIDATION_ERROR');
    expectError(await api('POST', `/api/workflows/${simpleId}/execute`, { context: { 'k\u0000': 1 } }), 400, 'VALIDATION_ERROR');
    const list = await api('GET', '/api/workflows?limit=500');
    expect(list.status).toBe(200);
    expect(list.body.items.some((w: { name: string }) => w.name.includes('\u0000'))).toBe(false);
  });

  it('a scope header over 255 characters is a 400 VALIDATION_ERROR naming it', async () => {
    const res = await api('GET', '/api/workflows', undefined, { ...SCOPE_HEADERS, 'X-elevAIte-OrganizationId': 'o'.repeat(4000) });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.body.error.message).toContain('X-elevAIte-OrganizationId');
    const post = await api('POST', '/api/workflows', simple, { ...SCOPE_HEADERS, 'X-elevAIte-ProjectId': 'p'.repeat(256) });
    expectError(post, 400, 'VALIDATION_ERROR');
    expect(post.body.error.message).toContain('X-elevAIte-ProjectId');
    expect((await api('GET', '/api/workflows', undefined, { ...SCOPE_HEADERS, 'X-elevAIte-UserId': 'u'.repeat(255) })).status).toBe(200);
  });

  it('from_seq beyond Number.MAX_SAFE_INTEGER is a 400; up to it an empty page', async () => {
    const executionId = await execute(simpleId);
    await completedExecution(sys.baseUrl, executionId);
    expectError(await api('GET', `/api/executions/${executionId}/events?from_seq=99999999999999999999`), 400, 'VALIDATION_ERROR');
    expectError(await api('GET', `/api/executions/${executionId}/events?from_seq=9007199254740992`), 400, 'VALIDATION_ERROR');
    const edge = await api('GET', `/api/executions/${executionId}/events?from_seq=${Number.MAX_SAFE_INTEGER}`);
    expect([edge.status, edge.body.items]).toEqual([200, []]);
  });

  it('a list cursor dated in year 10000 or -10000 is a 400 VALIDATION_ERROR', async () => {
    for (const iso of ['+010000-01-01T00:00:00.000Z', '-010000-01-01T00:00:00.000Z']) {
      for (const path of ['/api/executions', '/api/workflows']) {
        expectError(await api('GET', `${path}?cursor=${cursorAt(iso)}`), 400, 'VALIDATION_ERROR');
      }
    }
    expect((await api('GET', `/api/executions?cursor=${cursorAt('2020-01-01T00:00:00.000Z')}`)).status).toBe(200);
  });

  it('a 600 KB trigger (a first log entry over NATS max_payload) is a 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await api('POST', `/api/workflows/${simpleId}/execute`, { trigger: { blob: 'x'.repeat(600_000) } });
    expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(res.body.error.message).toContain('max_payload');
    // Nothing half-started: the next run goes through.
    await completedExecution(sys.baseUrl, await execute(simpleId, { trigger: { blob: 'x'.repeat(1_000) } }));
  });

  it('Last-Event-ID past the end of a finished run: connected, then the response ends at once', async () => {
    const executionId = await execute(simpleId);
    await completedExecution(sys.baseUrl, executionId);
    const end = await lastSeq(executionId);
    // Another run moves the stream on, so `end + 1` is a real sequence (of another execution).
    await completedExecution(sys.baseUrl, await execute(simpleId));
    for (const id of [String(end + 1), `${end + 1}.3`, '999999999999999']) {
      const started = Date.now();
      const resumed = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream`, { headers: { 'Last-Event-ID': id }, timeoutMs: 1_000 });
      expect([id, resumed.status, resumed.messages.map((m) => m.event)]).toEqual([id, 200, ['connected']]);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it('Last-Event-ID past the end of a running run is a 400 before any SSE byte; its last id still resumes', async () => {
    const delayedId = await create(delayed);
    // The 202 comes after the first append (start, trigger, the delay's timer): the log ends there for 120 s.
    const executionId = await execute(delayedId);
    const end = await lastSeq(executionId);
    const lastId = (await api('GET', `/api/executions/${executionId}/events`)).body.items.at(-1).id as string;
    const res = await api('GET', `/api/executions/${executionId}/stream`, undefined, { ...SCOPE_HEADERS, accept: 'text/event-stream', 'Last-Event-ID': String(end + 1_000_000) });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.headers['content-type']).toContain('application/json');

    // Resuming after the last event is fine: the stream stays open (heartbeats) while the delay runs.
    const open = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream`, { headers: { 'Last-Event-ID': lastId }, until: (m) => m.event === 'heartbeat', timeoutMs: 5_000 });
    expect(open.messages.map((m) => m.event)).toEqual(['connected', 'heartbeat']);
    expect((await api('POST', `/api/executions/${executionId}/cancel`)).status).toBeLessThan(300);
  });

  it('a step result too large for one log entry fails the step (PAYLOAD_TOO_LARGE) once, instead of being redelivered forever', async () => {
    let calls = 0;
    // A legal response (under API_CALL_MAX_RESPONSE_BYTES) whose output cannot fit one NATS message with its decision.
    const server: Server = createServer((req, res) => {
      calls++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ blob: 'z'.repeat(1_000_000) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big`;
      const wf = await create({ name: 'Big', steps: [trigger(['fetch']), { step_id: 'fetch', step_type: 'api_call', parameters: { url }, next_steps: [] }] });
      const id = await execute(wf);
      const run = await eventually(
        async () => {
          const v = await api('GET', `/api/executions/${id}`);
          if (v.body?.status === 'running' || v.body?.status === 'pending') throw new Error(`${id} is ${v.body.status}`);
          return v.body;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(run.status).toBe('failed');
      const events = (await api('GET', `/api/executions/${id}/events`)).body.items as { type: string; step_id?: string; error?: { code: string } }[];
      const failed = events.filter((e) => e.type === 'StepFailed' && e.step_id === 'fetch');
      expect(failed.map((e) => e.error?.code)).toEqual(['PAYLOAD_TOO_LARGE']);
      // Give a redelivery time to happen: none does.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(calls).toBe(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
