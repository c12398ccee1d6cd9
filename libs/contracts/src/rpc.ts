import type { ErrorBody } from './errors';
import type { ExecutionStatus, StepStatus, TriggerInput } from './execution-events';
import type { Scope, StepDefinition, WorkflowDefinition } from './workflow-definition';

/**
 * Request/reply contract between the gateway and the services, over NATS subjects
 * `jetflow.rpc.<service>.<op>` (see SUBJECTS.rpc). Every request carries the caller's scope.
 * Replies are `RpcReply<T>`: `{ok: true, data}` or `{ok: false, error}` with a stable code.
 */
export type RpcReply<T> = { readonly ok: true; readonly data: T } | { readonly ok: false; readonly error: ErrorBody };

export interface ListQuery {
  readonly limit?: number;
  readonly cursor?: string;
}
export interface ListPage<T> {
  readonly items: readonly T[];
  readonly next_cursor: string | null;
}

// ---- workflows service -------------------------------------------------------------------
export interface WorkflowView {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly status: 'active' | 'archived';
  readonly version: number;
  readonly steps: readonly StepDefinition[];
  readonly timeout_seconds?: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface WorkflowsRpc {
  create: { req: { scope: Scope; body: unknown }; res: WorkflowView };
  get: { req: { scope: Scope; id: string; version?: number }; res: WorkflowView };
  list: { req: { scope: Scope; query: ListQuery & { status?: string } }; res: ListPage<WorkflowView> };
  update: { req: { scope: Scope; id: string; body: unknown }; res: WorkflowView };
  archive: { req: { scope: Scope; id: string }; res: WorkflowView };
  validate: { req: { scope: Scope; body: unknown }; res: { valid: true } };
  /**
   * Unscoped: the scope and current definition of a workflow, for callers that come from outside
   * without scope headers (webhooks). Unknown id, or a workflow without a webhook trigger (archived or not) → NOT_FOUND; an archived webhook workflow → CONFLICT.
   */
  'hook-target': { req: { id: string }; res: HookTarget };
  /** Unscoped: every active workflow whose current version has a `schedule` trigger. */
  schedules: { req: Record<string, never>; res: { items: readonly ScheduleTarget[] } };
}

/** Where a webhook for a workflow goes: its scope and current definition. */
export interface HookTarget {
  readonly workflow_id: string;
  readonly scope: Scope;
  readonly version: number;
  readonly definition: WorkflowDefinition;
}

/** An active schedule: the trigger's cron/timezone and when its current version was saved. */
export interface ScheduleTarget {
  readonly workflow_id: string;
  readonly scope: Scope;
  readonly version: number;
  readonly cron: string;
  readonly timezone?: string;
  /** Ticks after this instant belong to the schedule (the current version's creation time). */
  readonly active_since: string;
}

// ---- executions service ------------------------------------------------------------------
export interface ExecuteBody {
  readonly trigger?: TriggerInput;
  readonly user_id?: string;
  readonly session_id?: string;
  readonly context?: Record<string, unknown>;
}

export interface ExecutionStartedView {
  readonly execution_id: string;
  readonly workflow_id: string;
  readonly status: ExecutionStatus;
  readonly started_at: string;
}

export interface StepRecordView {
  readonly step_id: string;
  readonly step_type: string;
  readonly iteration?: readonly number[];
  readonly status: StepStatus;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly result?: unknown;
  readonly error?: ErrorBody;
  readonly attempts: number;
  /** Chat agent steps: the conversation turn answered last or in progress. */
  readonly chat_turn?: number;
}

export interface ExecutionView {
  readonly id: string;
  readonly workflow_id: string;
  readonly workflow_version: number;
  readonly status: ExecutionStatus;
  readonly started_at: string;
  readonly completed_at: string | null;
  readonly steps: readonly StepRecordView[];
  readonly result?: unknown;
  readonly error?: ErrorBody;
}

export interface ExecutionSummaryView {
  readonly id: string;
  readonly workflow_id: string;
  readonly workflow_version: number;
  readonly status: ExecutionStatus;
  readonly started_at: string;
  readonly completed_at: string | null;
  readonly updated_at: string;
}

export interface ExecutionsRpc {
  /** Starts a run; the same `idempotency_key` in the same scope returns the same execution. */
  start: { req: { scope: Scope; workflow_id: string; body: ExecuteBody; idempotency_key?: string }; res: ExecutionStartedView };
  get: { req: { scope: Scope; id: string }; res: ExecutionView };
  list: { req: { scope: Scope; query: ListQuery & { workflow_id?: string; status?: string } }; res: ListPage<ExecutionSummaryView> };
  cancel: { req: { scope: Scope; id: string }; res: ExecutionView };
  /** Checks the execution exists in the scope (SSE and /events use it before reading the log). */
  authorize: { req: { scope: Scope; id: string }; res: { id: string } };
  events: { req: { scope: Scope; id: string; from_seq?: number; limit?: number }; res: { items: readonly unknown[]; next_seq: number | null } };
  /** A user turn for a chat execution waiting on an agent step with `wait_for_user`. */
  message: { req: { scope: Scope; id: string; content: string; end?: boolean; message_id?: string }; res: { execution_id: string; status: ExecutionStatus } };
}

export type WorkflowDefinitionBody = WorkflowDefinition;
