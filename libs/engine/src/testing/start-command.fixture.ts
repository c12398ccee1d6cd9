import type { ExecutionCommand, TriggerInput, WorkflowDefinition } from '@jetflow/contracts';

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
