import { createHmac, timingSafeEqual } from 'node:crypto';
import { JetflowError } from '@jetflow/contracts';

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw request body>` keyed with the trigger's secret. */
export const SIGNATURE_HEADER = 'x-jetflow-signature';

/**
 * Checks a webhook signature in constant time. Throws UNAUTHORIZED when it is missing, malformed or
 * wrong; the message never includes the secret or the expected value.
 */
export function verifyWebhookSignature(secret: string, rawBody: Buffer, header: string | string[] | undefined): void {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(value?.trim() ?? '');
  if (!match) throw new JetflowError('UNAUTHORIZED', 'missing or malformed X-Jetflow-Signature (expected sha256=<hex HMAC-SHA256 of the body>)');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(match[1]!, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new JetflowError('UNAUTHORIZED', 'invalid webhook signature');
}

/** The signature header value a sender computes (tests and docs use it). */
export function signWebhookBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
