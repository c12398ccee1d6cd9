import type { NatsConnection } from '@nats-io/transport-node';

/** The parts of @nats-io/nats-core's ProtocolHandler (3.x) this module relies on. */
interface ProtocolInternals {
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
  flushPending(): void;
  outbound: { fill(buf: Uint8Array, ...payloads: Uint8Array[]): void; size(): number };
  pendingLimit: number;
}

const encoder = new TextEncoder();
const PATCHED = Symbol('jetflow.writeBatching');

/**
 * Makes the client write its outbound buffer to the socket once per event-loop turn instead of once
 * per microtask checkpoint. Stock nats.js schedules a flush with `queueMicrotask` for the first
 * command after each flush, so a busy process that publishes from many promise continuations does
 * one `write()` syscall per few messages; on loopback each write also pays for the receiver's TCP
 * work. `setImmediate` runs after the I/O callbacks of the current turn, so everything they
 * published goes out in one write. The size threshold that flushes inline is kept.
 *
 * Returns false (and changes nothing) if the client's internals are not the expected shape: an
 * upgrade then loses the optimisation, never correctness (see write-batching.int-spec.ts).
 */
export function batchSocketWrites(nc: NatsConnection): boolean {
  const proto = (nc as unknown as { protocol?: Partial<ProtocolInternals> & { [PATCHED]?: true } }).protocol;
  if (!proto || proto[PATCHED]) return !!proto?.[PATCHED];
  if (typeof proto.sendCommand !== 'function' || typeof proto.flushPending !== 'function' || typeof proto.outbound?.fill !== 'function' || typeof proto.outbound.size !== 'function' || typeof proto.pendingLimit !== 'number') {
    return false;
  }
  const p = proto as ProtocolInternals & { [PATCHED]?: true };
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    p.flushPending();
  };
  p.sendCommand = (cmd, ...payloads) => {
    p.outbound.fill(typeof cmd === 'string' ? encoder.encode(cmd) : cmd, ...payloads);
    if (p.outbound.size() >= p.pendingLimit) p.flushPending();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  p[PATCHED] = true;
  return true;
}
