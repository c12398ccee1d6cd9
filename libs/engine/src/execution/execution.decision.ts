import { stepKey, type ErrorBody, type ExecutionEvent, type IterationPath } from '@jetflow/contracts';
import { resolveTemplates } from '@jetflow/expressions';
import { addSeconds, isoOf, MAX_DURATION_HOURS, MAX_DURATION_SECONDS, MAX_RETRY_AFTER_SECONDS, parseIsoDate, readSeconds } from './durations';
import { attemptKey, evolve, isTerminal, RESOLVED, type ExecutionState, type StepRun } from './execution.state';
import { stepKind } from './step-kinds';
import { show } from '../validation/value.checks';
import { templateScope } from './template-scope';

const DEFAULT_BACKOFF_SECONDS = 1;

/**
 * One decision: a working copy of the state that every emitted event is folded into, plus the
 * step rules shared by the command handlers (`execution.decider.ts`) and the graph planner
 * (`execution.planner.ts`): start a step instance, fail an attempt (retry or propagate), end the run.
 */
export class Decision {
  readonly events: ExecutionEvent[] = [];
  constructor(
    readonly ws: ExecutionState,
    readonly now: string,
  ) {}

  emit(event: ExecutionEvent): void {
    this.events.push(event);
    evolve(this.ws, event);
  }

  /** The step instance a result is for, or undefined when the result is stale or a duplicate. */
  currentRun(stepId: string, iteration: IterationPath | undefined, attempt: number, chatTurn?: number): StepRun | undefined {
    if (isTerminal(this.ws) || this.ws.status === 'new') return undefined;
    const run = this.ws.steps.get(stepKey(stepId, iteration));
    if (!run || (run.status !== 'running' && run.status !== 'waiting') || run.attempt !== attempt) return undefined;
    if ((run.chat_turn ?? 0) !== (chatTurn ?? 0)) return undefined;
    // A chat step waiting for the user takes no worker results.
    if (run.status === 'waiting' && run.chat_turn !== undefined && run.step_type === 'agent_execution') return undefined;
    return run;
  }

  failAttempt(run: StepRun, error: ErrorBody, retryable: boolean, rand: number, retryAfter?: number): void {
    const step = this.ws.graph.steps.get(run.step_id)!;
    const maxAttempts = step.retry?.max_attempts ?? 1;
    let willRetry = retryable && run.attempt < maxAttempts;
    let retrySeconds = 0;
    if (willRetry) {
      const delay = retryDelay(step.retry, run.attempt, rand, retryAfter);
      if (delay.ok) retrySeconds = delay.seconds;
      else {
        // A retry policy no timer can represent (a definition stored before the validator's cap):
        // the step fails for good, saying why, with the attempt's own error as the detail.
        willRetry = false;
        error = { code: 'VALIDATION_ERROR', message: `cannot schedule a retry: ${delay.reason}`, details: [{ code: error.code, message: error.message }] };
      }
    }
    this.emit({
      type: 'StepFailed',
      step_id: run.step_id,
      ...iter(run.iteration),
      attempt: run.attempt,
      error,
      will_retry: willRetry,
      duration_ms: this.elapsed(run.attempt_started_at),
      at: this.now,
    });
    if (willRetry) {
      this.emit({
        type: 'TimerScheduled',
        timer_id: `retry:${attemptKey(run)}:${run.attempt}`,
        purpose: 'retry',
        fire_at: addSeconds(this.now, retrySeconds),
        step_id: run.step_id,
        ...iter(run.iteration),
        attempt: run.attempt,
        ...(run.chat_turn ? { chat_turn: run.chat_turn } : {}),
        at: this.now,
      });
      return;
    }
    this.propagateFailure(run, error);
  }

  /** A step failed for good: its loop fails with it (up to the top), where the run fails. */
  private propagateFailure(run: StepRun, error: ErrorBody): void {
    const branch = this.ws.graph.branchOf.get(run.step_id);
    if (branch && this.ws.graph.steps.get(branch.parallel)?.parameters['fail_fast'] === false) {
      // fail_fast: false: the other branches finish; the join is skipped and the run fails at the end.
      return;
    }
    const loopId = this.ws.graph.regionOf.get(run.step_id);
    if (loopId && run.iteration.length) {
      const loopRun = this.ws.steps.get(stepKey(loopId, run.iteration.slice(0, -1)));
      if (loopRun && !RESOLVED.has(loopRun.status)) {
        this.emit({
          type: 'StepFailed',
          step_id: loopRun.step_id,
          ...iter(loopRun.iteration),
          attempt: loopRun.attempt,
          error,
          will_retry: false,
          duration_ms: this.elapsed(loopRun.attempt_started_at),
          at: this.now,
        });
        this.propagateFailure(loopRun, error);
        return;
      }
    }
    this.endRun('failed', error, run.step_id);
  }

