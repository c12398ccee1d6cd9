import { stepKey, toErrorBody, type ErrorBody, type ExecutionEvent, type SecretSlot, type StepStarted, type StepTask } from '@jetflow/contracts';
import { evaluateCondition, evaluateJsonata, parsePath, resolvePath, resolveTemplates, scanTemplates, stringifyValue, templatePaths, type TemplateScope } from '@jetflow/expressions';
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
  const parameters = resolveTemplates(step.parameters, scope, { keepRoots: ['secrets'] }) as Record<string, unknown>;
  const refs = secretRefs(step.parameters);
  const slots = refs.secret_refs ? secretSlots(step.parameters, parameters, scope) : [];
  return {
    execution_id: state.execution_id,
    step_id: run.step_id,
    ...(run.iteration.length ? { iteration: run.iteration } : {}),
    attempt: run.attempt,
    step_type: step.step_type,
    parameters,
    scope: state.scope,
    input: state.input,
    idempotency_key: `${state.execution_id}:${attemptKey(run)}:${run.attempt}`,
    ...(run.chat_turn ? { chat_turn: run.chat_turn } : {}),
    ...(run.chat?.length ? { chat: run.chat } : {}),
    ...(step.timeout_seconds ? { timeout_seconds: step.timeout_seconds } : {}),
    ...(slots.length ? { secret_slots: slots } : {}),
    ...refs,
  };
}

/** Same bound as `resolveTemplates`: deeper values are left as they are. */
const MAX_DEPTH = 100;

/**
 * Where the definition wrote `{{secrets.NAME}}`: for each definition string holding secret
 * templates, its path (data templates never move a definition string), its names, and where those
 * templates sit in the resolved string. The worker resolves secrets there and nowhere else, so a
 * secret template brought in by run-time data stays inert text.
 */
function secretSlots(definition: unknown, resolved: unknown, scope: TemplateScope): SecretSlot[] {
  const slots: SecretSlot[] = [];
  const visit = (def: unknown, res: unknown, path: (string | number)[], depth: number): void => {
    if (typeof def === 'string') {
      const slot = secretSlot(def, res, scope, path);
      if (slot) slots.push(slot);
      return;
    }
    if (depth >= MAX_DEPTH || def === null || typeof def !== 'object') return;
    if (Array.isArray(def)) {
      def.forEach((v, i) => visit(v, Array.isArray(res) ? res[i] : undefined, [...path, i], depth + 1));
      return;
    }
    const resObj = res !== null && typeof res === 'object' && !Array.isArray(res) ? (res as Record<string, unknown>) : undefined;
    for (const [k, v] of Object.entries(def)) visit(v, resObj && Object.prototype.hasOwnProperty.call(resObj, k) ? resObj[k] : undefined, [...path, k], depth + 1);
  };
  visit(definition, resolved, [], 0);
  return slots;
}

function secretSlot(text: string, resolved: unknown, scope: TemplateScope, path: (string | number)[]): SecretSlot | undefined {
  const { parts } = scanTemplates(text);
  const names = new Set<string>();
  for (const p of parts) if (p.kind === 'template' && p.segments[0] === 'secrets' && p.segments.length === 2) names.add(p.segments[1]!);
  if (!names.size) return undefined;
  // The string as resolveTemplates builds it (secret templates kept verbatim), noting where each
  // of the definition's secret templates lands.
  let out = '';
  const spans: [number, number][] = [];
  for (const part of parts) {
    if (part.kind === 'text') out += part.text;
    else if (part.segments[0] === 'secrets') {
      if (part.segments.length === 2) spans.push([out.length, out.length + part.raw.length]);
      out += part.raw;
    } else out += stringifyValue(resolvePath(scope, part.path));
  }
  // Offsets only when they match the task's string; else the worker resolves the names in it.
  return { path, names: [...names], ...(out === resolved ? { spans } : {}) };
}

/** Per step definition's parameters (they never change): most steps have no secret at all. */
const refsCache = new WeakMap<object, { secret_refs?: string[] }>();

/** `{{secrets.NAME}}` names written in the definition (not in data), for the worker to resolve. */
function secretRefs(parameters: Readonly<Record<string, unknown>>): { secret_refs?: string[] } {
  let refs = refsCache.get(parameters);
  if (!refs) refsCache.set(parameters, (refs = scanSecretRefs(parameters)));
  return refs;
}

function scanSecretRefs(parameters: unknown): { secret_refs?: string[] } {
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
