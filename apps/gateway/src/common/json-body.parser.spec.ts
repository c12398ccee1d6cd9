import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpException } from '@nestjs/common';
import { fastify, type FastifyInstance } from 'fastify';
import { findJsonViolation, installJsonBodyParser, MAX_JSON_DEPTH, type RawBodyRequest } from './json-body.parser';
import { toHttpError } from './jetflow-exception.filter';

/** `levels` arrays nested inside each other (`levels` = 1: `[]`). */
const nestedArrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('findJsonViolation', () => {
  it('accepts ordinary values, up to the depth limit', () => {
    for (const ok of [null, 1, true, 'text', [], {}, { a: [1, 'b', { c: null }], d: { e: 'é\u0001' } }, JSON.parse(nestedArrays(MAX_JSON_DEPTH))]) {
      expect(findJsonViolation(ok)).toBeNull();
    }
    expect(findJsonViolation(JSON.parse(`{"a":${nestedArrays(MAX_JSON_DEPTH - 1)}}`))).toBeNull();
  });

  it('reports nesting past the limit with its path', () => {
    expect(findJsonViolation(JSON.parse(nestedArrays(MAX_JSON_DEPTH + 1)))?.kind).toBe('depth');
    const deep = findJsonViolation(JSON.parse(`{"a":${nestedArrays(100_000)}}`));
    expect(deep?.kind).toBe('depth');
    expect(deep?.path).toHaveLength(MAX_JSON_DEPTH);
  });

  it('reports U+0000 in a value or a key, wherever it is', () => {
    expect(findJsonViolation('a\u0000')).toEqual({ kind: 'nul', path: [] });
    expect(findJsonViolation({ steps: [{ name: 'ok' }, { name: 'x\u0000y' }] })).toEqual({ kind: 'nul', path: ['name', 1, 'steps'] });
    expect(findJsonViolation({ ok: 1, nested: { 'k\u0000': 1 } })).toEqual({ kind: 'nul', path: ['k\u0000', 'nested'] });
    // The six characters `\u0000` (an escaped backslash) are ordinary text.
    expect(findJsonViolation(JSON.parse('{"a":"\\\\u0000"}'))).toBeNull();
  });
});

describe('installJsonBodyParser', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = fastify({ bodyLimit: 1_000_000 });
    installJsonBodyParser(app, 1_000_000);
    // The gateway's own mapping from errors to answers: Nest wraps a framework 4xx in an
    // HttpException, then its filter calls this same function.
    app.setErrorHandler((err, _req, reply) => {
      const statusCode = (err as { statusCode?: number }).statusCode;
      const { status, body } = toHttpError(statusCode !== undefined && statusCode < 500 ? new HttpException((err as Error).message, statusCode, { cause: err }) : err);
      void reply.code(status).send(body);
    });
    app.post('/echo', async (req) => ({ body: req.body ?? null, raw: (req as RawBodyRequest).rawBody?.length ?? null }));
    await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
  });

  /** A real request over a socket (fastify's `inject` needs an ESM-only module under jest). */
  const post = (payload: string) =>
    new Promise<{ statusCode: number; json: () => any }>((resolve, reject) => {
      const { port } = app.server.address() as AddressInfo;
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ statusCode: res.statusCode ?? 0, json: () => JSON.parse(text) });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });

  it('still parses ordinary bodies and keeps the raw bytes', async () => {
    const body = { name: 'Flow', steps: [{ step_id: 'a', parameters: { n: 1, s: 'ü', deep: JSON.parse(nestedArrays(10)) } }] };
    const res = await post(JSON.stringify(body));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ body, raw: Buffer.byteLength(JSON.stringify(body)) });
    const empty = await post('');
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toEqual({ body: null, raw: 0 });
  });

  it('refuses a deeply nested body with 400 VALIDATION_ERROR', async () => {
    const res = await post(`{"a":${nestedArrays(100_000)}}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('nested too deeply') });
    expect(res.json().error.details[0].path).toMatch(/^body\.a\[0\]/);
  });

  it('refuses \\u0000 in a string value or key with 400 VALIDATION_ERROR naming the place', async () => {
    const value = await post('{"name":"a\\u0000b","steps":[]}');
    expect(value.statusCode).toBe(400);
    expect(value.json().error).toEqual({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('\\u0000'),
      details: [{ path: 'body.name', message: '\\u0000 is not allowed' }],
    });
    const key = await post('{"trigger":{"x\\u0000":1}}');
    expect(key.statusCode).toBe(400);
    expect(key.json().error.details[0]).toEqual({ path: 'body.trigger["x\\u0000"]', message: '\\u0000 is not allowed' });
  });

  it('leaves malformed JSON to the framework error (400)', async () => {
    const res = await post('{"name":');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('VALIDATION_ERROR');
  });
});
