import type { ErrorBody } from './errors';
import type { Scope, StepType, WorkflowDefinition } from './workflow-definition';

export const EXECUTION_STATUSES = ['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timeout'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];
export type TerminalStatus = 'completed' | 'failed' | 'cancelled' | 'timeout';
export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['completed', 'failed', 'cancelled', 'timeout'];

export type StepStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'failed' | 'skipped' | 'cancelled';

/**
 * Where a step instance sits inside (nested) loops: one index per enclosing loop, outermost first.
 * Absent or empty for steps outside any loop.
 */
export type IterationPath = readonly number[];

/** The `input` template root: the execute body's `trigger` object. */
export type TriggerInput = Readonly<Record<string, unknown>>;

/**
 * Events of an execution's log, plain readonly data. Past tense. Schemas only ever gain fields:
 * recorded histories in test/fixtures/histories must keep replaying.
 * `at` is an ISO timestamp taken from the command that caused the event.
 */
export type ExecutionEvent =
  | ExecutionStarted
  | StepStarted
  | StepCompleted
  | StepFailed
  | StepSkipped
  | StepCancelled
  | StepWaiting
  | UserMessageAdded
  | TimerScheduled
  | ExecutionStatusChanged
  | ErrorRaised
  | ExecutionCompleted;

export interface ExecutionStarted {
  readonly type: 'ExecutionStarted';
  readonly execution_id: string;
  readonly workflow_id: string;
  readonly workflow_version: number;
  /** Pinned snapshot: the run never changes when the workflow is edited. */
  readonly definition: WorkflowDefinition;
  readonly scope: Scope;
  readonly input: TriggerInput;
  readonly context: Readonly<Record<string, unknown>>;
  readonly user_id: string | null;
  readonly session_id: string | null;
  readonly at: string;
}

export interface StepStarted {
  readonly type: 'StepStarted';
  readonly step_id: string;
  readonly step_type: StepType;
  readonly iteration?: IterationPath;
  readonly attempt: number;
  /** loop: the resolved items the iterations run over. */
  readonly items?: readonly unknown[];
  /** Chat agent steps: the conversation turn this start answers (0 for the first message). */
  readonly chat_turn?: number;
  readonly at: string;
}

export interface StepCompleted {
  readonly type: 'StepCompleted';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly attempt: number;
  readonly output: unknown;
  /** Which outgoing edges were taken (condition false / approval rejected → 'else'). */
  readonly branch: 'next' | 'else';
  readonly duration_ms: number;
  /** A chat step ended by a user message (`end: true`): that message's id, so a repeat is applied once. */
  readonly message_id?: string;
  readonly at: string;
}

export interface StepFailed {
  readonly type: 'StepFailed';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly attempt: number;
  readonly error: ErrorBody;
  /** True when another attempt is scheduled (a retry timer follows in the same append). */
  readonly will_retry: boolean;
  readonly duration_ms: number;
  readonly at: string;
}

export interface StepSkipped {
  readonly type: 'StepSkipped';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly at: string;
}

/** A running, waiting or pending step abandoned because the run ended (cancel, failure, timeout). */
export interface StepCancelled {
  readonly type: 'StepCancelled';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly at: string;
}

/** The step waits for a person (approval, chat input). */
export interface StepWaiting {
  readonly type: 'StepWaiting';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly attempt: number;
  /** human_approval: who may decide (empty = anyone in scope), the resolved message, the deadline. */
  readonly approval?: { readonly approvers: readonly string[]; readonly message: string | null; readonly expires_at: string | null };
  /** Chat agent step (`wait_for_user`): it answered turn `turn` with `output` and waits for the user. */
  readonly chat?: { readonly turn: number; readonly output: unknown };
  readonly at: string;
}

/** A user turn appended to a waiting chat execution (`POST /api/executions/{id}/messages`). */
export interface UserMessageAdded {
  readonly type: 'UserMessageAdded';
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly message_id: string;
  readonly content: string;
  readonly turn: number;
  readonly at: string;
}

export type TimerPurpose = 'delay' | 'retry' | 'step_timeout' | 'workflow_timeout' | 'approval_timeout';

/** A durable timer: the steps service fires `FireTimer` into the actor at `fire_at`. */
export interface TimerScheduled {
  readonly type: 'TimerScheduled';
  readonly timer_id: string;
  readonly purpose: TimerPurpose;
  readonly fire_at: string;
  readonly step_id?: string;
  readonly iteration?: IterationPath;
  readonly attempt?: number;
  readonly chat_turn?: number;
  readonly at: string;
}

export interface ExecutionStatusChanged {
  readonly type: 'ExecutionStatusChanged';
  readonly status: ExecutionStatus;
  readonly step_id?: string;
  readonly at: string;
}

export interface ErrorRaised {
  readonly type: 'ErrorRaised';
  readonly step_id?: string;
  readonly iteration?: IterationPath;
  readonly error: ErrorBody;
  readonly at: string;
}

export interface ExecutionCompleted {
  readonly type: 'ExecutionCompleted';
  readonly status: TerminalStatus;
  readonly result?: unknown;
  readonly error?: ErrorBody;
  /** cancelled: why. */
  readonly reason?: string;
  readonly at: string;
}

/**
 * Stream-only entries: replayed by SSE, never folded into state. They live on the sibling `deltas`
 * subject, except a worker step's journal recorded with its result (`CompleteStep.journal`): that
 * goes first in the same append as the decision it led to, one message instead of two.
 * `attempt` and `turn` (0-based model call within the attempt) journal agent steps, so a redelivered
 * attempt resumes from its last completed turn; `call_id` pairs a ToolCalled with its ToolResulted.
 */
export type StreamEvent =
  | { readonly type: 'Delta'; readonly step_id: string; readonly iteration?: IterationPath; readonly attempt?: number; readonly turn?: number; readonly chat_turn?: number; readonly content: string; readonly at: string }
  | {
      readonly type: 'ToolCalled';
      readonly step_id: string;
      readonly iteration?: IterationPath;
      readonly attempt?: number;
      readonly turn?: number;
      readonly chat_turn?: number;
      readonly tool: string;
      readonly call_id?: string;
      readonly arguments: unknown;
      readonly at: string;
    }
  | {
      readonly type: 'ToolResulted';
      readonly step_id: string;
      readonly iteration?: IterationPath;
      readonly attempt?: number;
      readonly turn?: number;
      readonly chat_turn?: number;
      readonly tool: string;
      readonly call_id?: string;
      readonly result: unknown;
      /** The tool failed; `result` holds the error body the model was shown. */
      readonly is_error?: boolean;
      readonly at: string;
    };

const STREAM_EVENT_TYPES: ReadonlySet<string> = new Set<StreamEvent['type']>(['Delta', 'ToolCalled', 'ToolResulted']);

/** True for a stream-only event (it may share an `events` entry with decision events; folds skip it). */
export function isStreamEvent(event: { readonly type: string }): event is StreamEvent {
  return STREAM_EVENT_TYPES.has(event.type);
}

/** Key of one step instance in state and in task ids: `step_id` or `step_id#0.2` inside loops. */
export function stepKey(step_id: string, iteration?: IterationPath): string {
  return iteration && iteration.length ? `${step_id}#${iteration.join('.')}` : step_id;
}
