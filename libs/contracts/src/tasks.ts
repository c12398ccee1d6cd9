import type { IterationPath, TriggerInput } from './execution-events';
import type { Scope, StepType } from './workflow-definition';

/** A unit of work for the `steps` workers (JetStream work queue). */
export interface StepTask {
  readonly execution_id: string;
  readonly step_id: string;
  readonly iteration?: IterationPath;
  readonly attempt: number;
  readonly step_type: StepType;
  /** Parameters with templates already resolved against the execution's data. */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly scope: Scope;
  readonly input: TriggerInput;
  /** `<execution_id>:<step_id>:<attempt>`, sent to external calls as idempotency key. */
  readonly idempotency_key: string;
  readonly timeout_seconds?: number;
  /**
   * Secret names the step's *definition* references as `{{secrets.NAME}}`. Workers resolve only
   * these, so a secret template arriving inside run-time data (trigger input) stays inert text.
   */
  readonly secret_refs?: readonly string[];
  /** Chat agent steps: the turn being answered and the conversation after the first user message. */
  readonly chat_turn?: number;
  readonly chat?: readonly { readonly role: 'user' | 'assistant'; readonly content: string }[];
}

/** A durable timer message (JetStream work queue, redelivered with delay until due). */
export interface TimerTask {
  readonly execution_id: string;
  readonly timer_id: string;
  readonly fire_at: string;
}
