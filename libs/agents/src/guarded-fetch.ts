import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { checkOutboundUrl, MAX_REDIRECTS, OutboundRefusedError, systemResolver, type HostResolver, type OutboundPolicy, type OutboundTarget } from '@jetflow/tools';

/** The `fetch` signature the `openai` package accepts. */
export type GuardedFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The outbound policy model calls go under (the one api_call uses), with its DNS resolver. */
export interface ModelOutbound {
  readonly policy: OutboundPolicy;
  readonly resolver?: HostResolver;
}

/**
 * Thrown inside the `openai` client when the outbound policy refuses a model endpoint. The client
 * wraps whatever `fetch` throws into an `APIConnectionError` (keeping it as `cause`); the neutral
 * message keeps the client from mistaking a host name such as `timeout.example` for a timeout.
 */
export class ModelEndpointRefusedError extends Error {
  constructor(readonly refusal: OutboundRefusedError) {
    super('model endpoint refused by the outbound policy');
    this.name = 'ModelEndpointRefusedError';
  }
}

/** Headers that must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization', 'api-key', 'x-api-key'];

/**
 * A streaming `fetch` under the outbound guard of `@jetflow/tools`: every hop (redirects followed
 * here, at most {@link MAX_REDIRECTS}) is checked and resolved by `checkOutboundUrl` — metadata and
 * link-local always refused, private ranges and host lists by policy — and the socket connects to
 * the checked address (no second DNS answer, so no rebinding). The response body streams.
 */
export function guardedFetch(outbound: ModelOutbound): GuardedFetch {
  const resolver = outbound.resolver ?? systemResolver;
  return async (input, init) => {
    const first = new Request(input, init);
    let url = first.url;
    let method = first.method.toUpperCase();
    let headers = new Headers(first.headers);
    let body: Buffer | undefined = first.body ? Buffer.from(await first.arrayBuffer()) : undefined;
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    for (let hop = 0; ; hop++) {
      let target: OutboundTarget;
      try {
        target = await checkOutboundUrl(url, outbound.policy, resolver);
      } catch (err) {
        throw err instanceof OutboundRefusedError ? new ModelEndpointRefusedError(err) : err;
      }
      const res = await exchange(target, method, headers, body, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && status !== 304 && location && (init?.redirect ?? 'follow') === 'follow') {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects (more than ${MAX_REDIRECTS})`);
        const next = new URL(location, target.url);
        if (next.origin !== target.url.origin) for (const h of CREDENTIAL_HEADERS) headers.delete(h);
        // 303 always, 301/302 for non-GET (what fetch does) continue as a GET without body.
        if (status === 303 || ((status === 301 || status === 302) && method !== 'GET' && method !== 'HEAD')) {
          method = 'GET';
          body = undefined;
          headers.delete('content-type');
          headers.delete('content-length');
        }
        url = next.toString();
        continue;
      }
      return toResponse(res, method, signal);
    }
  };
}

function exchange(target: OutboundTarget, method: string, headers: Headers, body: Buffer | undefined, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  // Pinned: the socket goes to the checked address, whatever DNS says by now.
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  const out: Record<string, string> = {};
  headers.forEach((value, key) => (out[key] = value));
  out['accept-encoding'] = 'gzip, deflate, br';
  if (body !== undefined) out['content-length'] = String(body.length);
  else delete out['content-length'];
  const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = send(target.url, { method, headers: out, lookup, agent: false, ...(signal ? { signal } : {}) }, resolve);
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

/** A fetch `Response` over the streamed (and decoded) body; an abort ends the body with the signal's reason. */
function toResponse(res: IncomingMessage, method: string, signal: AbortSignal | undefined): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  if (signal) {
    const onAbort = () => res.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    res.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  if (method === 'HEAD' || status === 204 || status === 205 || status === 304) {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage ?? '', headers });
  }
  let stream: Readable = res;
  const encoding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
  if (decoder) {
    res.on('error', (err) => decoder.destroy(err));
    stream = res.pipe(decoder);
    headers.delete('content-encoding');
    headers.delete('content-length');
  }
  return new Response(Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>, { status, statusText: res.statusMessage ?? '', headers });
}
