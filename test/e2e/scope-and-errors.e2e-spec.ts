import { request } from 'node:http';
import { InProcessSystem, SCOPE_HEADERS } from '../support/jetflow-system';
import { http, readSse, type HttpResponse } from '../support/http-client';
import { eventually } from '../support/eventually';

const ORG_A = { 'X-elevAIte-OrganizationId': 'org-a', 'X-elevAIte-ProjectId': 'proj-1', 'X-elevAIte-UserId': 'alice' };
const ORG_B = { 'X-elevAIte-OrganizationId': 'org-b', 'X-elevAIte-ProjectId': 'proj-1', 'X-elevAIte-UserId': 'bob' };
/** Same organization, other project: still another scope. */
const ORG_A_OTHER_PROJECT = { ...ORG_A, 'X-elevAIte-ProjectId': 'proj-2' };

const trigger = (next: string[] = []) => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });
const transform = (id: string, next: string[] = []) => ({ step_id: id, step_type: 'data_transform', parameters: { mapping: { id } }, next_steps: next });

/** Sends raw bytes (malformed JSON, oversized bodies) with exactly the headers given. */
function raw(baseUrl: string, method: string, path: string, body: string | Buffer, headers: Record<string, string>): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: any = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    // The server may answer 413 and close before reading everything.
    req.on('error', reject);
    req.end(body);
  });
}

