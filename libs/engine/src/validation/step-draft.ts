import type { RetryPolicy, StepType } from '@jetflow/contracts';

/** What validation learned about one step; the graph checks work on these. */
export interface StepDraft {
  readonly index: number;
  /** Base of detail paths: `steps[3]`. */
  readonly path: string;
  /** Any non-empty string id (even malformed) so one bad id does not cascade into reference errors. */
  readonly id?: string;
  /** Set only for a known step type. */
  readonly type?: StepType;
  readonly parameters: Record<string, unknown>;
  readonly next_steps: readonly string[];
  readonly else_steps?: readonly string[];
  readonly retry?: RetryPolicy;
  readonly timeout_seconds?: number;
  readonly name?: string;
}
