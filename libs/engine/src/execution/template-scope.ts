import { stepKey, type IterationPath } from '@jetflow/contracts';
import type { ExecutionState } from './execution.state';
import { loopKeyOf } from './execution.state';

/**
 * The template scope a step instance sees (DESIGN.md "Templates"): input, context, user_id,
 * session_id, execution, steps.<id>.output (same iteration first, then enclosing ones) and, inside a
 * loop, loop.item / loop.index of the innermost loop.
 */
export function templateScope(state: ExecutionState, stepId: string, iteration: IterationPath = []): Record<string, unknown> {
  const steps: Record<string, { output: unknown }> = {};
  for (const id of state.graph.steps.keys()) {
    for (let depth = iteration.length; depth >= 0; depth--) {
      const run = state.steps.get(stepKey(id, iteration.slice(0, depth)));
      if (run) {
        if (run.status === 'completed') steps[id] = { output: run.output };
        break;
      }
    }
  }
  const scope: Record<string, unknown> = {
    input: state.input,
    context: state.context,
    user_id: state.user_id,
    session_id: state.session_id,
    execution: { id: state.execution_id, workflow_id: state.workflow_id, started_at: state.started_at },
    steps,
  };
  const loopId = state.graph.regionOf.get(stepId);
  if (loopId && iteration.length) {
    const loop = state.loops.get(loopKeyOf(loopId, iteration));
    const index = iteration[iteration.length - 1]!;
    if (loop) scope['loop'] = { item: loop.items[index] ?? null, index };
  }
  return scope;
}
