import { resolveTemplates } from '@jetflow/expressions';
import type { StepHandler } from './step-handler';
import { retryable, terminal } from './step-handler';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A minimal HTTP call: templated url/headers/body already resolved except `secrets.*`, resolved
 * here and never reported back. 408/429/5xx and network errors are retryable, other 4xx terminal.
 */
export const apiCallHandler: StepHandler = async (task, ctx) => {
  const p = resolveTemplates(task.parameters, { secrets: ctx.secrets }) as Record<string, unknown>;
  const url = p['url'];
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return terminal('VALIDATION_ERROR', 'url must be an http(s) URL');
  const method = typeof p['method'] === 'string' ? p['method'].toUpperCase() : 'GET';
  const timeoutMs = (typeof p['timeout_seconds'] === 'number' ? p['timeout_seconds'] : 30) * 1000;
  const headers: Record<string, string> = { 'idempotency-key': task.idempotency_key.split(':').slice(0, 2).join(':') };
  for (const [k, v] of Object.entries((p['headers'] as Record<string, unknown>) ?? {})) headers[k.toLowerCase()] = String(v);
  let body: string | undefined;
  if (p['body'] !== undefined && method !== 'GET' && method !== 'HEAD') {
    body = typeof p['body'] === 'string' ? p['body'] : JSON.stringify(p['body']);
    headers['content-type'] ??= 'application/json';
  }
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, signal, redirect: 'manual' });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return retryable('TIMEOUT', `request timed out after ${timeoutMs} ms`);
    return retryable('TOOL_ERROR', `request failed: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (text.length > MAX_BODY_BYTES) return terminal('TOOL_ERROR', 'response body too large');
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  const expect = p['expect_status'];
  const ok = expect === undefined ? res.status >= 200 && res.status < 300 : Array.isArray(expect) ? expect.includes(res.status) : expect === res.status;
  if (!ok) {
    const message = `HTTP ${res.status} from ${new URL(url).host}`;
    if (res.status === 429) {
      const ra = Number(res.headers.get('retry-after'));
      return retryable('RATE_LIMIT', message, Number.isFinite(ra) ? ra : undefined);
    }
    if (res.status === 408 || res.status >= 500) return retryable('TOOL_ERROR', message);
    return terminal('TOOL_ERROR', message);
  }
  return { ok: true, output: { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: parsed } };
};
