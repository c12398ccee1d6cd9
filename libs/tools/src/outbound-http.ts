import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { JetflowError } from '@jetflow/contracts';
import { checkOutboundUrl, systemResolver, type HostResolver, type OutboundPolicy, type OutboundTarget } from './outbound-guard';

export const MAX_REDIRECTS = 5;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface OutboundRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
  readonly maxResponseBytes?: number;
  readonly signal?: AbortSignal;
  /**
   * The resolved secret values this request carries: on a redirect to another origin, every header
   * whose value contains one is dropped (besides the credential headers, always dropped then).
   */
  readonly secretValues?: readonly string[];
}

export interface OutboundResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON when the response says JSON and parses, else the text. */
  readonly body: unknown;
  /** The URL that answered (after redirects). */
  readonly url: string;
}

export interface OutboundDeps {
  readonly policy: OutboundPolicy;
  readonly resolver?: HostResolver;
}

/** Longest delay a Node timer can hold. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Headers that must not follow a redirect to another origin (the agents' guarded fetch drops the same). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization', 'api-key', 'x-api-key'];

/** The headers that may follow a redirect to another origin: no credential header, none carrying a secret value. */
function crossOriginHeaders(h: Record<string, string>, secretValues: readonly string[]): Record<string, string> {
  const needles = secretValues.filter((v) => v.length > 0);
  return Object.fromEntries(Object.entries(h).filter(([k, v]) => !CREDENTIAL_HEADERS.includes(k.toLowerCase()) && !needles.some((n) => v.includes(n))));
}

/**
 * One HTTP exchange under the outbound policy: every hop (redirects followed here, at most 5) is
 * checked and resolved by {@link checkOutboundUrl} and the socket connects to the checked address
 * (the host name is kept for Host and TLS). On a hop to another origin the credential headers and
 * every header carrying one of `secretValues` are dropped. The body is read up to `maxResponseBytes`.
 * Throws `OutboundRefusedError` (TOOL_ERROR), `JetflowError('TIMEOUT')` or a network `Error`.
 */
export async function sendOutbound(req: OutboundRequest, deps: OutboundDeps): Promise<OutboundResponse> {
  // Node timers hold at most 2^31-1 ms (≈ 24.8 days); a longer one would fire after 1 ms.
  const timeout = AbortSignal.timeout(Math.min(req.timeoutMs, MAX_TIMER_MS));
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  let url = req.url;
  let method = req.method.toUpperCase();
  let body = req.body;
  let headers: Record<string, string> = { ...req.headers };
  try {
    for (let hop = 0; ; hop++) {
      const target = await checkOutboundUrl(url, deps.policy, deps.resolver ?? systemResolver);
      const res = await exchange(target, method, headers, body, signal);
      const location = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304 && location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new JetflowError('TOOL_ERROR', `too many redirects (more than ${MAX_REDIRECTS})`);
        const next = new URL(location, target.url);
        if (next.origin !== target.url.origin) headers = crossOriginHeaders(headers, req.secretValues ?? []);
        // 303 always, 301/302 for non-GET (what browsers do) continue as a GET without body.
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method !== 'GET' && method !== 'HEAD')) {
          method = 'GET';
          body = undefined;
          headers = withoutKeys(headers, ['content-type', 'content-length']);
        }
        // 307/308 resend the body: never to another origin when it holds a secret.
        const secrets = (req.secretValues ?? []).filter((v) => v.length > 0);
        if (next.origin !== target.url.origin && body !== undefined && secrets.some((v) => body!.includes(v))) {
          throw new JetflowError('TOOL_ERROR', `not following a redirect to another origin (${next.origin}): it would resend a request body that holds a secret`);
        }
        url = next.toString();
        continue;
      }
      const text = await readBody(res, req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, signal);
      return { status: res.statusCode ?? 0, headers: flatten(res.headers), body: parseBody(text, res.headers['content-type']), url };
    }
  } catch (err) {
    if (timeout.aborted) throw new JetflowError('TIMEOUT', `request timed out after ${req.timeoutMs} ms`);
    throw err;
  }
}

function exchange(target: OutboundTarget, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<IncomingMessage> {
  // Pinned: the socket goes to the checked address, whatever DNS says by now.
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  const outHeaders: Record<string, string> = { ...headers };
  if (body !== undefined) outHeaders['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const r = send(target.url, { method, headers: outHeaders, lookup, signal, agent: false }, resolve);
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

async function readBody(res: IncomingMessage, limit: number, signal: AbortSignal): Promise<string> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new JetflowError('TOOL_ERROR', `response body too large (${declared} bytes, limit ${limit})`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    if (signal.aborted) throw signal.reason;
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new JetflowError('TOOL_ERROR', `response body too large (over ${limit} bytes)`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (/\bjson\b|\+json/i.test(contentType ?? '') && text.trim()) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function flatten(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function withoutKeys(h: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !keys.includes(k.toLowerCase())));
}

/** Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); undefined if absent/invalid. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/** Whether a response status is worth retrying: 408, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
