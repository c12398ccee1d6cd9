import { createHmac, timingSafeEqual } from 'node:crypto';
import { JetflowError } from '@jetflow/contracts';

/** Header carrying `sha256=<hex HMAC-SHA256>` keyed with the trigger's secret. */
export const SIGNATURE_HEADER = 'x-jetflow-signature';
/** Unix seconds when the sender signed; with it the HMAC covers `<timestamp>.<delivery id or nothing>.<raw body>`. */
export const TIMESTAMP_HEADER = 'x-jetflow-timestamp';
/** How far a signed timestamp may be from the server's clock, either way. */
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

export interface SignatureCheck {
  readonly signature: string | string[] | undefined;
  readonly timestamp: string | string[] | undefined;
  /** The delivery id header's raw value (Idempotency-Key or a delivery-id header), if sent. */
  readonly id?: string;
  /** The trigger's `require_timestamp`: a body-only signature is refused. */
  readonly requireTimestamp: boolean;
  /** Server time, Unix seconds. */
  readonly now: number;
}

/**
 * Checks a webhook signature in constant time and returns the verified HMAC (hex). Throws
 * UNAUTHORIZED when it is missing, malformed or wrong, or its timestamp is outside the tolerance;
 * messages never include the secret or the expected value.
 *
 * Without `X-Jetflow-Timestamp` the HMAC covers the raw body only, so a captured request stays
 * valid forever. With it the HMAC covers `<timestamp>.<id>.<raw body>`, the id being the request's
 * delivery id (its header's bytes) or empty, and expires after {@link TIMESTAMP_TOLERANCE_SECONDS}:
 * within that window the caller dedupes on the signed id, or on the HMAC. Digits, a dot-free id and
 * a dot make the signed bytes of two different requests different.
 */
export function verifyWebhookSignature(secret: string, rawBody: Buffer, check: SignatureCheck): { readonly hmac: string; readonly timestamped: boolean } {
  const value = first(check.signature);
  const match = /^sha256=([0-9a-f]{64})$/i.exec(value?.trim() ?? '');
  if (!match) throw new JetflowError('UNAUTHORIZED', 'missing or malformed X-Jetflow-Signature (expected sha256=<hex HMAC-SHA256>)');
  const ts = first(check.timestamp)?.trim();
  if (ts === undefined && check.requireTimestamp) {
    throw new JetflowError('UNAUTHORIZED', 'this webhook requires X-Jetflow-Timestamp (Unix seconds) and a signature over "<timestamp>.<delivery id or nothing>.<body>"');
  }
  let signedPrefix: Buffer | undefined;
  if (ts !== undefined) {
    if (!/^\d{1,12}$/.test(ts)) throw new JetflowError('UNAUTHORIZED', 'malformed X-Jetflow-Timestamp (expected Unix seconds)');
    if (Math.abs(check.now - Number(ts)) > TIMESTAMP_TOLERANCE_SECONDS) {
      throw new JetflowError('UNAUTHORIZED', `X-Jetflow-Timestamp is more than ${TIMESTAMP_TOLERANCE_SECONDS} s from the server's clock (a replayed request, or a clock off)`);
    }
    const id = check.id ?? '';
    if (check.id !== undefined && (id.trim() === '' || id.includes('.'))) {
      throw new JetflowError('VALIDATION_ERROR', 'a delivery id signed with X-Jetflow-Timestamp must be non-empty and contain no "."');
    }
    signedPrefix = Buffer.from(`${ts}.${id}.`, 'latin1');
  }
  const expected = hmac(secret, rawBody, signedPrefix);
  const given = Buffer.from(match[1]!, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new JetflowError('UNAUTHORIZED', 'invalid webhook signature');
  return { hmac: expected.toString('hex'), timestamped: ts !== undefined };
}

/** HMAC-SHA256 of `prefix` (the signed timestamp and id, if any) and the raw body. */
function hmac(secret: string, rawBody: Buffer, prefix: Buffer | undefined): Buffer {
  const h = createHmac('sha256', secret);
  if (prefix !== undefined) h.update(prefix);
  return h.update(rawBody).digest();
}

function first(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}