  failRun(run: StepRun, error: ErrorBody, output?: unknown): ExecutionEvent[] {
    this.emit({
      type: 'StepFailed',
      step_id: run.step_id,
      ...iter(run.iteration),
      attempt: run.attempt,
      error: output === undefined ? error : { ...error, details: [{ message: JSON.stringify(output).slice(0, 500) }] },
      will_retry: false,
      duration_ms: this.elapsed(run.attempt_started_at),
      at: this.now,
    });
    this.propagateFailure(run, error);
    return this.events;
  }

  /** Ends the run: abandons every unfinished step, then the `complete` event. */
  endRun(status: 'failed' | 'cancelled' | 'timeout', error?: ErrorBody, stepId?: string, reason?: string): void {
    if (error) this.emit({ type: 'ErrorRaised', ...(stepId ? { step_id: stepId } : {}), error, at: this.now });
    for (const run of [...this.ws.steps.values()]) {
      if (!RESOLVED.has(run.status)) this.emit({ type: 'StepCancelled', step_id: run.step_id, ...iter(run.iteration), at: this.now });
    }
    this.emit({
      type: 'ExecutionCompleted',
      status,
      ...(error ? { error } : {}),
      ...(status === 'cancelled' && reason ? { reason } : {}),
      at: this.now,
    });
  }

  resumeIfNoneWaiting(): void {
    if (this.ws.status !== 'waiting') return;
    for (const r of this.ws.steps.values()) if (r.status === 'waiting') return;
    this.emit({ type: 'ExecutionStatusChanged', status: 'running', at: this.now });
  }

  /** Starts one step instance: the StepStarted event plus what its kind needs (timers, waits). */
  startStep(stepId: string, iteration: IterationPath, attempt: number, chatTurn?: number): void {
    const step = this.ws.graph.steps.get(stepId);
    if (!step) return;
    const key = attemptKey({ key: stepKey(stepId, iteration), chat_turn: chatTurn });
    const base = { step_id: stepId, ...iter(iteration), attempt, ...(chatTurn ? { chat_turn: chatTurn } : {}), at: this.now };
    if (step.step_type === 'loop') {
      const items = resolveTemplates(step.parameters['items'], templateScope(this.ws, stepId, iteration));
      const max = typeof step.parameters['max_iterations'] === 'number' ? step.parameters['max_iterations'] : 1000;
      this.emit({ type: 'StepStarted', step_type: 'loop', ...base, ...(Array.isArray(items) && items.length <= max ? { items } : {}) });
      if (!Array.isArray(items)) {
        this.failAttempt(this.ws.steps.get(key)!, { code: 'VALIDATION_ERROR', message: 'loop items is not an array' }, false, 0);
      } else if (items.length > max) {
        this.failAttempt(this.ws.steps.get(key)!, { code: 'VALIDATION_ERROR', message: `loop has ${items.length} items, more than max_iterations ${max}` }, false, 0);
      }
      return;
    }
    this.emit({ type: 'StepStarted', step_type: step.step_type, ...base });
    // The run just started (for a chat turn: the same record, running again).
    const started = (): StepRun => this.ws.steps.get(stepKey(stepId, iteration))!;
    if (step.step_type === 'delay') {
      const fireAt = this.delayFireAt(step.parameters, stepId, iteration);
      if (!fireAt.ok) {
        this.failAttempt(started(), { code: 'VALIDATION_ERROR', message: fireAt.reason }, false, 0);
        return;
      }
      this.emit({ type: 'TimerScheduled', timer_id: `delay:${key}:${attempt}`, purpose: 'delay', fire_at: fireAt.at, step_id: stepId, ...iter(iteration), attempt, at: this.now });
      return;
    }
    if (step.step_type === 'human_approval') {
      const p = step.parameters;
      const hours = typeof p['timeout_hours'] === 'number' && p['timeout_hours'] > 0 ? p['timeout_hours'] : undefined;
      if (hours !== undefined && !(hours <= MAX_DURATION_HOURS)) {
        this.failAttempt(started(), { code: 'VALIDATION_ERROR', message: `timeout_hours must be at most ${MAX_DURATION_HOURS} (366 days), got ${hours}` }, false, 0);
        return;
      }
      const expiresAt = hours ? addSeconds(this.now, hours * 3600) : null;
      const message = p['message'] === undefined ? null : resolveTemplates(p['message'], templateScope(this.ws, stepId, iteration));
      const approvers = Array.isArray(p['approvers']) ? p['approvers'].filter((a): a is string => typeof a === 'string') : [];
      this.emit({
        type: 'StepWaiting',
        step_id: stepId,
        ...iter(iteration),
        attempt,
        approval: { approvers, message: message === null ? null : typeof message === 'string' ? message : JSON.stringify(message), expires_at: expiresAt },
        at: this.now,
      });
      this.emit({ type: 'ExecutionStatusChanged', status: 'waiting', step_id: stepId, at: this.now });
      if (expiresAt) {
        this.emit({ type: 'TimerScheduled', timer_id: `approval_timeout:${key}:${attempt}`, purpose: 'approval_timeout', fire_at: expiresAt, step_id: stepId, ...iter(iteration), attempt, at: this.now });
      }
      return;
    }
    const timeout = step.timeout_seconds ?? (step.step_type === 'agent_execution' ? numberOr(step.parameters['timeout_seconds'], 300) : undefined);
    if (timeout && stepKind(step.step_type) === 'worker') {
      const checked = readSeconds(timeout, 'timeout_seconds');
      if (!checked.ok) {
        // Failed before any task goes out: the host dispatches tasks of running steps only.
        this.failAttempt(started(), { code: 'VALIDATION_ERROR', message: checked.reason }, false, 0);
        return;
      }
      this.emit({
        type: 'TimerScheduled',
        timer_id: `step_timeout:${key}:${attempt}`,
        purpose: 'step_timeout',
        fire_at: addSeconds(this.now, checked.seconds),
        step_id: stepId,
        ...iter(iteration),
        attempt,
        ...(chatTurn ? { chat_turn: chatTurn } : {}),
        at: this.now,
      });
    }
  }

