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
   * Where the step's *definition* wrote `{{secrets.NAME}}`: one slot per definition string holding
   * secret templates. Workers resolve secrets only there, so a secret template arriving inside
   * run-time data (trigger input, step outputs) stays inert text, wherever it lands.
   */
  readonly secret_slots?: readonly SecretSlot[];
  /**
   * Secret names the definition references anywhere. Only for tasks without `secret_slots`
   * (queued by an older engine): the worker then resolves these names in every string. Still
   * written for older workers during a rolling upgrade.
   */
  readonly secret_refs?: readonly string[];
  /** Chat agent steps: the turn being answered and the conversation after the first user message. */
  readonly chat_turn?: number;
  readonly chat?: readonly { readonly role: 'user' | 'assistant'; readonly content: string }[];
}

/** A string of a step definition's parameters that holds `{{secrets.NAME}}` templates. */
export interface SecretSlot {
  /** Where the string sits in `parameters`: object keys and array indexes from the root. */
  readonly path: readonly (string | number)[];
  /** The secret names the definition wrote in that string. */
  readonly names: readonly string[];
  /**
   * Where the definition's own secret templates sit in the *resolved* string: `[start, end)`
   * offsets, ascending. With them, a same-name template that a data template of the same string
   * brought in stays inert too. Absent: every template of `names` in the string is resolved.
   */
  readonly spans?: readonly (readonly [number, number])[];
}

/** A durable timer message (JetStream work queue, redelivered with delay until due). */
export interface TimerTask {
  readonly execution_id: string;
  readonly timer_id: string;
  readonly fire_at: string;
}