describe('scope isolation and error handling (HTTP)', () => {
  let sys: InProcessSystem;
  const api = <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = SCOPE_HEADERS) => http<T>(sys.baseUrl, method, path, body, headers);
  const expectError = (res: HttpResponse, status: number, code: string) => {
    expect([res.status, res.body?.error?.code]).toEqual([status, code]);
    expect(typeof res.body.error.message).toBe('string');
  };

  beforeAll(async () => {
    sys = await InProcessSystem.start();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('GET /health answers 200', async () => {
    const res = await http(sys.baseUrl, 'GET', '/health', undefined, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok' });
  });

  describe('scope isolation', () => {
    let workflowId: string;
    let executionId: string;
    let runningId: string;

    beforeAll(async () => {
      const wf = await api('POST', '/api/workflows', { name: 'Secret of A', steps: [trigger(['t']), transform('t')] }, ORG_A);
      expect(wf.status).toBe(201);
      workflowId = wf.body.id;
      const exec = await api('POST', `/api/workflows/${workflowId}/execute`, { trigger: {} }, ORG_A);
      executionId = exec.body.execution_id;
      const { messages } = await readSse(sys.baseUrl, `/api/executions/${executionId}/stream`, { headers: ORG_A });
      expect(messages.at(-1)?.event).toBe('complete');
      const slow = await api('POST', '/api/workflows', { name: 'Slow of A', steps: [trigger(['wait']), { step_id: 'wait', step_type: 'delay', parameters: { seconds: 30 }, next_steps: [] }] }, ORG_A);
      runningId = (await api('POST', `/api/workflows/${slow.body.id}/execute`, { trigger: {} }, ORG_A)).body.execution_id;
      // The read model has caught up with A's runs, so an absence from B's list below means something.
      await eventually(async () => (await api('GET', '/api/executions', undefined, ORG_A)).body.items.length === 2);
      const runningOfA = await eventually(async () => {
        const res = await api('GET', '/api/executions?status=running', undefined, ORG_A);
        expect(res.body.items.map((e: { id: string }) => e.id)).toEqual([runningId]);
        return res;
      });
      expect(runningOfA.body.items[0]).toMatchObject({ id: runningId, status: 'running' });
    });

    it.each([
      ['another organization', ORG_B],
      ['another project of the same organization', ORG_A_OTHER_PROJECT],
    ])("%s gets 404 NOT_FOUND for every route on A's workflow and executions", async (_label, other) => {
      const attempts: [string, string, unknown?][] = [
        ['GET', `/api/workflows/${workflowId}`],
        ['PUT', `/api/workflows/${workflowId}`, { name: 'hijacked', steps: [trigger()] }],
        ['DELETE', `/api/workflows/${workflowId}`],
        ['POST', `/api/workflows/${workflowId}/execute`, { trigger: {} }],
        ['GET', `/api/executions/${executionId}`],
        ['GET', `/api/executions/${executionId}/events`],
        ['POST', `/api/executions/${runningId}/cancel`],
        ['POST', `/api/executions/${executionId}/cancel`],
        ['GET', `/api/executions/${runningId}`],
      ];
      for (const [method, path, body] of attempts) {
        const res = await api(method, path, body, other);
        expect([method, path, res.status, res.body?.error?.code]).toEqual([method, path, 404, 'NOT_FOUND']);
      }
      const stream = await api('GET', `/api/executions/${executionId}/stream`, undefined, { ...other, accept: 'text/event-stream' });
      expect([stream.status, stream.body?.error?.code]).toEqual([404, 'NOT_FOUND']);

      for (const path of ['/api/workflows', '/api/workflows?status=archived', '/api/executions', `/api/executions?workflow_id=${workflowId}`, '/api/executions?status=running']) {
        const list = await api('GET', path, undefined, other);
        expect([path, list.status, list.body.items]).toEqual([path, 200, []]);
      }

      // Nothing B tried changed A's objects.
      const wf = await api('GET', `/api/workflows/${workflowId}`, undefined, ORG_A);
      expect(wf.body).toMatchObject({ name: 'Secret of A', status: 'active', version: 1 });
      const running = await api('GET', `/api/executions/${runningId}`, undefined, ORG_A);
      expect(running.body.status).toBe('running');
      const listA = await api('GET', '/api/workflows', undefined, ORG_A);
      expect(listA.body.items.map((w: { id: string }) => w.id)).toContain(workflowId);
    });
  });

  it('missing scope headers are a 400 VALIDATION_ERROR naming each missing header', async () => {
    const none = await api('GET', '/api/workflows', undefined, {});
    expectError(none, 400, 'VALIDATION_ERROR');
    expect(none.body.error.details).toHaveLength(3);
    for (const name of Object.keys(SCOPE_HEADERS)) {
      const { [name]: _dropped, ...rest } = SCOPE_HEADERS as Record<string, string>;
      const res = await api('POST', '/api/workflows', { name: 'x', steps: [trigger()] }, rest);
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(res.body.error.details).toHaveLength(1);
      expect(JSON.stringify(res.body.error.details[0])).toContain(name);
    }
    const blank = await api('GET', '/api/workflows', undefined, { ...SCOPE_HEADERS, 'X-elevAIte-OrganizationId': '   ' });
    expectError(blank, 400, 'VALIDATION_ERROR');
  });

  it('malformed JSON is a 400 VALIDATION_ERROR', async () => {
    for (const body of ['{"name": "x",', '{name: x}', 'not json at all', '{"a":1}}']) {
      const res = await raw(sys.baseUrl, 'POST', '/api/workflows', body, { ...SCOPE_HEADERS, 'content-type': 'application/json' });
      expect([body, res.status, res.body?.error?.code]).toEqual([body, 400, 'VALIDATION_ERROR']);
    }
  });

  it('wrong types in the execute body are a 400 VALIDATION_ERROR with one detail per field', async () => {
    const wf = await api('POST', '/api/workflows', { name: 'Exec', steps: [trigger()] });
    const path = `/api/workflows/${wf.body.id}/execute`;
    const res = await api('POST', path, { trigger: 'x', context: [], user_id: 5, session_id: { a: 1 } });
    expectError(res, 400, 'VALIDATION_ERROR');
    const paths = res.body.error.details.map((d: { path: string }) => d.path).sort();
    expect(paths.map((p: string) => p.replace(/^body\./, ''))).toEqual(['context', 'session_id', 'trigger', 'user_id']);
    for (const body of [{ trigger: 'x' }, { context: [] }, { trigger: [1] }, { context: 'c' }, { user_id: true }]) {
      const one = await api('POST', path, body);
      expect([body, one.status, one.body?.error?.code]).toEqual([body, 400, 'VALIDATION_ERROR']);
      expect(one.body.error.details).toHaveLength(1);
    }
    for (const body of ['[]', '"x"', '42', 'null']) {
      const whole = await raw(sys.baseUrl, 'POST', path, body, { ...SCOPE_HEADERS, 'content-type': 'application/json' });
      expect([body, whole.status, whole.body?.error?.code]).toEqual([body, 400, 'VALIDATION_ERROR']);
    }
  });

  it('a 2 MiB body is a 413 with a code', async () => {
    const big = JSON.stringify({ name: 'big', description: 'x'.repeat(2 * 1024 * 1024), steps: [trigger()] });
    for (const path of ['/api/workflows', '/api/workflows/validate']) {
      const res = await raw(sys.baseUrl, 'POST', path, big, { ...SCOPE_HEADERS, 'content-type': 'application/json' });
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    }
  });

  describe('invalid graphs: 400 VALIDATION_ERROR, one detail per problem, all in one response', () => {
    const cases: [string, unknown[], string][] = [
      ['duplicate step ids', [trigger(['a']), transform('a'), transform('a')], 'a'],
      ['an unknown step type', [trigger(['a']), { step_id: 'a', step_type: 'teleport', parameters: {}, next_steps: [] }], 'teleport'],
      ['a missing trigger', [transform('a', ['b']), transform('b')], 'trigger'],
      ['a cycle', [trigger(['a']), transform('a', ['b']), transform('b', ['a'])], 'cycle'],
      ['next_steps to a missing step', [trigger(['a']), transform('a', ['ghost'])], 'ghost'],
      [
        'bad condition syntax',
        [trigger(['check']), { step_id: 'check', step_type: 'condition', parameters: { condition: "{{input.x}} == == 'a'" }, next_steps: ['a'] }, transform('a')],
        'check',
      ],
      ['an unreachable step', [trigger(['a']), transform('a'), transform('orphan')], 'orphan'],
    ];

    it.each(cases)('%s is one detail', async (_label, steps, mention) => {
      for (const path of ['/api/workflows', '/api/workflows/validate']) {
        const res = await api('POST', path, { name: 'bad', steps });
        expectError(res, 400, 'VALIDATION_ERROR');
        expect(res.body.error.details).toHaveLength(1);
        expect(JSON.stringify(res.body.error.details[0]).toLowerCase()).toContain(mention.toLowerCase());
      }
    });

    it('several problems at once are all reported together', async () => {
      const steps = [
        trigger(['a', 'check', 'x', 'typo']),
        transform('a', ['ghost']), // next_steps to a missing step
        transform('dup'), // duplicate id (1/2)
        transform('dup'), // duplicate id (2/2)
        { step_id: 'check', step_type: 'condition', parameters: { condition: '(( {{input.x}}' }, next_steps: ['dup'] }, // syntax
        transform('x', ['y']), // cycle x → y → x
        transform('y', ['x']),
        { step_id: 'typo', step_type: 'agentt', parameters: {}, next_steps: [] }, // unknown type
        transform('orphan'), // unreachable
      ];
      const res = await api('POST', '/api/workflows', { name: 'very bad', steps });
      expectError(res, 400, 'VALIDATION_ERROR');
      const details = JSON.stringify(res.body.error.details).toLowerCase();
      for (const mention of ['ghost', 'dup', 'check', 'cycle', 'agentt', 'orphan']) expect([mention, details.includes(mention)]).toEqual([mention, true]);
      expect(res.body.error.details).toHaveLength(6);
      // And nothing was saved.
      const list = await api('GET', '/api/workflows');
      expect(list.body.items.map((w: { name: string }) => w.name)).not.toContain('very bad');
    });
  });

  it('non-UUID ids and unknown ids are 404 NOT_FOUND; unknown routes are 404', async () => {
    for (const [method, path] of [
      ['GET', '/api/workflows/not-a-uuid'],
      ['PUT', '/api/workflows/123'],
      ['DELETE', '/api/workflows/..%2F..%2Fetc'],
      ['POST', '/api/workflows/nope/execute'],
      ['GET', '/api/executions/not-a-uuid'],
      ['GET', '/api/executions/not-a-uuid/events'],
      ['GET', '/api/executions/not-a-uuid/stream'],
      ['POST', '/api/executions/zzz/cancel'],
      ['GET', '/api/workflows/00000000-0000-4000-8000-000000000000'],
      ['GET', '/api/executions/00000000-0000-4000-8000-000000000000'],
      ['GET', '/api/executions/00000000-0000-4000-8000-000000000000/events'],
      ['POST', '/api/executions/00000000-0000-4000-8000-000000000000/cancel'],
      ['POST', '/api/workflows/00000000-0000-4000-8000-000000000000/execute'],
      ['GET', '/api/nothing-here'],
      ['GET', '/nothing-here'],
      ['POST', '/api/executions'],
    ] as const) {
      const res = await api(method, path, method === 'PUT' ? { name: 'x', steps: [trigger()] } : method === 'POST' ? {} : undefined);
      expect([method, path, res.status, res.body?.error?.code]).toEqual([method, path, 404, 'NOT_FOUND']);
    }
  });

  it('never answers a 5xx, whatever the request', async () => {
    const wf = await api('POST', '/api/workflows', { name: 'Target', steps: [trigger()] });
    const id = wf.body.id;
    const json = { ...SCOPE_HEADERS, 'content-type': 'application/json' };
    const requests: [string, () => Promise<HttpResponse>][] = [];
    const label = (method: string, path: string, body: unknown) => `${method} ${path.slice(0, 120)} ${JSON.stringify(body ?? null).slice(0, 120)}`;
    const add = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => requests.push([label(method, path, body), () => api(method, path, body, headers)]);
    const addRaw = (method: string, path: string, body: string, headers: Record<string, string> = json) => requests.push([label(method, path, body), () => raw(sys.baseUrl, method, path, body, headers)]);

    const badDefinitions: unknown[] = [
      {},
      { name: 5 },
      { name: 'x' },
      { name: 'x', steps: 'nope' },
      { name: 'x', steps: [] },
      { name: 'x', steps: [null] },
      { name: 'x', steps: [1, 'two', [3]] },
      { name: 'x', steps: [{}] },
      { name: 'x', steps: [{ step_id: 5, step_type: 'trigger' }] },
      { name: 'x', steps: [{ step_id: 'trigger', step_type: 'trigger', parameters: 'p', next_steps: 'n' }] },
      { name: 'x', steps: [{ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'sms' }, next_steps: [] }] },
      { name: 'x', steps: [trigger(['c']), { step_id: 'c', step_type: 'condition', parameters: { condition: 42 }, next_steps: [] }] },
      { name: 'x', steps: [trigger(['c']), { step_id: 'c', step_type: 'condition', parameters: {}, next_steps: [], else_steps: 'e' }] },
      { name: 'x', steps: [trigger(['c']), { step_id: 'c', step_type: 'condition', parameters: { condition: '{{constructor.prototype}} == 1' }, next_steps: [] }] },
      { name: 'x', steps: [trigger(['d']), { step_id: 'd', step_type: 'data_transform', parameters: { expression: '$$$(((' }, next_steps: [] }] },
      { name: 'x', steps: [trigger(['d']), { step_id: 'd', step_type: 'delay', parameters: { seconds: -1 }, next_steps: [] }] },
      { name: 'x', steps: [trigger(['d']), { step_id: 'd', step_type: 'delay', parameters: { until: 'not a date' }, next_steps: [] }] },
      { name: 'x', steps: [trigger(['l']), { step_id: 'l', step_type: 'loop', parameters: { items: '{{input.list}}', body: ['missing'] }, next_steps: [] }] },
      { name: 'x', steps: [{ ...trigger(), retry: { max_attempts: 'many' }, timeout_seconds: -5 }] },
      { name: 'x', steps: [trigger(), trigger()] },
      { name: 'x', steps: [{ step_id: '__proto__', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['constructor'] }, transform('constructor')] },
      { name: 'x'.repeat(100_000), steps: [trigger()] },
      { name: 'x', steps: Array.from({ length: 2000 }, (_, i) => transform(`s${i}`, [`s${i + 1}`])) },
    ];
    for (const body of badDefinitions) {
      add('POST', '/api/workflows', body);
      add('POST', '/api/workflows/validate', body);
      add('PUT', `/api/workflows/${id}`, body);
    }
    for (const body of [{ trigger: 'x' }, { context: [] }, { trigger: null, context: null }, { user_id: ['a'] }, { trigger: { kind: 'chat', history: 'h' } }]) add('POST', `/api/workflows/${id}/execute`, body);
    add('POST', `/api/workflows/${id}/execute`, {}, { ...SCOPE_HEADERS, 'Idempotency-Key': 'k'.repeat(300) });
    for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=1e9', 'limit=99999999999999999999', 'cursor=', 'cursor=garbage', 'cursor=%00%01', 'status=weird', 'limit=1&limit=2']) {
      add('GET', `/api/workflows?${q}`);
      add('GET', `/api/executions?${q}`);
    }
    for (const q of ['workflow_id=not-a-uuid', 'status=done', 'workflow_id=00000000-0000-4000-8000-000000000000']) add('GET', `/api/executions?${q}`);
    for (const q of ['from_seq=-1', 'from_seq=abc', 'from_seq=0', 'limit=0', 'from_seq=99999999999999999999']) add('GET', `/api/executions/00000000-0000-4000-8000-000000000000/events?${q}`);
    add('GET', '/api/executions/00000000-0000-4000-8000-000000000000/stream', undefined, { ...SCOPE_HEADERS, 'Last-Event-ID': 'garbage' });
    addRaw('POST', '/api/workflows', '{"name":');
    addRaw('POST', '/api/workflows', '');
    addRaw('POST', '/api/workflows', '<xml/>', { ...SCOPE_HEADERS, 'content-type': 'application/xml' });
    addRaw('POST', '/api/workflows', 'name=x', { ...SCOPE_HEADERS, 'content-type': 'application/x-www-form-urlencoded' });
    addRaw('POST', '/api/workflows', '{"name":"x"}', { ...SCOPE_HEADERS, 'content-type': 'text/plain' });
    addRaw('POST', `/api/workflows/${id}/execute`, '{"trigger": {"a": ');
    addRaw('POST', '/api/workflows', '{"__proto__": {"polluted": true}, "name": "x", "steps": []}');
    addRaw('POST', '/api/workflows', '{"constructor": {"prototype": {"polluted": true}}}');
    addRaw('POST', '/api/workflows', '['.repeat(5000) + ']'.repeat(5000));
    add('PATCH', `/api/workflows/${id}`, { name: 'x' });
    add('POST', '/api/approvals/not-a-uuid', { decision: 'maybe' });
    add('POST', '/api/approvals/00000000-0000-4000-8000-000000000000', { decision: 'maybe' });
    add('GET', '/api/approvals?status=weird');
    add('GET', '/api/workflows', undefined, { 'X-elevAIte-OrganizationId': 'only-org' });

    const failures: string[] = [];
    for (const [what, send] of requests) {
      const res = await send();
      // Some of these are odd but acceptable (e.g. `__proto__` as a step id): what matters is no 5xx
      // and a coded error body on every refusal.
      if (res.status >= 500 || (res.status >= 400 && typeof res.body?.error?.code !== 'string')) failures.push(`${res.status} ${res.text.slice(0, 200)} <- ${what}`);
    }
    expect(requests.length).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    // The system still works after all that.
    const health = await http(sys.baseUrl, 'GET', '/health', undefined, {});
    expect(health.status).toBe(200);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
