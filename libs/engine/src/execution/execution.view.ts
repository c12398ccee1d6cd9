import type { ExecutionStatus, ExecutionView, StepRecordView } from '@jetflow/contracts';
import type { ExecutionState } from './execution.state';

/** The guide's execution shape, from the actor state. */
export function toExecutionView(state: ExecutionState): ExecutionView {
  const steps: StepRecordView[] = [];
  for (const r of state.steps.values()) {
    steps.push({
      step_id: r.step_id,
      step_type: r.step_type,
      ...(r.iteration.length ? { iteration: r.iteration } : {}),
      status: r.status,
      started_at: r.started_at,
      completed_at: r.completed_at,
      // A chat step waiting for the user shows its latest answer.
      ...(r.status === 'completed' || (r.status === 'waiting' && r.chat_turn !== undefined) ? { result: r.output } : {}),
      ...(r.chat_turn !== undefined ? { chat_turn: r.chat_turn } : {}),
      ...(r.error ? { error: r.error } : {}),
      attempts: r.attempt,
    });
  }
  return {
    id: state.execution_id,
    workflow_id: state.workflow_id,
    workflow_version: state.workflow_version,
    status: state.status as ExecutionStatus,
    started_at: state.started_at ?? '',
    completed_at: state.completed_at,
    steps,
    ...(state.status === 'completed' ? { result: state.result ?? null } : {}),
    ...(state.error ? { error: state.error } : {}),
  };
}
