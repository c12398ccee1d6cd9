import { stepKey } from '@jetflow/contracts';
import { httpCall, redactSecrets, resolveSecretSlots, resolveSecrets, type OutboundPolicy } from '@jetflow/tools';
import type { StepHandler } from './step-handler';
import { terminal } from './step-handler';

const DEFAULT_TIMEOUT_SECONDS = 30;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

/**
 * `api_call`: one HTTP exchange under the outbound policy (see `@jetflow/tools` outbound guard).
 * Templates arrive resolved except `{{secrets.NAME}}`, resolved here only in the definition's own
 * strings (the task's `secret_slots`), so one smuggled in through run-time data stays inert text;
 * secret values are scrubbed from the output and errors and, on a cross-origin redirect, every
 * header carrying one is dropped. The same
 * `Idempotency-Key: <execution_id>:<step_id>` goes with every attempt. 408/429/5xx, network errors
 * and timeouts are retryable (429 with `Retry-After`), refusals and other statuses terminal.
 */
export const apiCallHandler: StepHandler = async (task, ctx) => {
  let resolved;
  try {
    // Only where the definition wrote them (secret_slots); a task queued by an older engine has
    // only the names (secret_refs), resolved in every string as that engine expected.
    resolved = task.secret_slots ? resolveSecretSlots(task.parameters, ctx.secrets, task.secret_slots) : resolveSecrets(task.parameters, ctx.secrets, task.secret_refs ?? []);
  } catch (err) {
    return terminal('VALIDATION_ERROR', (err as Error).message);
  }
  const p = resolved.value as Record<string, unknown>;
  const scrub = (text: string) => redactSecrets(text, resolved.used);
  const url = p['url'];
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return terminal('VALIDATION_ERROR', scrub(`url must be an absolute http(s) URL, got ${JSON.stringify(url)}`));
  const method = typeof p['method'] === 'string' ? p['method'].toUpperCase() : 'GET';
  if (!METHODS.includes(method)) return terminal('VALIDATION_ERROR', `method must be one of ${METHODS.join(', ')}`);
  const timeoutSeconds = typeof p['timeout_seconds'] === 'number' && p['timeout_seconds'] > 0 ? p['timeout_seconds'] : DEFAULT_TIMEOUT_SECONDS;

  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((p['headers'] as Record<string, unknown> | null) ?? {})) headers[k.toLowerCase()] = typeof v === 'string' ? v : JSON.stringify(v);
  // Stable across attempts (the task's key also holds the attempt number, which must not leak here).
  headers['idempotency-key'] ??= `${task.execution_id}:${stepKey(task.step_id, task.iteration)}`;
  let body: string | undefined;
  if (p['body'] !== undefined && p['body'] !== null && method !== 'GET' && method !== 'HEAD') {
    body = typeof p['body'] === 'string' ? p['body'] : JSON.stringify(p['body']);
    if (typeof p['body'] !== 'string') headers['content-type'] ??= 'application/json';
  }
  const expect = p['expect_status'];
  const expectStatus = typeof expect === 'number' || (Array.isArray(expect) && expect.every((s) => typeof s === 'number')) ? (expect as number | number[]) : undefined;

  const policy: OutboundPolicy = ctx.outbound ?? { allowPrivate: ctx.allowPrivateNetworks };
  const outcome = await httpCall(
    { url, method, headers, body, timeoutMs: timeoutSeconds * 1000, maxResponseBytes: ctx.maxResponseBytes, signal: ctx.signal, secretValues: resolved.used },
    { policy, resolver: ctx.tools?.resolver },
    { expectStatus, secretValues: resolved.used, now: ctx.clock },
  );
  if (outcome.ok) return { ok: true, output: outcome.result };
  return { ok: false, error: outcome.error, retryable: outcome.retryable, ...(outcome.retry_after_seconds !== undefined ? { retry_after_seconds: outcome.retry_after_seconds } : {}) };
};
