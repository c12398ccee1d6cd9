/** Step types of the guide. */
export const STEP_TYPES = [
  'trigger',
  'agent_execution',
  'condition',
  'loop',
  'parallel',
  'human_approval',
  'tool_call',
  'data_transform',
  'api_call',
  'delay',
] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const TRIGGER_KINDS = ['chat', 'api', 'schedule', 'webhook'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** `max_attempts` counts the first attempt. */
export interface RetryPolicy {
  readonly max_attempts: number;
  readonly backoff_seconds?: number;
  readonly max_backoff_seconds?: number;
}

export interface StepDefinition {
  readonly step_id: string;
  readonly step_type: StepType;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly next_steps: readonly string[];
  /** condition / human_approval: taken when the condition is false / the approval rejected. */
  readonly else_steps?: readonly string[];
  readonly retry?: RetryPolicy;
  readonly timeout_seconds?: number;
  readonly name?: string;
}

/** A workflow definition as stored and as pinned into an execution's first event. */
export interface WorkflowDefinition {
  readonly name: string;
  readonly description?: string;
  readonly steps: readonly StepDefinition[];
  readonly timeout_seconds?: number;
}

/** Organization / project / user a request or object belongs to. */
export interface Scope {
  readonly organization_id: string;
  readonly project_id: string;
  readonly user_id?: string;
}
