import type { ErrorBody } from './errors';
import type { IterationPath, StreamEvent, TriggerInput } from './execution-events';
import type { Scope, WorkflowDefinition } from './workflow-definition';

/**
 * Commands to an execution actor. Imperative names. Time (`now`, ISO) and randomness (`rand`, 0..1)
 * come in on the command so that `decide` stays pure.
 */
export type ExecutionCommand = StartExecution | CompleteStep | FailStep | FireTimer | CancelExecution | AddUserMessage;

export interface StartExecution {
  readonly type: 'StartExecution';
  readonly execution_id: string;
  readonly workflow_id: string;
  readonly workflow_version: number;
  readonly definition: WorkflowDefinition;
  readonly scope: Scope;
  readonly input: TriggerInput;
  readonly context: Readonly<Record<string, unknown>>;
  readonly user_id: string | null;
  readonly session_id: string | null;
  readonly now: string;
}

/** A step attempt's result. Results for an attempt that is no longer current are ignored. */
export interface CompleteStep {
  readonly type: 'CompleteStep';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly attempt: number;
  /** Chat agent steps: the conversation turn the result answers (results of older turns are ignored). */
  readonly chat_turn?: number;
  readonly output: unknown;
  readonly now: string;
  /** Stream-only events of the attempt not journaled yet (e.g. a fast tool's call and result): appended with the decision. */
  readonly journal?: readonly StreamEvent[];
}

export interface FailStep {
  readonly type: 'FailStep';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly attempt: number;
  readonly chat_turn?: number;
  readonly error: ErrorBody;
  /** False for terminal failures (validation, 4xx, rejected approval): never retried. */
  readonly retryable: boolean;
  /** Overrides the backoff (e.g. a 429's Retry-After), in seconds. */
  readonly retry_after_seconds?: number;
  readonly now: string;
  readonly rand: number;
  /** As in {@link CompleteStep}. */
  readonly journal?: readonly StreamEvent[];
}

export interface FireTimer {
  readonly type: 'FireTimer';
  readonly timer_id: string;
  readonly now: string;
}

export interface CancelExecution {
  readonly type: 'CancelExecution';
  readonly reason?: string;
  readonly now: string;
}

/** A user turn for the chat agent step the run waits on; `end` completes the step with its last answer. */
export interface AddUserMessage {
  readonly type: 'AddUserMessage';
  readonly message_id: string;
  readonly content: string;
  readonly end?: boolean;
  readonly now: string;
}
