import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemResolver, type HostResolver } from '@jetflow/tools';
import { InProcessSystem } from '../support/jetflow-system';
import { http, readSse, type SseMessage } from '../support/http-client';

const TOKEN = 'tok-7f3c9a1e5b2d4c60';
const PROJECT_KEY = 'pk-4b1d9e0c77a2';
const OTHER_SCOPE = { 'X-elevAIte-OrganizationId': 'org-other', 'X-elevAIte-ProjectId': 'proj-other', 'X-elevAIte-UserId': 'u2' };

interface Hit {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

/** Local HTTP server standing in for tool endpoints and APIs; records every request. */
class Fixture {
  readonly hits: Hit[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Fixture> {
    let f!: Fixture;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0]!;
        const hit = { path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        f.hits.push(hit);
        const n = f.hits.filter((h) => h.path === path).length;
        const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(body));
        };
        // A Slack-style incoming webhook: the secret is part of the path.
        if (path.startsWith('/services/')) return json(200, { ok: true });
        switch (path) {
          case '/tools/get_order':
            return json(200, { order_id: JSON.parse(hit.body).order_id, status: 'shipped', eta_days: 2 });
          case '/json':
          case '/scoped':
            return json(200, { hello: 'world', n: 1 });
          case '/text':
            res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
            return res.end('plain text answer');
          case '/missing':
            return json(404, { error: 'not here' });
          case '/echo':
            return json(200, { headers: req.headers, body: hit.body }, { 'x-echo-auth': String(req.headers['authorization'] ?? '') });
          case '/redirect-to-metadata':
            res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' });
            return res.end();
          case '/rate-limited':
            return n === 1 ? json(429, { error: 'slow down' }, { 'retry-after': '1' }) : json(200, { attempt: n });
          default:
            return json(404, { error: 'no route' });
        }
      });
    });
    f = new Fixture(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return f;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }
  hitsOf(path: string): Hit[] {
    return this.hits.filter((h) => h.path === path);
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Real DNS, except one name made to point at the cloud metadata address (no such public name here). */
const resolver: HostResolver = async (host) => (host === 'metadata-alias.test' ? [{ address: '169.254.169.254', family: 4 }] : systemResolver(host));

const trigger = (next: string) => ({ step_id: 'start', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: [next] });
const single = (name: string, step: Record<string, unknown>) => ({ name, steps: [trigger(String(step['step_id'])), { next_steps: [], ...step }] });

describe('tools, tool_call and api_call (HTTP + SSE)', () => {
  let sys: InProcessSystem;
  let fx: Fixture;
  const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(sys.baseUrl, method, path, body, headers);

  async function run(definition: unknown, input: Record<string, unknown> = {}): Promise<{ id: string; exec: any; messages: SseMessage[]; events: string }> {
    const created = await api('POST', '/api/workflows', definition);
    expect(created.status).toBe(201);
    const started = await api('POST', `/api/workflows/${created.body.id}/execute`, { trigger: input });
    expect(started.status).toBe(202);
    const id = started.body.execution_id as string;
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${id}/stream`);
    expect(messages.at(-1)?.event).toBe('complete');
    const exec = (await api('GET', `/api/executions/${id}`)).body;
    const events = (await api('GET', `/api/executions/${id}/events?limit=1000`)).text;
    return { id, exec, messages, events };
  }
  const step = (exec: any, id: string) => exec.steps.find((s: any) => s.step_id === id);

  const getOrderTool = () => ({
    name: 'get_order',
    description: 'Looks an order up by id',
    input_schema: { type: 'object', properties: { order_id: { type: 'string', pattern: '^[A-Z]-\\d+$' } }, required: ['order_id'], additionalProperties: false },
    endpoint: { url: fx.url('/tools/get_order'), method: 'POST' },
  });

  beforeAll(async () => {
    fx = await Fixture.start();
    sys = await InProcessSystem.start(
      { SECRETS: JSON.stringify({ API_TOKEN: TOKEN }), SCOPED_SECRETS: JSON.stringify({ 'org-e2e/proj-e2e': { PROJECT_KEY } }), API_CALL_DENY_HOSTS: 'denied.test' },
      { resolver },
    );
  });
  afterAll(async () => {
    await sys?.stop();
    await fx?.stop();
  });

  describe('tool registry over the API', () => {
    it('creates, lists, reads, updates and deletes a tool, scoped per organization/project', async () => {
      const created = await api('POST', '/api/tools', { ...getOrderTool(), name: 'crud_tool' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: expect.any(String), name: 'crud_tool', description: 'Looks an order up by id', endpoint: { method: 'POST', headers: {} } });
      const id = created.body.id as string;

      expect((await api('GET', `/api/tools/${id}`)).body).toMatchObject({ id, name: 'crud_tool' });
      const list = await api('GET', '/api/tools?limit=500');
      expect(list.status).toBe(200);
      expect(list.body.items.map((t: any) => t.id)).toContain(id);
      expect(list.body).toHaveProperty('next_cursor');

      // Same name in the same scope: conflict. In another scope: independent.
      expect((await api('POST', '/api/tools', { ...getOrderTool(), name: 'crud_tool' })).status).toBe(409);
      const theirs = await api('POST', '/api/tools', { ...getOrderTool(), name: 'crud_tool' }, OTHER_SCOPE);
      expect(theirs.status).toBe(201);

      // Another scope sees nothing of ours.
      expect((await api('GET', `/api/tools/${id}`, undefined, OTHER_SCOPE)).status).toBe(404);
      expect((await api('PUT', `/api/tools/${id}`, getOrderTool(), OTHER_SCOPE)).status).toBe(404);
      expect((await api('DELETE', `/api/tools/${id}`, undefined, OTHER_SCOPE)).status).toBe(404);
      const otherList = await api('GET', '/api/tools', undefined, OTHER_SCOPE);
      expect(otherList.body.items.map((t: any) => t.id)).toEqual([theirs.body.id]);

      const updated = await api('PUT', `/api/tools/${id}`, { ...getOrderTool(), name: 'crud_tool', description: 'v2' });
      expect(updated.status).toBe(200);
      expect(updated.body.description).toBe('v2');

      expect((await api('DELETE', `/api/tools/${id}`)).status).toBe(200);
      expect((await api('GET', `/api/tools/${id}`)).status).toBe(404);
      expect((await api('GET', `/api/tools/${theirs.body.id}`, undefined, OTHER_SCOPE)).status).toBe(200);
    });

    it('rejects an invalid JSON Schema, a built-in name and a bad endpoint with 400 and details', async () => {
      const badSchema = await api('POST', '/api/tools', { ...getOrderTool(), name: 'bad_schema', input_schema: { type: 'object', properties: { a: { type: 'strin' } } } });
      expect(badSchema.status).toBe(400);
      expect(badSchema.body.error.code).toBe('VALIDATION_ERROR');
      expect(badSchema.body.error.details.some((d: any) => d.path.startsWith('input_schema'))).toBe(true);

      const notObject = await api('POST', '/api/tools', { ...getOrderTool(), name: 'not_object', input_schema: { type: 'string' } });
      expect(notObject.status).toBe(400);
      expect(notObject.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'input_schema.type' })]));

      const builtin = await api('POST', '/api/tools', { ...getOrderTool(), name: 'http_request' });
      expect(builtin.status).toBe(400);
      expect(builtin.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'name' })]));

      const badEndpoint = await api('POST', '/api/tools', { ...getOrderTool(), name: 'bad_ep', endpoint: { url: 'ftp://x', method: 'FETCH' } });
      expect(badEndpoint.status).toBe(400);
      expect(badEndpoint.body.error.details.map((d: any) => d.path).sort()).toEqual(['endpoint.method', 'endpoint.url']);

      expect((await api('GET', '/api/tools/not-a-uuid')).status).toBe(404);
    });
  });

  describe('tool_call', () => {
    beforeAll(async () => {
      expect((await api('POST', '/api/tools', getOrderTool())).status).toBe(201);
    });

    it('calls a user tool with valid arguments: tool_call / tool_result on SSE, result as the step output', async () => {
      const { id, exec, messages } = await run(single('Lookup', { step_id: 'lookup', step_type: 'tool_call', parameters: { tool: 'get_order', arguments: { order_id: '{{input.order_id}}' } } }), {
        order_id: 'A-17',
      });
      expect(exec.status).toBe('completed');
      expect(step(exec, 'lookup')).toMatchObject({ status: 'completed', result: { order_id: 'A-17', status: 'shipped', eta_days: 2 } });

      const events = messages.map((m) => m.event);
      const call = messages.find((m) => m.event === 'tool_call')!;
      const result = messages.find((m) => m.event === 'tool_result')!;
      expect(call.data).toMatchObject({ execution_id: id, step: 'lookup', tool: 'get_order', arguments: { order_id: 'A-17' }, timestamp: expect.any(String) });
      expect(result.data).toMatchObject({ step: 'lookup', tool: 'get_order', result: { order_id: 'A-17', status: 'shipped' } });
      const at = (pred: (m: SseMessage) => boolean) => messages.findIndex(pred);
      expect(at((m) => m.event === 'step_start' && m.data.step === 'lookup')).toBeLessThan(events.indexOf('tool_call'));
      expect(events.indexOf('tool_call')).toBeLessThan(events.indexOf('tool_result'));
      expect(events.indexOf('tool_result')).toBeLessThan(at((m) => m.event === 'step_complete' && m.data.step === 'lookup'));
      // The tool's result costs no append of its own: it opens the log entry of the step's result
      // (SSE ids "<seq>.i" of one entry), after the call (same entry when the tool answered within
      // 20 ms, an earlier one when its call was journaled while it ran).
      const entryOf = (m: SseMessage) => Number(m.id!.split('.')[0]);
      expect(entryOf(result)).toBe(entryOf(messages[at((m) => m.event === 'step_complete' && m.data.step === 'lookup')]!));
      expect(entryOf(call)).toBeLessThanOrEqual(entryOf(result));

      const hit = fx.hitsOf('/tools/get_order').at(-1)!;
      expect(JSON.parse(hit.body)).toEqual({ order_id: 'A-17' });
      expect(hit.headers['idempotency-key']).toBe(`${id}:lookup`);
    });

    it('schema-invalid arguments fail the run with TOOL_ERROR and details, and the endpoint is never called', async () => {
      const before = fx.hitsOf('/tools/get_order').length;
      const { exec, messages } = await run(single('Bad args', { step_id: 'lookup', step_type: 'tool_call', parameters: { tool: 'get_order', arguments: { order_id: 'lowercase', extra: 1 } } }));
      expect(exec.status).toBe('failed');
      const err = step(exec, 'lookup').error;
      expect(err.code).toBe('TOOL_ERROR');
      expect(err.message).toMatch(/input_schema of get_order/);
      expect(err.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path: 'arguments', code: 'additionalProperties' }),
          expect.objectContaining({ path: 'arguments.order_id', code: 'pattern' }),
        ]),
      );
      expect(exec.error.code).toBe('TOOL_ERROR');
      expect(messages.at(-1)!.data).toMatchObject({ status: 'failed' });
      expect(fx.hitsOf('/tools/get_order').length).toBe(before);
    });

    it('runs built-in tools (json_query, current_time) and fails on an unknown tool', async () => {
      const ok = await run({
        name: 'Built-ins',
        steps: [
          trigger('q'),
          { step_id: 'q', step_type: 'tool_call', parameters: { tool: 'json_query', arguments: { query: 'items[price > 10].name', data: { items: '{{input.items}}' } } }, next_steps: ['t'] },
          { step_id: 't', step_type: 'tool_call', parameters: { tool: 'current_time', arguments: { timezone: 'Europe/Paris' } }, next_steps: [] },
        ],
      }, { items: [{ name: 'a', price: 5 }, { name: 'b', price: 20 }, { name: 'c', price: 30 }] });
      expect(ok.exec.status).toBe('completed');
      expect(step(ok.exec, 'q').result).toEqual(['b', 'c']);
      expect(step(ok.exec, 't').result).toMatchObject({ now: expect.any(String), timezone: 'Europe/Paris', local: expect.any(String) });

      const unknown = await run(single('Unknown', { step_id: 'x', step_type: 'tool_call', parameters: { tool: 'no_such_tool', arguments: {} } }));
      expect(unknown.exec.status).toBe('failed');
      expect(step(unknown.exec, 'x').error).toMatchObject({ code: 'TOOL_ERROR', message: 'unknown tool no_such_tool' });
    });

    it('a tool of another scope is not visible', async () => {
      const created = await api('POST', '/api/tools', { ...getOrderTool(), name: 'private_tool' }, OTHER_SCOPE);
      expect(created.status).toBe(201);
      const { exec } = await run(single('Foreign', { step_id: 'x', step_type: 'tool_call', parameters: { tool: 'private_tool', arguments: { order_id: 'A-1' } } }));
      expect(step(exec, 'x').error).toMatchObject({ code: 'TOOL_ERROR', message: 'unknown tool private_tool' });
    });
  });

  describe('api_call', () => {
    it('returns JSON and text responses as {status, headers, body}', async () => {
      const { exec } = await run({
        name: 'Calls',
        steps: [
          trigger('j'),
          { step_id: 'j', step_type: 'api_call', parameters: { url: fx.url('/json') }, next_steps: ['t'] },
          { step_id: 't', step_type: 'api_call', parameters: { url: fx.url('/text'), method: 'POST', body: { from: '{{steps.j.output.body.hello}}' } }, next_steps: [] },
        ],
      });
      expect(exec.status).toBe('completed');
      expect(step(exec, 'j').result).toMatchObject({ status: 200, headers: { 'content-type': 'application/json' }, body: { hello: 'world', n: 1 } });
      expect(step(exec, 't').result).toMatchObject({ status: 200, body: 'plain text answer' });
      const posted = fx.hitsOf('/text').at(-1)!;
      expect(posted).toMatchObject({ method: 'POST', body: '{"from":"world"}' });
      expect(posted.headers['content-type']).toBe('application/json');
    });

    it('expect_status: a listed 404 completes; a 404 without it fails with TOOL_ERROR', async () => {
      const accepted = await run(single('Expect 404', { step_id: 'c', step_type: 'api_call', parameters: { url: fx.url('/missing'), expect_status: [404] } }));
      expect(accepted.exec.status).toBe('completed');
      expect(step(accepted.exec, 'c').result).toMatchObject({ status: 404, body: { error: 'not here' } });

      const refused = await run(single('Default 2xx', { step_id: 'c', step_type: 'api_call', parameters: { url: fx.url('/missing') } }));
      expect(refused.exec.status).toBe('failed');
      expect(step(refused.exec, 'c').error).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/^HTTP 404 from 127\.0\.0\.1/) });
    });

    it('429 honours Retry-After and every attempt carries the same Idempotency-Key', async () => {
      const { id, exec } = await run(
        single('Rate limited', { step_id: 'rl', step_type: 'api_call', parameters: { url: fx.url('/rate-limited') }, retry: { max_attempts: 3, backoff_seconds: 0.1 } }),
      );
      expect(exec.status).toBe('completed');
      expect(step(exec, 'rl')).toMatchObject({ attempts: 2, result: { status: 200, body: { attempt: 2 } } });
      const hits = fx.hitsOf('/rate-limited');
      expect(hits.map((h) => h.headers['idempotency-key'])).toEqual([`${id}:rl`, `${id}:rl`]);
      expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(950);
    });
  });

  describe('outbound safety (SSRF)', () => {
    const refusedRun = async (name: string, url: string) => {
      const { exec } = await run(single(name, { step_id: 'call', step_type: 'api_call', parameters: { url }, retry: { max_attempts: 3, backoff_seconds: 0.1 } }));
      expect(exec.status).toBe('failed');
      const s = step(exec, 'call');
      expect(s.error.code).toBe('TOOL_ERROR');
      expect(s.error.message).toMatch(/^outbound call refused: /);
      expect(s.attempts).toBe(1); // terminal: retrying cannot help
      return s.error.message as string;
    };

    it('refuses the metadata IP', async () => {
      expect(await refusedRun('Metadata IP', 'http://169.254.169.254/latest/meta-data')).toMatch(/169\.254\.169\.254 is a link-local/);
    });

    it('refuses a redirect to the metadata IP', async () => {
      const before = fx.hitsOf('/redirect-to-metadata').length;
      expect(await refusedRun('Redirect', fx.url('/redirect-to-metadata'))).toMatch(/169\.254\.169\.254/);
      expect(fx.hitsOf('/redirect-to-metadata').length).toBe(before + 1);
    });

    it('refuses a DNS name that resolves to the metadata IP', async () => {
      expect(await refusedRun('DNS alias', 'http://metadata-alias.test/latest/meta-data')).toMatch(/metadata-alias\.test \(169\.254\.169\.254\)/);
    });

    it('refuses metadata host names and hosts on the deny list; http_request goes through the same guard', async () => {
      expect(await refusedRun('Metadata name', 'http://metadata.google.internal/computeMetadata/v1/')).toMatch(/metadata host/);
      expect(await refusedRun('Denied', 'http://denied.test/')).toMatch(/deny list/);
      const viaTool = await run(single('Tool SSRF', { step_id: 'call', step_type: 'tool_call', parameters: { tool: 'http_request', arguments: { url: 'http://[fd00:ec2::254]/latest/meta-data' } } }));
      expect(step(viaTool.exec, 'call').error).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/^outbound call refused/) });
    });
  });

  describe('secrets', () => {
    it('{{secrets.API_TOKEN}} reaches the server but never the log, the SSE stream or the step output', async () => {
      const { id, exec, messages, events } = await run(
        single('Secret header', {
          step_id: 'call',
          step_type: 'api_call',
          parameters: { url: fx.url('/echo'), method: 'POST', headers: { Authorization: 'Bearer {{secrets.API_TOKEN}}' }, body: { note: 'token is {{secrets.API_TOKEN}}' } },
        }),
      );
      expect(exec.status).toBe('completed');
      const hit = fx.hitsOf('/echo').at(-1)!;
      expect(hit.headers['authorization']).toBe(`Bearer ${TOKEN}`);
      expect(JSON.parse(hit.body)).toEqual({ note: `token is ${TOKEN}` });

      // The echo came back with the token in body and headers: scrubbed before it was recorded.
      expect(step(exec, 'call').result).toMatchObject({ body: { headers: { authorization: 'Bearer [REDACTED]' } }, headers: { 'x-echo-auth': 'Bearer [REDACTED]' } });
      expect(events).toContain('StepCompleted');
      expect(events).not.toContain(TOKEN);
      expect(JSON.stringify(messages)).not.toContain(TOKEN);
      expect(JSON.stringify(exec)).not.toContain(TOKEN);
      const raw = await readSse(sys.baseUrl, `/api/executions/${id}/stream`);
      expect(JSON.stringify(raw.messages)).not.toContain(TOKEN);
    });

    it('a secret template arriving in run-time input stays inert text', async () => {
      const { exec } = await run(single('Injection', { step_id: 'call', step_type: 'api_call', parameters: { url: fx.url('/echo'), method: 'POST', body: { msg: '{{input.msg}}' } } }), {
        msg: 'leak {{secrets.API_TOKEN}}',
      });
      expect(exec.status).toBe('completed');
      expect(JSON.parse(fx.hitsOf('/echo').at(-1)!.body)).toEqual({ msg: 'leak {{secrets.API_TOKEN}}' });
    });

    it('webhook → Slack-style api_call: a secret template an outsider sends stays inert text, the definition\'s own is resolved', async () => {
      const created = await api('POST', '/api/workflows', {
        name: 'Slack relay',
        steps: [
          { step_id: 'hook', step_type: 'trigger', parameters: { kind: 'webhook' }, next_steps: ['post'] },
          {
            step_id: 'post',
            step_type: 'api_call',
            parameters: { url: fx.url('/services/{{secrets.API_TOKEN}}'), method: 'POST', body: { text: '{{input.body.title}}' } },
            next_steps: [],
          },
        ],
      });
      expect(created.status).toBe(201);
      const before = fx.hits.length;
      // The outsider: no scope headers, no token, only the hook URL.
      const sent = await http(sys.baseUrl, 'POST', `/api/hooks/${created.body.id}`, { title: '{{secrets.API_TOKEN}}' }, { 'content-type': 'application/json' });
      expect(sent.status).toBe(202);
      const id = sent.body.execution_id as string;
      const { messages } = await readSse(sys.baseUrl, `/api/executions/${id}/stream`);
      expect(messages.at(-1)?.event).toBe('complete');
      const exec = (await api('GET', `/api/executions/${id}`)).body;
      expect(exec.status).toBe('completed');
      const hits = fx.hits.slice(before).filter((h) => h.path.startsWith('/services/'));
      expect(hits).toHaveLength(1);
      expect(hits[0]!.path).toBe(`/services/${TOKEN}`);
      expect(JSON.parse(hits[0]!.body)).toEqual({ text: '{{secrets.API_TOKEN}}' });
      expect(hits[0]!.body).not.toContain(TOKEN);
      const events = (await api('GET', `/api/executions/${id}/events?limit=1000`)).text;
      expect(events).not.toContain(TOKEN);
    });

    it('in one string mixing a secret and data, only the template the definition wrote is resolved', async () => {
      const { exec } = await run(
        single('Mixed', {
          step_id: 'call',
          step_type: 'api_call',
          parameters: { url: fx.url('/echo'), method: 'POST', headers: { 'x-note': 'key {{secrets.API_TOKEN}} for {{input.user}}' }, body: { user: 'by {{input.user}}' } },
        }),
        { user: '{{secrets.API_TOKEN}}' },
      );
      expect(exec.status).toBe('completed');
      const hit = fx.hitsOf('/echo').at(-1)!;
      expect(hit.headers['x-note']).toBe(`key ${TOKEN} for {{secrets.API_TOKEN}}`);
      expect(JSON.parse(hit.body)).toEqual({ user: 'by {{secrets.API_TOKEN}}' });
    });

    it("a project's scoped secret reaches its own calls; another organization's run cannot name it", async () => {
      const definition = single('scoped-secret', { step_id: 'call', step_type: 'api_call', parameters: { url: fx.url('/scoped'), headers: { 'x-project-key': '{{secrets.PROJECT_KEY}}' } } });
      const own = await run(definition);
      expect(own.exec.status).toBe('completed');
      expect(fx.hitsOf('/scoped').map((h) => h.headers['x-project-key'])).toEqual([PROJECT_KEY]);
      expect(own.events).not.toContain(PROJECT_KEY);

      const created = await api('POST', '/api/workflows', definition, OTHER_SCOPE);
      const started = await api('POST', `/api/workflows/${created.body.id}/execute`, { trigger: {} }, OTHER_SCOPE);
      expect(started.status).toBe(202);
      await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`, { headers: OTHER_SCOPE });
      const other = (await api('GET', `/api/executions/${started.body.execution_id}`, undefined, OTHER_SCOPE)).body;
      expect(other.status).toBe('failed');
      expect(step(other, 'call').error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/unknown secret PROJECT_KEY/) });
      expect(fx.hitsOf('/scoped')).toHaveLength(1);
    });

    it('an unknown secret fails the step without calling out', async () => {
      const before = fx.hitsOf('/echo').length;
      const { exec } = await run(single('Unknown secret', { step_id: 'call', step_type: 'api_call', parameters: { url: fx.url('/echo'), headers: { 'x-key': '{{secrets.NOPE}}' } } }));
      expect(step(exec, 'call').error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/unknown secret NOPE/) });
      expect(fx.hitsOf('/echo').length).toBe(before);
    });
  });
});

describe('api_call with API_CALL_ALLOW_PRIVATE=false', () => {
  let sys: InProcessSystem;
  let fx: Fixture;

  beforeAll(async () => {
    fx = await Fixture.start();
    sys = await InProcessSystem.start({ API_CALL_ALLOW_PRIVATE: 'false' });
  });
  afterAll(async () => {
    await sys?.stop();
    await fx?.stop();
  });

  it('refuses private addresses, as literals and behind a DNS name (localhost)', async () => {
    for (const url of [fx.url('/json'), `http://localhost:${fx.port}/json`]) {
      const created = await http(sys.baseUrl, 'POST', '/api/workflows', single('Private', { step_id: 'call', step_type: 'api_call', parameters: { url } }));
      const started = await http(sys.baseUrl, 'POST', `/api/workflows/${created.body.id}/execute`, { trigger: {} });
      const { messages } = await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`);
      expect(messages.at(-1)!.data).toMatchObject({ status: 'failed' });
      const exec = (await http(sys.baseUrl, 'GET', `/api/executions/${started.body.execution_id}`)).body;
      expect(exec.steps.find((s: any) => s.step_id === 'call').error).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/private address/) });
    }
    expect(fx.hits).toHaveLength(0);
  });
});
