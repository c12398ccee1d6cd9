import type { NatsConnection } from '@nats-io/transport-node';
import { JetflowError } from '@jetflow/contracts';

/**
 * Throws PAYLOAD_TOO_LARGE when `bytes` cannot travel as one NATS message (the server's
 * `max_payload`, 1 MB by default): the caller gets a 413 with a reason, not a publish error
 * reported as UNAVAILABLE.
 */
export function tooLarge(nc: NatsConnection, bytes: number, what: string): void {
  const max = nc.info?.max_payload;
  if (max !== undefined && bytes > max) {
    throw new JetflowError('PAYLOAD_TOO_LARGE', `${what} is ${bytes} bytes, more than the NATS server's max_payload of ${max} bytes`);
  }
}
