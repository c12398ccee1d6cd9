import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StepTask } from '@jetflow/contracts';
import { apiCallHandler } from './api-call.handler';
import type { HandlerContext } from './step-handler';

const TOKEN = 'tok-9d2e77a1c4';
const OTHER = 'other-5b3f08';

interface Seen {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A local server answering `reply(path)`; records every request. */
async function fixture(reply: (path: string) => { status: number; headers?: Record<string, string> }): Promise<{ server: Server; base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const r = reply(req.url ?? '');
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const task = (parameters: Record<string, unknown>, extra: Partial<StepTask> = {}): StepTask => ({
  execution_id: '00000000-0000-4000-8000-000000000001',
  step_id: 'call',
  attempt: 1,
  step_type: 'api_call',
  parameters,
  scope: { organization_id: 'o', project_id: 'p' },
  input: {},
  idempotency_key: 'k',
  ...extra,
});

const ctx: HandlerContext = { signal: new AbortController().signal, secrets: { TOKEN, OTHER }, allowPrivateNetworks: true };

describe('api_call secrets', () => {
  let target: Awaited<ReturnType<typeof fixture>>;
  /** Another origin (other port) that a redirect sends the call to. */
  let elsewhere: Awaited<ReturnType<typeof fixture>>;
  let redirector: Awaited<ReturnType<typeof fixture>>;

  beforeAll(async () => {
    target = await fixture(() => ({ status: 200 }));
    elsewhere = await fixture(() => ({ status: 200 }));
    redirector = await fixture((path) => (path === '/same' ? { status: 200 } : path === '/hop' ? { status: 307, headers: { location: '/same' } } : { status: 307, headers: { location: `${elsewhere.base}/landed` } }));
  });
  afterAll(async () => {
    for (const f of [target, elsewhere, redirector]) await new Promise<void>((r) => f.server.close(() => r()));
  });
  beforeEach(() => {
    for (const f of [target, elsewhere, redirector]) f.seen.length = 0;
  });

  it('resolves only the slots: the definition template is sent, a data-injected one arrives as inert text', async () => {
    // As the engine builds it for url ".../services/{{secrets.TOKEN}}", body {text: "{{input.body.title}}"}
    // and title "{{secrets.TOKEN}}" from an outsider.
    const url = `${target.base}/services/{{secrets.TOKEN}}`;
    const start = url.indexOf('{{');
    const outcome = await apiCallHandler(
      task(
        { url, method: 'POST', body: { text: '{{secrets.TOKEN}}' }, headers: { 'x-note': 'k {{secrets.OTHER}} / {{secrets.OTHER}}' } },
        {
          secret_slots: [
            { path: ['url'], names: ['TOKEN'], spans: [[start, start + 17]] },
            { path: ['headers', 'x-note'], names: ['OTHER'], spans: [[2, 19]] },
          ],
          secret_refs: ['TOKEN', 'OTHER'],
        },
      ),
      ctx,
    );
    expect(outcome.ok).toBe(true);
    expect(target.seen).toHaveLength(1);
    expect(target.seen[0]!.url).toBe(`/services/${TOKEN}`);
    expect(JSON.parse(target.seen[0]!.body)).toEqual({ text: '{{secrets.TOKEN}}' });
    expect(target.seen[0]!.headers['x-note']).toBe(`k ${OTHER} / {{secrets.OTHER}}`);
  });

  it('a task from an older engine (secret_refs only) still gets its names resolved', async () => {
    const outcome = await apiCallHandler(task({ url: `${target.base}/old`, headers: { authorization: 'Bearer {{secrets.TOKEN}}' } }, { secret_refs: ['TOKEN'] }), ctx);
    expect(outcome.ok).toBe(true);
    expect(target.seen[0]!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
  });

  it('a cross-origin redirect drops every header carrying a secret and the api-key headers; the same origin keeps them', async () => {
    const headers = { authorization: 'Bearer {{secrets.TOKEN}}', 'x-api-key': 'plain-key', 'x-custom-auth': 'key={{secrets.OTHER}}', 'x-plain': 'hello' };
    const slots = [
      { path: ['headers', 'authorization'], names: ['TOKEN'], spans: [[7, 24]] as [number, number][] },
      { path: ['headers', 'x-custom-auth'], names: ['OTHER'], spans: [[4, 21]] as [number, number][] },
    ];
    const cross = await apiCallHandler(task({ url: `${redirector.base}/away`, headers }, { secret_slots: slots }), ctx);
    expect(cross.ok).toBe(true);
    expect(redirector.seen[0]!.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'x-api-key': 'plain-key', 'x-custom-auth': `key=${OTHER}`, 'x-plain': 'hello' });
    expect(elsewhere.seen).toHaveLength(1);
    const landed = elsewhere.seen[0]!.headers;
    expect(landed['x-plain']).toBe('hello');
    expect(landed['idempotency-key']).toBeDefined();
    for (const h of ['authorization', 'x-api-key', 'x-custom-auth']) expect(landed[h]).toBeUndefined();
    expect(JSON.stringify(landed)).not.toContain(TOKEN);
    expect(JSON.stringify(landed)).not.toContain(OTHER);

    redirector.seen.length = 0;
    const same = await apiCallHandler(task({ url: `${redirector.base}/hop`, headers }, { secret_slots: slots }), ctx);
    expect(same.ok).toBe(true);
    expect(redirector.seen.map((s) => s.url)).toEqual(['/hop', '/same']);
    expect(redirector.seen[1]!.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'x-api-key': 'plain-key', 'x-custom-auth': `key=${OTHER}` });
  });
});
