import { stepKey, toErrorBody, type ErrorBody, type ExecutionEvent, type StepStarted, type StepTask } from '@jetflow/contracts';
import { evaluateCondition, evaluateJsonata, parsePath, resolveTemplates, templatePaths } from '@jetflow/expressions';
import { attemptKey, type ExecutionState, type StepRun } from './execution.state';
import { stepKind } from './step-kinds';
import { templateScope } from './template-scope';

export type StepOutcome = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: ErrorBody; readonly retryable: boolean };

/** StepStarted events of a batch whose step runs inline in the actor host. */
export function inlineStarts(events: readonly ExecutionEvent[]): StepStarted[] {
  return events.filter((e): e is StepStarted => e.type === 'StepStarted' && stepKind(e.step_type) === 'inline');
}

/** StepStarted events of a batch that become tasks for the `steps` workers. */
export function workerStarts(events: readonly ExecutionEvent[]): StepStarted[] {
  return events.filter((e): e is StepStarted => e.type === 'StepStarted' && stepKind(e.step_type) === 'worker');
}

/**
 * Computes a pure step (trigger, condition, data_transform, parallel) over the execution's data.
 * Deterministic: same state, same outcome. Bad data is a terminal VALIDATION_ERROR.
 */
export async function runInlineStep(state: ExecutionState, started: StepStarted): Promise<StepOutcome> {
  const step = state.graph.steps.get(started.step_id);
  if (!step) return { ok: false, error: { code: 'VALIDATION_ERROR', message: `unknown step ${started.step_id}` }, retryable: false };
  try {
    const scope = templateScope(state, started.step_id, started.iteration ?? []);
    switch (step.step_type) {
      case 'trigger':
        return { ok: true, output: state.input };
      case 'parallel':
        return { ok: true, output: {} };
      case 'condition':
        return { ok: true, output: { value: evaluateCondition(String(step.parameters['condition'] ?? ''), scope) } };
      case 'data_transform': {
        const p = step.parameters;
        if (typeof p['expression'] === 'string') return { ok: true, output: (await evaluateJsonata(p['expression'], scope)) ?? null };
        return { ok: true, output: resolveTemplates(p['mapping'] ?? null, scope) };
      }
      default:
        return { ok: false, error: { code: 'VALIDATION_ERROR', message: `${step.step_type} is not an inline step` }, retryable: false };
    }
  } catch (err) {
    return { ok: false, error: { ...toErrorBody(err, 'VALIDATION_ERROR'), code: 'VALIDATION_ERROR' }, retryable: false };
  }
}

/** The work-queue task for a worker step instance; templates resolved, `secrets.*` left for the worker. */
export function buildStepTask(state: ExecutionState, run: StepRun): StepTask {
  const step = state.graph.steps.get(run.step_id)!;
  const scope = templateScope(state, run.step_id, run.iteration);
  return {
    execution_id: state.execution_id,
    step_id: run.step_id,
    ...(run.iteration.length ? { iteration: run.iteration } : {}),
    attempt: run.attempt,
    step_type: step.step_type,
    parameters: resolveTemplates(step.parameters, scope, { keepRoots: ['secrets'] }) as Record<string, unknown>,
    scope: state.scope,
    input: state.input,
    idempotency_key: `${state.execution_id}:${attemptKey(run)}:${run.attempt}`,
    ...(run.chat_turn ? { chat_turn: run.chat_turn } : {}),
    ...(run.chat?.length ? { chat: run.chat } : {}),
    ...(step.timeout_seconds ? { timeout_seconds: step.timeout_seconds } : {}),
    ...secretRefs(step.parameters),
  };
}

/** `{{secrets.NAME}}` names written in the definition (not in data), for the worker to resolve. */
function secretRefs(parameters: unknown): { secret_refs?: string[] } {
  const names = templatePaths(parameters)
    .map((path) => parsePath(path))
    .filter((p) => p.ok && p.segments[0] === 'secrets' && p.segments.length === 2)
    .map((p) => (p as { segments: readonly string[] }).segments[1]!);
  return names.length ? { secret_refs: [...new Set(names)] } : {};
}

/** Worker step instances whose current attempt awaits a result (the recovery sweep re-dispatches them). */
export function outstandingTasks(state: ExecutionState): StepRun[] {
  if (state.status === 'new' || ['completed', 'failed', 'cancelled', 'timeout'].includes(state.status)) return [];
  return [...state.steps.values()].filter((r) => r.status === 'running' && stepKind(r.step_type) === 'worker');
}

/** Timers that can still change the run (stale ones are ignored by decide anyway). */
export function liveTimers(state: ExecutionState) {
  if (state.status === 'new' || ['completed', 'failed', 'cancelled', 'timeout'].includes(state.status)) return [];
  return [...state.timers.values()].filter((t) => {
    if (t.purpose === 'workflow_timeout') return true;
    const run = t.step_id !== undefined ? state.steps.get(stepKey(t.step_id, t.iteration)) : undefined;
    if (!run || run.attempt !== t.attempt) return false;
    if (t.purpose === 'retry') return run.status === 'pending';
    if (t.purpose === 'approval_timeout') return run.status === 'waiting';
    return run.status === 'running' || run.status === 'waiting';
  });
}
