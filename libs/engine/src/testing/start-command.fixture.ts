import type { ExecutionCommand, StepDefinition, TriggerInput, WorkflowDefinition } from '@jetflow/contracts';

/** A StartExecution of `definition` in scope o/p (workflow `w`, version 1) for tests. */
export function startCommand(id: string, definition: WorkflowDefinition, input: TriggerInput = { kind: 'api' }): ExecutionCommand {
  return {
    type: 'StartExecution',
    execution_id: id,
    workflow_id: 'w',
    workflow_version: 1,
    definition,
    scope: { organization_id: 'o', project_id: 'p' },
    input,
    context: {},
    user_id: null,
    session_id: null,
    now: '2026-01-01T00:00:00.000Z',
  };
}

/** A step definition for tests. */
export function stepDef(step_id: string, step_type: StepDefinition['step_type'], parameters: Record<string, unknown> = {}, next_steps: string[] = [], extra: Partial<StepDefinition> = {}): StepDefinition {
  return { step_id, step_type, parameters, next_steps, ...extra };
}
