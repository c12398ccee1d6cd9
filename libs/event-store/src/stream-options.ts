import { STREAMS } from '@jetflow/contracts';

/** How the JetStream streams are laid out; values come in from the app's config. */
export interface StreamOptions {
  /** Stream replicas (1 in dev, 3 in a cluster). Default 1. */
  readonly replicas?: number;
  /** Max age of execution log entries in seconds; 0 keeps them forever. Applies to EXECUTIONS only. */
  readonly maxAgeSeconds?: number;
  /**
   * How long the streams remember a `Nats-Msg-Id` to drop a retried publish (default 30 s; capped
   * at the max age when one is set). Retries of an append, task or timer publish come within an
   * RPC timeout or a redelivery, seconds apart. nats-server keeps every id of the window in memory
   * (≈ 150 bytes each, scanned by its garbage collector): at 10,000 appends/s its default of
   * 2 minutes is ≈ 1.2 M ids and garbage-collection pauses of 0.1–0.5 s on 2 cores.
   */
  readonly duplicateWindowSeconds?: number;
  /** Prefix for stream names (tests use isolated names); subjects are unchanged. Default ''. */
  readonly prefix?: string;
}

/** The stream names for a given prefix. */
export function streamNames(opts: StreamOptions = {}): { executions: string; tasks: string; timers: string } {
  const prefix = opts.prefix ?? '';
  return {
    executions: `${prefix}${STREAMS.executions}`,
    tasks: `${prefix}${STREAMS.tasks}`,
    timers: `${prefix}${STREAMS.timers}`,
  };
}