  /**
   * When a delay step instance is due: `until` (an ISO 8601 date-time; one in the past is due at
   * once) or now + `seconds` (a number or numeric string), templates resolved with the instance's
   * scope. Anything else, a negative duration, or a time beyond `MAX_DURATION_SECONDS` from now is
   * the reason the step fails.
   */
  private delayFireAt(p: Readonly<Record<string, unknown>>, stepId: string, iteration: IterationPath): { ok: true; at: string } | { ok: false; reason: string } {
    const given = (k: string): boolean => Object.prototype.hasOwnProperty.call(p, k) && p[k] !== undefined && p[k] !== null;
    // Validated definitions hold exactly one of the two; a delay with neither waits 0 s as before.
    if (!given('until') && !given('seconds')) return { ok: true, at: addSeconds(this.now, 0) };
    const scope = templateScope(this.ws, stepId, iteration);
    if (given('until')) {
      const until = resolveTemplates(p['until'], scope);
      const ms = parseIsoDate(until);
      if (ms === undefined) return { ok: false, reason: `delay until must be an ISO 8601 date-time such as "2030-01-15T10:00:00Z", got ${show(until)}` };
      if (ms - Date.parse(this.now) > MAX_DURATION_SECONDS * 1000) {
        return { ok: false, reason: `delay until ${show(until)} is more than ${MAX_DURATION_SECONDS} seconds (366 days) away` };
      }
      return { ok: true, at: isoOf(ms) };
    }
    const checked = readSeconds(resolveTemplates(p['seconds'], scope), 'delay seconds');
    return checked.ok ? { ok: true, at: addSeconds(this.now, checked.seconds) } : { ok: false, reason: checked.reason };
  }

  elapsed(from: string | null): number {
    if (!from) return 0;
    return Math.max(0, Date.parse(this.now) - Date.parse(from));
  }
}

/** The optional `iteration` field of an event: omitted at the top level. */
export function iter(iteration: IterationPath | undefined): { iteration?: IterationPath } {
  return iteration && iteration.length ? { iteration } : {};
}

export function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/**
 * Seconds until a failed attempt's retry: the policy's exponential backoff (capped by its
 * `max_backoff_seconds` and by `MAX_DURATION_SECONDS`) with jitter in [50%, 100%]; a server's
 * Retry-After (clamped to `MAX_RETRY_AFTER_SECONDS`) wins when longer. Not ok when the policy
 * itself holds a value no timer can represent.
 */
export function retryDelay(
  policy: { readonly backoff_seconds?: number; readonly max_backoff_seconds?: number } | undefined,
  attempt: number,
  rand: number,
  retryAfter?: number,
): { ok: true; seconds: number } | { ok: false; reason: string } {
  const base = readSeconds(policy?.backoff_seconds ?? DEFAULT_BACKOFF_SECONDS, 'retry.backoff_seconds');
  if (!base.ok) return base;
  let cap = MAX_DURATION_SECONDS;
  if (policy?.max_backoff_seconds !== undefined) {
    const max = readSeconds(policy.max_backoff_seconds, 'retry.max_backoff_seconds');
    if (!max.ok) return max;
    cap = max.seconds;
  }
  const exp = Math.min(cap, base.seconds * 2 ** Math.max(0, attempt - 1));
  const jitter = 0.5 + (Number.isFinite(rand) ? Math.min(1, Math.max(0, rand)) : 0.5) / 2;
  return { ok: true, seconds: Math.max(exp * jitter, clampRetryAfter(retryAfter)) };
}

/** A server's retry hint in [0, MAX_RETRY_AFTER_SECONDS]; no hint, NaN or a negative one is 0. */
export function clampRetryAfter(seconds: number | undefined): number {
  if (typeof seconds !== 'number' || Number.isNaN(seconds) || seconds <= 0) return 0;
  return Math.min(seconds, MAX_RETRY_AFTER_SECONDS);
}
