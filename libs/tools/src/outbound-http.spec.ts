import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OutboundRefusedError, type HostResolver } from './outbound-guard';
import { parseRetryAfter, sendOutbound } from './outbound-http';
import { httpCall } from './http-call';

interface Seen {
  readonly url: string;
  readonly method: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A local server whose handler is set per test; records every request. */
let server: Server;
let base: string;
let port: number;
const seen: Seen[] = [];
let handler: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string>; body?: string };

const local: HostResolver = async (host) => {
  if (host === 'api.test' || host === 'other.test') return [{ address: '127.0.0.1', family: 4 }];
  if (host === 'meta.test') return [{ address: '169.254.169.254', family: 4 }];
  throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
};
const deps = { policy: { allowPrivate: true }, resolver: local };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers, body });
      const r = handler(req, body);
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen.length = 0;
});

const get = (url: string, headers: Record<string, string> = {}) => sendOutbound({ url, method: 'GET', headers, timeoutMs: 5_000 }, deps);

describe('sendOutbound', () => {
  it('connects to the checked address while keeping the host name for Host', async () => {
    handler = () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' });
    const res = await get(`http://api.test:${port}/x`);
    expect(res).toMatchObject({ status: 200, body: { ok: true } });
    expect(seen[0]!.headers.host).toBe(`api.test:${port}`);
  });

  it('refuses a redirect to the metadata IP without calling it', async () => {
    handler = () => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data' } });
    await expect(get(`${base}/r`)).rejects.toThrow(OutboundRefusedError);
    expect(seen).toHaveLength(1);
  });

  it('refuses a redirect to a name that resolves to the metadata IP, and to a metadata host name', async () => {
    handler = () => ({ status: 301, headers: { location: 'http://meta.test/latest/meta-data' } });
    await expect(get(`${base}/r`)).rejects.toThrow(/meta\.test \(169\.254\.169\.254\)/);
    handler = () => ({ status: 307, headers: { location: 'http://metadata.google.internal/computeMetadata/v1/' } });
    await expect(get(`${base}/r`)).rejects.toThrow(/metadata host/);
  });

  it('refuses a redirect to a private address when private networks are denied (checked per hop)', async () => {
    handler = () => ({ status: 302, headers: { location: `http://127.0.0.1:${port}/inside` } });
    const policy = { allowPrivate: false };
    const pub: HostResolver = async () => [{ address: '93.184.216.34', family: 4 }];
    // The first hop itself is private here too, so it is refused before any request.
    await expect(sendOutbound({ url: `${base}/r`, method: 'GET', headers: {}, timeoutMs: 5_000 }, { policy, resolver: pub })).rejects.toThrow(/private address/);
    expect(seen).toHaveLength(0);
  });

  it('follows up to 5 redirects, relative ones included, and refuses the 6th', async () => {
    handler = (req) => {
      const n = Number(/\/hop\/(-?\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      return n < 5 ? { status: 302, headers: { location: `/hop/${n + 1}` } } : { status: 200, body: 'landed' };
    };
    await expect(get(`${base}/hop/0`)).resolves.toMatchObject({ status: 200, body: 'landed', url: `${base}/hop/5` });
    seen.length = 0;
    await expect(get(`${base}/hop/-1`)).rejects.toThrow(/too many redirects/);
    expect(seen).toHaveLength(6);
  });

  it('drops credentials on a cross-origin redirect, keeps them on the same origin; 303 becomes GET without body', async () => {
    handler = (req) => {
      if (req.url === '/start') return { status: 302, headers: { location: '/same' } };
      if (req.url === '/same') return { status: 303, headers: { location: `http://other.test:${port}/cross` } };
      return { status: 200, body: 'ok' };
    };
    await sendOutbound({ url: `http://api.test:${port}/start`, method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: '{"a":1}', timeoutMs: 5_000 }, deps);
    expect(seen.map((s) => [s.url, s.method, s.headers.authorization ?? null, s.body])).toEqual([
      ['/start', 'POST', 'Bearer t', '{"a":1}'],
      ['/same', 'GET', 'Bearer t', ''],
      ['/cross', 'GET', null, ''],
    ]);
  });

  it('on a cross-origin redirect also drops api-key headers and every header carrying a secret value in use', async () => {
    // A second server (another origin) records what follows the redirect.
    const landed: IncomingMessage['headers'][] = [];
    const other = createServer((req, res) => {
      landed.push(req.headers);
      req.resume();
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    try {
      const otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      handler = () => ({ status: 307, headers: { location: `${otherBase}/landed` } });
      const headers = { 'X-Api-Key': 'k-1', 'api-key': 'k-2', 'x-custom': 'token=s3cr3t-v4lue', 'x-trace': 'plain', 'x-other': 'also s3cr3t-v4lue inside' };
      const res = await sendOutbound({ url: `${base}/go`, method: 'GET', headers, timeoutMs: 5_000, secretValues: ['s3cr3t-v4lue', ''] }, deps);
      expect(res).toMatchObject({ status: 200, url: `${otherBase}/landed` });
      expect(seen[0]!.headers).toMatchObject({ 'x-api-key': 'k-1', 'api-key': 'k-2', 'x-custom': 'token=s3cr3t-v4lue' });
      expect(landed).toHaveLength(1);
      expect(landed[0]!['x-trace']).toBe('plain');
      for (const h of ['x-api-key', 'api-key', 'x-custom', 'x-other']) expect(landed[0]![h]).toBeUndefined();
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('does not resend a body holding a secret to another origin (307), but does on the same origin', async () => {
    handler = (req) => (req.url === '/a' ? { status: 307, headers: { location: `http://other.test:${port}/b` } } : req.url === '/c' ? { status: 308, headers: { location: '/d' } } : { status: 201, body: 'made' });
    await expect(sendOutbound({ url: `http://api.test:${port}/a`, method: 'POST', headers: {}, body: '{"key":"s3cr3t"}', timeoutMs: 5_000, secretValues: ['s3cr3t'] }, deps)).rejects.toThrow(/would resend a request body that holds a secret/);
    expect(seen.map((s) => s.url)).toEqual(['/a']);
    const res = await sendOutbound({ url: `http://api.test:${port}/c`, method: 'POST', headers: {}, body: '{"key":"s3cr3t"}', timeoutMs: 5_000, secretValues: ['s3cr3t'] }, deps);
    expect(res.status).toBe(201);
    expect(seen.slice(1).map((s) => [s.url, s.body])).toEqual([
      ['/c', '{"key":"s3cr3t"}'],
      ['/d', '{"key":"s3cr3t"}'],
    ]);
  });

  it('307 keeps the method and body', async () => {
    handler = (req) => (req.url === '/a' ? { status: 307, headers: { location: '/b' } } : { status: 201, body: 'made' });
    await sendOutbound({ url: `${base}/a`, method: 'PUT', headers: {}, body: 'x=1', timeoutMs: 5_000 }, deps);
    expect(seen.map((s) => [s.method, s.body])).toEqual([
      ['PUT', 'x=1'],
      ['PUT', 'x=1'],
    ]);
  });

  it('reads text and JSON, and refuses bodies over the limit', async () => {
    handler = () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'hello' });
    await expect(get(`${base}/t`)).resolves.toMatchObject({ body: 'hello' });
    handler = () => ({ status: 200, headers: { 'content-type': 'application/problem+json' }, body: '{"x":1}' });
    await expect(get(`${base}/j`)).resolves.toMatchObject({ body: { x: 1 } });
    handler = () => ({ status: 200, body: 'x'.repeat(2048) });
    await expect(sendOutbound({ url: `${base}/big`, method: 'GET', headers: {}, timeoutMs: 5_000, maxResponseBytes: 1024 }, deps)).rejects.toThrow(/too large/);
  });
});

describe('httpCall outcomes', () => {
  it('429 is retryable RATE_LIMIT with Retry-After; 503 retryable; 404 terminal; refusal terminal', async () => {
    handler = () => ({ status: 429, headers: { 'retry-after': '7' } });
    await expect(httpCall({ url: `${base}/x`, method: 'GET', headers: {}, timeoutMs: 5_000 }, deps)).resolves.toMatchObject({
      ok: false,
      retryable: true,
      retry_after_seconds: 7,
      error: { code: 'RATE_LIMIT' },
    });
    handler = () => ({ status: 503 });
    await expect(httpCall({ url: `${base}/x`, method: 'GET', headers: {}, timeoutMs: 5_000 }, deps)).resolves.toMatchObject({ ok: false, retryable: true, error: { code: 'TOOL_ERROR' } });
    handler = () => ({ status: 404 });
    await expect(httpCall({ url: `${base}/x`, method: 'GET', headers: {}, timeoutMs: 5_000 }, deps)).resolves.toMatchObject({ ok: false, retryable: false, error: { code: 'TOOL_ERROR', message: `HTTP 404 from 127.0.0.1:${port}` } });
    await expect(httpCall({ url: 'http://169.254.169.254/', method: 'GET', headers: {}, timeoutMs: 5_000 }, deps)).resolves.toMatchObject({ ok: false, retryable: false, error: { code: 'TOOL_ERROR', message: expect.stringMatching(/refused/) } });
  });

  it('expect_status accepts a listed non-2xx and refuses an unlisted 2xx', async () => {
    handler = () => ({ status: 404, body: 'nope' });
    await expect(httpCall({ url: `${base}/x`, method: 'GET', headers: {}, timeoutMs: 5_000 }, deps, { expectStatus: [404] })).resolves.toMatchObject({ ok: true, result: { status: 404, body: 'nope' } });
    handler = () => ({ status: 200 });
    await expect(httpCall({ url: `${base}/x`, method: 'GET', headers: {}, timeoutMs: 5_000 }, deps, { expectStatus: 201 })).resolves.toMatchObject({ ok: false, retryable: false });
  });

  it('scrubs secret values from results that echo them', async () => {
    handler = (req) => ({ status: 200, headers: { 'content-type': 'application/json', 'x-echo': String(req.headers['x-token']) }, body: JSON.stringify({ got: req.headers['x-token'] }) });
    const out = await httpCall({ url: `${base}/x`, method: 'GET', headers: { 'x-token': 's3cr3t-value' }, timeoutMs: 5_000 }, deps, { secretValues: ['s3cr3t-value'] });
    expect(JSON.stringify(out)).not.toContain('s3cr3t-value');
    expect(out).toMatchObject({ ok: true, result: { body: { got: '[REDACTED]' }, headers: { 'x-echo': '[REDACTED]' } } });
  });

  it('a timeout is a retryable TIMEOUT', async () => {
    handler = () => ({ status: 200 });
    const hang = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`;
      await expect(httpCall({ url, method: 'GET', headers: {}, timeoutMs: 200 }, deps)).resolves.toMatchObject({ ok: false, retryable: true, error: { code: 'TIMEOUT' } });
    } finally {
      hang.closeAllConnections();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('12', now)).toBe(12);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
