import { connect, type NatsConnection } from '@nats-io/transport-node';
import { batchSocketWrites } from './write-batching';

/** Options for {@link connectNats}; values come from the app's validated config. */
export interface ConnectNatsOptions {
  readonly servers: string | string[];
  /** Connection name shown by the server (e.g. `jetflow-executions-<host>`). */
  readonly name: string;
  /** Keep retrying the first connect instead of failing fast (default false: boot fails visibly). */
  readonly waitOnFirstConnect?: boolean;
}

/**
 * Connects to NATS with settings for a long-running service: reconnects forever (a NATS restart or
 * cluster failover must never kill the process), pings every 10 s so a dead link is noticed in ~30 s.
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
    maxPingOut: 3,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    // Every request (RPC, JetStream publish ack) would otherwise build an Error to keep the caller's
    // stack: measurable CPU on the hot path (see docs/benchmarks.md). Timeouts still say what timed out.
    noAsyncTraces: true,
  });
  batchSocketWrites(nc);
  return nc;
}
