import { evaluateJsonata } from '@jetflow/expressions';
import { httpCall } from './http-call';
import type { ToolCallContext, ToolInvocationResult, ToolsDeps } from './tool.types';
import { TOOL_HTTP_METHODS } from './tool.types';

/** A tool that ships with Jetflow; available in every scope, its name reserved. */
export interface BuiltinTool {
  readonly description: string;
  readonly input_schema: Readonly<Record<string, unknown>>;
  run(args: Record<string, unknown>, deps: ToolsDeps, ctx: ToolCallContext): Promise<ToolInvocationResult>;
}

const ok = (result: unknown): ToolInvocationResult => ({ ok: true, result: result ?? null });

export const BUILTIN_TOOLS: Readonly<Record<string, BuiltinTool>> = {
  http_request: {
    description: 'Makes an HTTP request to a public URL and returns {status, headers, body} (JSON bodies parsed).',
    input_schema: {
      type: 'object',
      properties: {
        url: { type: 'string', description: 'absolute http(s) URL' },
        method: { type: 'string', enum: [...TOOL_HTTP_METHODS, 'HEAD'] },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        body: { description: 'request body: a string, or any JSON value sent as application/json' },
        timeout_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 300 },
      },
      required: ['url'],
      additionalProperties: false,
    },
    async run(args, deps, ctx) {
      const method = typeof args['method'] === 'string' ? args['method'] : 'GET';
      const headers: Record<string, string> = { 'idempotency-key': ctx.idempotencyKey };
      for (const [k, v] of Object.entries((args['headers'] as Record<string, string> | undefined) ?? {})) headers[k.toLowerCase()] = v;
      let body: string | undefined;
      if (args['body'] !== undefined && method !== 'GET' && method !== 'HEAD') {
        body = typeof args['body'] === 'string' ? args['body'] : JSON.stringify(args['body']);
        if (typeof args['body'] !== 'string') headers['content-type'] ??= 'application/json';
      }
      const timeoutMs = typeof args['timeout_seconds'] === 'number' ? args['timeout_seconds'] * 1000 : (ctx.timeoutMs ?? 30_000);
      const res = await httpCall(
        { url: String(args['url']), method, headers, body, timeoutMs, maxResponseBytes: deps.maxResponseBytes, signal: ctx.signal },
        { policy: deps.outbound, resolver: deps.resolver },
        { now: deps.clock },
      );
      return res;
    },
  },
  json_query: {
    description: 'Evaluates a JSONata expression over `data` and returns the value (null when nothing matches).',
    input_schema: {
      type: 'object',
      properties: { query: { type: 'string', description: 'JSONata expression, e.g. "items[price > 10].name"' }, data: { description: 'the input value' } },
      required: ['query'],
      additionalProperties: false,
    },
    async run(args) {
      const data = args['data'] ?? null;
      // The fields of an object `data` are also in scope, so `items` and `data.items` both work.
      const scope = data !== null && typeof data === 'object' && !Array.isArray(data) ? { ...(data as object), data } : { data };
      return ok(await evaluateJsonata(String(args['query']), scope));
    },
  },
  current_time: {
    description: 'The current time: ISO 8601 (UTC), Unix milliseconds and, given an IANA `timezone`, the local date-time there.',
    input_schema: { type: 'object', properties: { timezone: { type: 'string', description: 'IANA time zone, e.g. Europe/Paris' } }, additionalProperties: false },
    async run(args, deps) {
      const now = (deps.clock ?? (() => new Date()))();
      const zone = typeof args['timezone'] === 'string' ? args['timezone'] : undefined;
      if (zone === undefined) return ok({ now: now.toISOString(), unix_ms: now.getTime() });
      let local: string;
      try {
        local = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, dateStyle: 'short', timeStyle: 'medium' }).format(now).replace(' ', 'T');
      } catch {
        return { ok: false, error: { code: 'TOOL_ERROR', message: `unknown time zone ${zone}`, details: [{ path: 'arguments.timezone', message: 'not an IANA time zone' }] }, retryable: false };
      }
      return ok({ now: now.toISOString(), unix_ms: now.getTime(), timezone: zone, local });
    },
  },
  noop: {
    description: 'Returns its arguments unchanged (for tests and benchmarks).',
    input_schema: { type: 'object' },
    async run(args) {
      return ok(args);
    },
  },
  echo: {
    description: 'Returns its arguments unchanged.',
    input_schema: { type: 'object' },
    async run(args) {
      return ok(args);
    },
  },
};

export function isBuiltinTool(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILTIN_TOOLS, name);
}
