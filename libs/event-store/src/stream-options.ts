import { STREAMS } from '@jetflow/contracts';

/** How the JetStream streams are laid out; values come in from the app's config. */
export interface StreamOptions {
  /** Stream replicas (1 in dev, 3 in a cluster). Default 1. */
  readonly replicas?: number;
  /** Max age of execution log entries in seconds; 0 keeps them forever. Applies to EXECUTIONS only. */
  readonly maxAgeSeconds?: number;
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
