/** NATS names shared by every service. */
export const STREAMS = {
  executions: 'JETFLOW_EXECUTIONS',
  tasks: 'JETFLOW_TASKS',
  timers: 'JETFLOW_TIMERS',
} as const;

export const SUBJECTS = {
  executionEvents: (executionId: string) => `jetflow.exec.${executionId}.events`,
  executionDeltas: (executionId: string) => `jetflow.exec.${executionId}.deltas`,
  executionAll: (executionId: string) => `jetflow.exec.${executionId}.*`,
  allExecutionEvents: 'jetflow.exec.*.events',
  allExecutions: 'jetflow.exec.>',
  task: (executionId: string, token: string) => `jetflow.tasks.${executionId}.${token}`,
  allTasks: 'jetflow.tasks.>',
  timer: (executionId: string, token: string) => `jetflow.timers.${executionId}.${token}`,
  allTimers: 'jetflow.timers.>',
  /**
   * Core request/reply, every steps worker subscribed (no queue group): "do you hold this task?"
   * (body = its idempotency key). Only a worker running it answers; silence means nobody does.
   * Outside `jetflow.tasks.>`, which the TASKS stream captures.
   */
  taskHeld: 'jetflow.steps.held',
  /**
   * Core pub/sub, every steps worker subscribed: the run ended other than `completed` (cancelled,
   * failed, timed out): its steps still running are abandoned (their handlers' signals abort).
   * Best effort: a worker that misses it finishes the call and the run ignores the result.
   */
  runEnded: (executionId: string) => `jetflow.events.runs.${executionId}.ended`,
  allRunsEnded: 'jetflow.events.runs.*.ended',
  /** Core pub/sub: a workflow's current definition changed (updated or archived); body = its id. */
  workflowChanged: (workflowId: string) => `jetflow.events.workflows.${workflowId}.changed`,
  allWorkflowChanges: 'jetflow.events.workflows.*.changed',
  /** Request/reply between services: `jetflow.rpc.<service>.<operation>`. */
  rpc: (service: 'workflows' | 'executions' | 'approvals' | 'tools', op: string) => `jetflow.rpc.${service}.${op}`,
} as const;

/** A subject-safe token for any string (step keys may hold dots or spaces). */
export function subjectToken(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}
