import type { StepType } from '@jetflow/contracts';

/**
 * Where a step type runs.
 * - `inline`: pure and fast; the actor host computes it right after the decision that started it and
 *   appends the result in the same JetStream message (no task round trip).
 * - `worker`: has outside effects or may take long (network, LLM): a task on the work queue for `steps`.
 * - `control`: resolved by the decider itself (timers, waits, loops).
 */
export type StepKind = 'inline' | 'worker' | 'control';

const KINDS: Record<StepType, StepKind> = {
  trigger: 'inline',
  condition: 'inline',
  data_transform: 'inline',
  parallel: 'inline',
  delay: 'control',
  loop: 'control',
  human_approval: 'control',
  tool_call: 'worker',
  api_call: 'worker',
  agent_execution: 'worker',
};

export function stepKind(type: StepType): StepKind {
  return KINDS[type];
}
