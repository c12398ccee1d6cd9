import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { connectNats, RpcServer } from '@jetflow/bus';
import { loadConfig } from '@jetflow/config';
import { JetflowError, STREAMS, type ExecutionEvent, type Scope } from '@jetflow/contracts';
import { ensureStreams, EventStore } from '@jetflow/event-store';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { eventually } from '../../../test/support/eventually';
import { TestNatsServer } from '../../../test/support/nats-server';
import { createGatewayApp } from '../src';
import { call, type CallOptions, type HttpResult } from './http-client';
import { openSse, type SseConnection } from './sse-client';

const SCOPE_HEADERS = { 'X-elevAIte-OrganizationId': 'org-1', 'X-elevAIte-ProjectId': 'proj-1', 'X-elevAIte-UserId': 'user-1' };
const at = (n: number) => new Date(Date.UTC(2024, 0, 15, 10, 5, n)).toISOString();

describe('gateway over NATS', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let servicesNc: NatsConnection;
  let app: NestFastifyApplication;
  let base: string;
  let store: EventStore;
  const servers: RpcServer[] = [];
  const seen: { op: string; req: Record<string, unknown> }[] = [];
  const knownExecutions = new Set<string>();
  const knownWorkflow = randomUUID();
  const opened: SseConnection[] = [];

  beforeAll(async () => {
    nats = await TestNatsServer.start();
    nc = await connectNats({ servers: nats.url, name: 'gateway-test' });
    servicesNc = await connectNats({ servers: nats.url, name: 'services-fixture' });
    await ensureStreams(nc);
    store = new EventStore(servicesNc);

    // Protocol peers standing in for the workflows and executions services.
    const workflows = new RpcServer(servicesNc, 'workflows');
    const record = (op: string) => async (req: Record<string, unknown>) => {
      seen.push({ op, req });
      return req;
    };
    workflows.handle('create', async (req: { scope: Scope; body: Record<string, unknown> }) => {
      seen.push({ op: 'create', req });
      return { id: knownWorkflow, name: req.body.name, status: 'active', version: 1, created_at: at(0) };
    });
    workflows.handle('get', async (req: { id: string }) => {
      if (req.id !== knownWorkflow) throw new JetflowError('NOT_FOUND', 'workflow not found');
      return { id: req.id };
    });
    workflows.handle('validate', async () => {
      throw new JetflowError('VALIDATION_ERROR', 'invalid workflow', [{ step_id: 'a', message: 'unknown next step b' }]);
    });
    workflows.handle('list', record('list'));
    workflows.handle('archive', async () => {
      throw new JetflowError('CONFLICT', 'already archived');
    });
    const executions = new RpcServer(servicesNc, 'executions');
    executions.handle('start', async (req: { workflow_id: string }) => {
      seen.push({ op: 'start', req: req as Record<string, unknown> });
      return { execution_id: randomUUID(), workflow_id: req.workflow_id, status: 'running', started_at: at(0) };
    });
    executions.handle('authorize', async (req: { id: string; scope: Scope }) => {
      if (!knownExecutions.has(req.id) || req.scope.organization_id !== 'org-1') throw new JetflowError('NOT_FOUND', 'execution not found');
      return { id: req.id };
    });
    executions.handle('list', record('executions.list'));
    executions.handle('events', record('events'));
    executions.handle('get', async () => {
      await new Promise((r) => setTimeout(r, 5_000));
      return {};
    });
    servers.push(workflows, executions);
    await servicesNc.flush();

    const config = loadConfig({ HEARTBEAT_MS: '300', RPC_TIMEOUT_MS: '500', BODY_LIMIT_BYTES: String(1024 * 1024) });
    app = await createGatewayApp({ nc, config, logger: pino({ level: 'silent' }) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterEach(() => {
    for (const c of opened.splice(0)) c.close();
  });

  afterAll(async () => {
    await app?.close();
    await Promise.all(servers.map((s) => s.close()));
    await nc?.close();
    await servicesNc?.close();
    await nats?.stop();
  });

  const api = (method: string, path: string, opts: CallOptions = {}) => call(base, method, path, { ...opts, headers: { ...SCOPE_HEADERS, ...opts.headers } });
  const expectStatus = (res: HttpResult, status: number) => {
    expect({ status: res.status, body: res.body }).toMatchObject({ status });
    return res;
  };

  describe('cross-cutting', () => {
    it('answers /health', async () => {
      const res = expectStatus(await call(base, 'GET', '/health'), 200);
      expect(res.body).toEqual({ status: 'ok', nats: 'ok', postgres: 'ok' });
    });

    it('requires the scope headers and names the missing ones', async () => {
      const res = expectStatus(await call(base, 'GET', '/api/workflows', { headers: { 'X-elevAIte-OrganizationId': 'org-1', 'X-elevAIte-UserId': ' ' } }), 400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.message).toBe('Missing scope headers: X-elevAIte-ProjectId, X-elevAIte-UserId');
      expect(res.body.error.details).toHaveLength(2);
    });

    it('answers unknown routes and non-UUID ids with 404 NOT_FOUND', async () => {
      expect(expectStatus(await api('GET', '/api/nope'), 404).body.error.code).toBe('NOT_FOUND');
      expect(expectStatus(await call(base, 'GET', '/nope'), 404).body.error.code).toBe('NOT_FOUND');
      expect(expectStatus(await api('GET', '/api/workflows/not-a-uuid'), 404).body.error.code).toBe('NOT_FOUND');
      expect(expectStatus(await api('GET', '/api/executions/123/stream'), 404).body.error.code).toBe('NOT_FOUND');
    });

    it('rejects malformed JSON, other content types and oversized bodies with 4xx codes', async () => {
      const bad = expectStatus(await api('POST', '/api/workflows', { raw: '{"name": ' }), 400);
      expect(bad.body).toEqual({ error: { code: 'VALIDATION_ERROR', message: 'Malformed JSON body' } });

      const text = expectStatus(await api('POST', '/api/workflows', { raw: 'hello', contentType: 'text/plain' }), 415);
      expect(text.body.error.code).toBe('VALIDATION_ERROR');

      const big = JSON.stringify({ name: 'x', description: 'y'.repeat(2 * 1024 * 1024) });
      const large = expectStatus(await api('POST', '/api/workflows', { raw: big }), 413);
      expect(large.body.error.code).toBe('PAYLOAD_TOO_LARGE');

      const arrayBody = expectStatus(await api('POST', '/api/workflows', { json: [1, 2] }), 400);
      expect(arrayBody.body.error.code).toBe('VALIDATION_ERROR');
    });

    it('maps service error codes and a missing service to HTTP', async () => {
      expect(expectStatus(await api('GET', `/api/workflows/${randomUUID()}`), 404).body.error).toEqual({ code: 'NOT_FOUND', message: 'workflow not found' });
      expect(expectStatus(await api('DELETE', `/api/workflows/${knownWorkflow}`), 409).body.error.code).toBe('CONFLICT');
      const invalid = expectStatus(await api('POST', '/api/workflows/validate', { json: { name: 'w', steps: [] } }), 400);
      expect(invalid.body.error).toEqual({ code: 'VALIDATION_ERROR', message: 'invalid workflow', details: [{ step_id: 'a', message: 'unknown next step b' }] });
      // No approvals service is running in this test.
      expect(expectStatus(await api('GET', '/api/approvals?status=pending'), 503).body.error.code).toBe('UNAVAILABLE');
      // The executions fixture answers `get` after the RPC timeout.
      expect(expectStatus(await api('GET', `/api/executions/${randomUUID()}`), 503).body.error.code).toBe('UNAVAILABLE');
    });

    it('answers odd input with 4xx, never 5xx', async () => {
      const cases: [string, string, CallOptions][] = [
        ['GET', '/api/executions?limit=1&limit=2', {}],
        ['GET', '/api/executions?limit=0', {}],
        ['GET', '/api/executions?workflow_id=nope', {}],
        ['GET', `/api/executions/${knownWorkflow}/events?from_seq=-1`, {}],
        ['POST', '/api/workflows', { raw: '{"__proto__": {"x": 1}}' }],
        ['POST', '/api/workflows', { raw: 'null' }],
        ['POST', '/api/workflows', { raw: '{}', contentType: 'application/x-www-form-urlencoded' }],
        ['POST', '/api/workflows', { raw: '{}', contentType: 'not a content type' }],
        ['POST', `/api/workflows/${knownWorkflow}/execute`, { json: { context: null } }],
        ['POST', `/api/workflows/${knownWorkflow}/execute`, { headers: { 'Idempotency-Key': 'x'.repeat(300) }, json: {} }],
        ['POST', `/api/approvals/${knownWorkflow}`, { json: { decision: 'maybe' } }],
        ['PATCH', '/api/workflows', { json: {} }],
      ];
      for (const [method, path, opts] of cases) {
        const res = await api(method, path, opts);
        expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({ method, path, status: expect.any(Number), code: expect.any(String) });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
    });

    it('serves Prometheus metrics by route', async () => {
      const res = expectStatus(await call(base, 'GET', '/metrics'), 200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(res.text).toMatch(/jetflow_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
    });
  });

  describe('workflows and executions', () => {
    it('creates a workflow with the caller scope', async () => {
      const res = expectStatus(await api('POST', '/api/workflows', { json: { name: 'w', steps: [] } }), 201);
      expect(res.body).toMatchObject({ id: knownWorkflow, status: 'active', version: 1 });
      expect(seen.find((s) => s.op === 'create')?.req).toEqual({
        scope: { organization_id: 'org-1', project_id: 'proj-1', user_id: 'user-1' },
        body: { name: 'w', steps: [] },
      });
    });

    it('starts an execution with 202 and passes the Idempotency-Key', async () => {
      const body = { trigger: { kind: 'chat', current_message: 'hi' }, user_id: 'u', session_id: 's', context: { a: 1 } };
      const res = expectStatus(await api('POST', `/api/workflows/${knownWorkflow}/execute`, { headers: { 'Idempotency-Key': 'k-1' }, json: body }), 202);
      expect(res.body).toMatchObject({ workflow_id: knownWorkflow, status: 'running' });
      expect(seen.filter((s) => s.op === 'start').at(-1)?.req).toMatchObject({ workflow_id: knownWorkflow, body, idempotency_key: 'k-1' });
      // No body at all is an empty execute body.
      expectStatus(await api('POST', `/api/workflows/${knownWorkflow}/execute`), 202);
      expect(seen.filter((s) => s.op === 'start').at(-1)?.req.body).toEqual({});
    });

    it('rejects an execute body with wrong types, naming each field', async () => {
      const res = expectStatus(await api('POST', `/api/workflows/${knownWorkflow}/execute`, { json: { trigger: 'x', user_id: 5, context: [] } }), 400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['context', 'trigger', 'user_id']);
      expectStatus(await api('POST', `/api/workflows/${knownWorkflow}/execute`, { raw: '"str"' }), 400);
      expectStatus(await api('POST', `/api/workflows/${knownWorkflow}/execute`, { raw: '' }), 202);
    });

    it('validates list and events queries', async () => {
      expectStatus(await api('GET', '/api/executions?limit=abc'), 400);
      expectStatus(await api('GET', '/api/executions?status=bogus'), 400);
      expectStatus(await api('GET', `/api/executions?limit=9999&status=running&workflow_id=${knownWorkflow}`), 200);
      expect(seen.filter((s) => s.op === 'executions.list').at(-1)?.req.query).toEqual({ limit: 500, status: 'running', workflow_id: knownWorkflow });
      const id = randomUUID();
      expectStatus(await api('GET', `/api/executions/${id}/events?from_seq=3&limit=10`), 200);
      expect(seen.filter((s) => s.op === 'events').at(-1)?.req).toMatchObject({ id, from_seq: 3, limit: 10 });
    });
  });

  describe('SSE', () => {
    const stream = (id: string, headers: Record<string, string> = {}, query = '') => {
      const p = openSse(`${base}/api/executions/${id}/stream${query}`, { ...SCOPE_HEADERS, ...headers });
      void p.then((c) => opened.push(c));
      return p;
    };
    const started = (id: string): ExecutionEvent => ({
      type: 'ExecutionStarted', execution_id: id, workflow_id: knownWorkflow, workflow_version: 1, definition: { name: 'w', steps: [] },
      scope: { organization_id: 'org-1', project_id: 'proj-1' }, input: {}, context: {}, user_id: null, session_id: null, at: at(1),
    });

    async function consumerCount(): Promise<number> {
      const jsm = await jetstreamManager(nc);
      return (await jsm.streams.info(STREAMS.executions)).state.consumer_count;
    }

    it('answers 404 JSON before any SSE byte for an unknown execution', async () => {
      const conn = await stream(randomUUID());
      expect(conn.status).toBe(404);
      expect(conn.headers['content-type']).toContain('application/json');
      await conn.ended;
      expect(JSON.parse(conn.body())).toMatchObject({ error: { code: 'NOT_FOUND' } });
    });

    it('streams history then live entries with S / S.i ids, heartbeats, and ends after complete', async () => {
      const id = randomUUID();
      knownExecutions.add(id);
      const first = await store.append(id, [started(id), { type: 'StepStarted', step_id: 'trigger', step_type: 'trigger', attempt: 1, at: at(2) }], 0, `${id}:1`);

      const conn = await stream(id);
      expect(conn.status).toBe(200);
      expect(conn.headers['content-type']).toContain('text/event-stream');
      expect(conn.headers['cache-control']).toBe('no-cache');
      expect(conn.headers['x-accel-buffering']).toBe('no');
      await eventually(() => conn.messages.length >= 3);
      expect(conn.messages[0]).toEqual({ event: 'connected', data: { execution_id: id, timestamp: expect.any(String) } });
      expect(conn.messages.slice(1, 3)).toEqual([
        { id: String(first.seq), event: 'status', data: { execution_id: id, timestamp: at(1), status: 'running' } },
        { id: `${first.seq}.1`, event: 'step_start', data: { execution_id: id, timestamp: at(2), step: 'trigger', step_type: 'trigger', attempt: 1 } },
      ]);

      const delta = await store.appendStream(id, [{ type: 'Delta', step_id: 'agent', content: 'Hel', at: at(3) }]);
      const second = await store.append(
        id,
        [
          { type: 'StepCompleted', step_id: 'trigger', attempt: 1, output: { kind: 'api' }, branch: 'next', duration_ms: 3, at: at(4) },
          { type: 'TimerScheduled', timer_id: 't', purpose: 'delay', fire_at: at(9), at: at(4) },
          { type: 'ErrorRaised', step_id: 'agent', error: { code: 'TOOL_ERROR', message: 'Tool execution failed' }, at: at(4) },
        ],
        first.seq,
        `${id}:2`,
      );
      await eventually(() => conn.messages.some((m) => m.id === `${second.seq}.2`));
      expect(conn.messages.filter((m) => m.id !== undefined).map((m) => [m.id, m.event])).toEqual([
        [String(first.seq), 'status'],
        [`${first.seq}.1`, 'step_start'],
        [String(delta.seq), 'delta'],
        [String(second.seq), 'step_complete'],
        [`${second.seq}.2`, 'error'],
      ]);

      await eventually(() => conn.messages.some((m) => m.event === 'heartbeat'));
      const beat = conn.messages.find((m) => m.event === 'heartbeat');
      expect(beat).toEqual({ event: 'heartbeat', data: { execution_id: id, timestamp: expect.any(String) } });

      const last = await store.append(id, [{ type: 'ExecutionCompleted', status: 'completed', result: { ok: true }, at: at(5) }], second.seq, `${id}:3`);
      await conn.ended;
      expect(conn.messages.at(-1)).toEqual({ id: String(last.seq), event: 'complete', data: { execution_id: id, timestamp: at(5), status: 'completed', result: { ok: true } } });
      await eventually(async () => (await consumerCount()) === 0);

      // A late client gets the whole history and the stream ends at once.
      const late = await stream(id);
      await late.ended;
      expect(late.messages.map((m) => m.event)).toEqual(['connected', 'status', 'step_start', 'delta', 'step_complete', 'error', 'complete']);

      // Resume strictly after an id, by header or by query.
      const resumed = await stream(id, { 'Last-Event-ID': `${first.seq}` });
      await resumed.ended;
      expect(resumed.messages.filter((m) => m.id).map((m) => m.id)).toEqual([`${first.seq}.1`, String(delta.seq), String(second.seq), `${second.seq}.2`, String(last.seq)]);
      const resumedByQuery = await stream(id, {}, `?last_event_id=${second.seq}.2`);
      await resumedByQuery.ended;
      expect(resumedByQuery.messages.map((m) => m.event)).toEqual(['connected', 'complete']);

      const bad = await stream(id, { 'Last-Event-ID': 'abc' });
      expect(bad.status).toBe(400);
    });

    it('stops the follower when the client disconnects', async () => {
      const id = randomUUID();
      knownExecutions.add(id);
      await store.append(id, [started(id)], 0, `${id}:1`);
      const conn = await stream(id);
      await eventually(() => conn.messages.length >= 2);
      await eventually(async () => (await consumerCount()) === 1);
      conn.close();
      await eventually(async () => (await consumerCount()) === 0);
    });

    it('keeps scopes apart on the stream (another organization gets 404)', async () => {
      const id = randomUUID();
      knownExecutions.add(id);
      const conn = await stream(id, { 'X-elevAIte-OrganizationId': 'org-2' });
      expect(conn.status).toBe(404);
    });
  });
});

describe('gateway in token auth mode', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let app: NestFastifyApplication;
  let base: string;
  let closed = false;
  const logLines: string[] = [];
  const executionId = randomUUID();
  const SCOPE = { 'X-elevAIte-OrganizationId': 'o', 'X-elevAIte-ProjectId': 'p', 'X-elevAIte-UserId': 'u' };

  beforeAll(async () => {
    nats = await TestNatsServer.start();
    nc = await connectNats({ servers: nats.url, name: 'gateway-auth-test' });
    const workflows = new RpcServer(nc, 'workflows');
    workflows.handle('list', async () => ({ items: [], next_cursor: null }));
    const executions = new RpcServer(nc, 'executions');
    executions.handle('authorize', async (req: { id: string }) => ({ id: req.id }));
    await nc.flush();
    await ensureStreams(nc);
    let dbUp = true;
    app = await createGatewayApp({
      nc,
      config: loadConfig({ AUTH_MODE: 'token', AUTH_TOKENS: 'secret-1,secret-2' }),
      logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }),
      healthCheck: async () => {
        const up = dbUp;
        dbUp = !dbUp;
        return up;
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    if (!closed) await app?.close();
    await nc?.close();
    await nats?.stop();
  });

  it('answers 401 without a valid token and accepts a header or query token', async () => {
    const get = (path: string, headers: Record<string, string> = {}) => call(base, 'GET', path, { headers: { ...SCOPE, ...headers } });
    expect(await get('/api/workflows')).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
    expect((await get('/api/workflows', { Authorization: 'Bearer nope' })).status).toBe(401);
    expect(await get('/api/workflows', { Authorization: 'Bearer secret-2' })).toMatchObject({ status: 200, body: { items: [], next_cursor: null } });
    expect((await get('/api/workflows?access_token=secret-1')).status).toBe(200);
    // Authentication comes before the scope check.
    expect((await call(base, 'GET', '/api/workflows')).status).toBe(401);
  });

  it('reports 503 when the database check fails', async () => {
    expect((await call(base, 'GET', '/health')).status).toBe(200);
    const down = await call(base, 'GET', '/health');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unavailable', nats: 'ok', postgres: 'down', error: { code: 'UNAVAILABLE' } });
  });

  it('logs requests without tokens or headers', async () => {
    await call(base, 'GET', '/api/workflows?access_token=secret-1&limit=5', { headers: { ...SCOPE, Authorization: 'Bearer secret-2' } });
    const line = await eventually(() => logLines.find((l) => l.includes('limit=5')) ?? null);
    expect(JSON.parse(line!)).toMatchObject({ method: 'GET', url: '/api/workflows?access_token=[redacted]&limit=5', route: '/api/workflows', status: 200 });
    expect(logLines.join('')).not.toMatch(/secret-|Bearer|elevAIte/);
  });

  it('ends open streams and deletes their consumers on shutdown', async () => {
    const store = new EventStore(nc);
    const first = await store.append(executionId, [{ type: 'ExecutionStatusChanged', status: 'running', at: new Date().toISOString() }], 0, `${executionId}:1`);
    const conn = await openSse(`${base}/api/executions/${executionId}/stream?access_token=secret-1`, SCOPE);
    await eventually(() => conn.messages.some((m) => m.id === String(first.seq)));
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(STREAMS.executions)).state.consumer_count).toBe(1);
    closed = true;
    await app.close();
    await conn.ended;
    expect((await jsm.streams.info(STREAMS.executions)).state.consumer_count).toBe(0);
  });
});
