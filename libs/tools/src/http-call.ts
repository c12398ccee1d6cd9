import { JetflowError, toErrorBody, type ErrorBody } from '@jetflow/contracts';
import { isRetryableStatus, parseRetryAfter, sendOutbound, type OutboundDeps, type OutboundRequest } from './outbound-http';
import { redactSecrets } from './secrets';

export type HttpCallOutcome =
  | { readonly ok: true; readonly result: { status: number; headers: Record<string, string>; body: unknown } }
  | { readonly ok: false; readonly error: ErrorBody; readonly retryable: boolean; readonly retry_after_seconds?: number };

export interface HttpCallOptions {
  /** Accepted statuses; default any 2xx. */
  readonly expectStatus?: number | readonly number[];
  /** Secret values to scrub from the result and from error messages. */
  readonly secretValues?: readonly string[];
  readonly now?: () => Date;
}

/**
 * An outbound HTTP call turned into an outcome, chosen on purpose: refused destinations, other
 * 4xx, oversized bodies → terminal TOOL_ERROR; network errors, 408, 5xx → retryable TOOL_ERROR;
 * 429 → retryable RATE_LIMIT honouring `Retry-After`; timeouts → retryable TIMEOUT.
 */
export async function httpCall(req: OutboundRequest, deps: OutboundDeps, opts: HttpCallOptions = {}): Promise<HttpCallOutcome> {
  const secrets = opts.secretValues ?? [];
  const host = safeHost(req.url);
  let res;
  try {
    res = await sendOutbound(req, deps);
  } catch (err) {
    const body = redactSecrets(toErrorBody(err, 'TOOL_ERROR'), secrets);
    // Coded errors (refused, too large, too many redirects, unknown host) cannot get better by
    // retrying, except a timeout; anything else is the network and may.
    if (err instanceof JetflowError) return { ok: false, error: body, retryable: body.code === 'TIMEOUT' };
    if (req.signal?.aborted) return { ok: false, error: { code: 'TOOL_ERROR', message: 'request aborted' }, retryable: true };
    return { ok: false, error: { code: 'TOOL_ERROR', message: redactSecrets(`request to ${host} failed: ${body.message}`, secrets) }, retryable: true };
  }
  const expect = opts.expectStatus;
  const accepted = expect === undefined ? res.status >= 200 && res.status < 300 : typeof expect === 'number' ? res.status === expect : expect.includes(res.status);
  const result = redactSecrets({ status: res.status, headers: res.headers, body: res.body }, secrets);
  if (accepted) return { ok: true, result };
  const message = `HTTP ${res.status} from ${host}${expect !== undefined ? ` (expected ${[expect].flat().join(' or ')})` : ''}`;
  const details = [{ path: 'response', message: snippet(result.body) }];
  if (res.status === 429) {
    const after = parseRetryAfter(res.headers['retry-after'], (opts.now ?? (() => new Date()))());
    return { ok: false, error: { code: 'RATE_LIMIT', message, details }, retryable: true, ...(after !== undefined ? { retry_after_seconds: after } : {}) };
  }
  return { ok: false, error: { code: 'TOOL_ERROR', message, details }, retryable: isRetryableStatus(res.status) };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid URL';
  }
}

function snippet(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
