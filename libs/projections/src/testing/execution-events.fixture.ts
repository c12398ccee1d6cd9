import type { ErrorCode, ExecutionEvent, ExecutionStatus, Scope, TerminalStatus } from '@jetflow/contracts';

/** Test builders for execution log events (only the fields the read model looks at matter). */
export const started = (o: { execution_id: string; workflow_id: string; scope: Scope; at: string; version?: number }): ExecutionEvent => ({
  type: 'ExecutionStarted',
  execution_id: o.execution_id,
  workflow_id: o.workflow_id,
  workflow_version: o.version ?? 1,
  definition: { name: 'wf', steps: [] },
  scope: o.scope,
  input: {},
  context: {},
  user_id: null,
  session_id: null,
  at: o.at,
});

export const statusChanged = (status: ExecutionStatus, at: string): ExecutionEvent => ({ type: 'ExecutionStatusChanged', status, at });

export const completed = (status: TerminalStatus, at: string, code?: ErrorCode): ExecutionEvent => ({
  type: 'ExecutionCompleted',
  status,
  at,
  ...(code ? { error: { code, message: code.toLowerCase() } } : {}),
});

export const stepStarted = (step_id: string, at: string): ExecutionEvent => ({ type: 'StepStarted', step_id, step_type: 'tool_call', attempt: 1, at });
