import type { ExecutionEvent, StreamEvent } from '@jetflow/contracts';

/** One JetStream message of an execution's log: one atomic append of one or more events. */
export interface StoredEntry<E = ExecutionEvent | StreamEvent> {
  /** JetStream stream sequence (the SSE id). */
  readonly seq: number;
  /** Which subject it was on: decision events or stream-only deltas/tool events. */
  readonly kind: 'events' | 'deltas';
  readonly events: readonly E[];
  /** ISO time of the JetStream timestamp (when the server stored it). */
  readonly time: string;
}

/** A live view of an execution's log; see `EventStore.follow`. */
export interface LogFollower {
  /** History from the start sequence, then live entries, in stream order. Ends after `stop()`. */
  readonly entries: AsyncIterable<StoredEntry>;
  /** Ends the iteration and deletes the server-side consumer. Idempotent. */
  stop(): Promise<void>;
}
