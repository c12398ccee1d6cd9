import {
  JetflowError,
  stepKey,
  type AddUserMessage,
  type CancelExecution,
  type CompleteStep,
  type ErrorBody,
  type ExecutionCommand,
  type ExecutionEvent,
  type FailStep,
  type FireTimer,
  type IterationPath,
  type StartExecution,
} from '@jetflow/contracts';
import { resolveTemplates } from '@jetflow/expressions';
import { branchEdges } from '../graph/workflow-graph';
import { attemptKey, cloneState, evolve, isTerminal, RESOLVED, type ExecutionState, type StepRun } from './execution.state';
import { stepKind } from './step-kinds';
import { templateScope } from './template-scope';

/**
 * The execution actor's behaviour: pure, no clock, ids or I/O (time and randomness come on the
 * command). Returns the events to append atomically; `[]` when the command changes nothing
 * (duplicates, stale results, late timers). Throws JetflowError only to reject a command outright.
 */
export function decide(state: ExecutionState, command: ExecutionCommand): ExecutionEvent[] {
  const d = new Decision(cloneState(state), 'now' in command ? command.now : '');
  switch (command.type) {
    case 'StartExecution':
      return d.start(command);
    case 'CompleteStep':
      return d.complete(command);
    case 'FailStep':
      return d.fail(command);
    case 'FireTimer':
      return d.fire(command);
    case 'CancelExecution':
      return d.cancel(command);
    case 'AddUserMessage':
      return d.message(command);
    default: {
      const _exhaustive: never = command;
      return [];
    }
  }
}

const DEFAULT_BACKOFF_SECONDS = 1;

/** One decision: a working copy of the state that every emitted event is folded into. */
class Decision {
  readonly events: ExecutionEvent[] = [];
  constructor(
    private readonly ws: ExecutionState,
    private readonly now: string,
  ) {}

  private emit(event: ExecutionEvent): void {
    this.events.push(event);
    evolve(this.ws, event);
  }

  start(cmd: StartExecution): ExecutionEvent[] {
    if (this.ws.status !== 'new') return [];
    const { type: _t, now, ...rest } = cmd;
    this.emit({ type: 'ExecutionStarted', ...rest, at: now });
    const timeout = cmd.definition.timeout_seconds;
    if (timeout) {
      this.emit({ type: 'TimerScheduled', timer_id: 'workflow_timeout', purpose: 'workflow_timeout', fire_at: addSeconds(now, timeout), at: now });
    }
    this.startStep(this.ws.graph.trigger, [], 1);
    this.advance();
    return this.events;
  }

  complete(cmd: CompleteStep): ExecutionEvent[] {
    const run = this.currentRun(cmd.step_id, cmd.iteration, cmd.attempt, cmd.chat_turn);
    if (!run) return [];
    const step = this.ws.graph.steps.get(run.step_id)!;
    if (step.step_type === 'agent_execution' && step.parameters['wait_for_user'] === true) {
      // A chat step answers, then waits for the next user message (POST /messages).
      this.emit({ type: 'StepWaiting', step_id: run.step_id, ...iter(run.iteration), attempt: run.attempt, chat: { turn: run.chat_turn ?? 0, output: cmd.output }, at: this.now });
      this.emit({ type: 'ExecutionStatusChanged', status: 'waiting', step_id: run.step_id, at: this.now });
      return this.events;
    }
    let branch: 'next' | 'else' = 'next';
    if (step.step_type === 'condition') branch = truthy((cmd.output as { value?: unknown } | null)?.value) ? 'next' : 'else';
    if (step.step_type === 'human_approval' && (cmd.output as { decision?: unknown } | null)?.decision === 'rejected') {
      if (!step.else_steps?.length) {
        return this.failRun(run, { code: 'APPROVAL_REJECTED', message: 'approval rejected' }, cmd.output);
      }
      branch = 'else';
    }
    const wasWaiting = run.status === 'waiting';
    this.emit({
      type: 'StepCompleted',
      step_id: run.step_id,
      ...iter(run.iteration),
      attempt: run.attempt,
      output: cmd.output,
      branch,
      duration_ms: this.elapsed(run.attempt_started_at),
      at: this.now,
    });
    if (wasWaiting) this.resumeIfNoneWaiting();
    this.advance();
    return this.events;
  }

  fail(cmd: FailStep): ExecutionEvent[] {
    const run = this.currentRun(cmd.step_id, cmd.iteration, cmd.attempt, cmd.chat_turn);
    if (!run) return [];
    this.failAttempt(run, cmd.error, cmd.retryable, cmd.rand, cmd.retry_after_seconds);
    this.advance();
    return this.events;
  }

  fire(cmd: FireTimer): ExecutionEvent[] {
    const timer = this.ws.timers.get(cmd.timer_id);
    if (!timer || isTerminal(this.ws)) return [];
    const run = timer.step_id !== undefined ? this.ws.steps.get(stepKey(timer.step_id, timer.iteration)) : undefined;
    switch (timer.purpose) {
      case 'workflow_timeout':
        this.endRun('timeout', { code: 'TIMEOUT', message: 'workflow timed out' });
        return this.events;
      case 'delay':
        if (!run || run.status !== 'running' || run.attempt !== timer.attempt) return [];
        this.emit({
          type: 'StepCompleted',
          step_id: run.step_id,
          ...iter(run.iteration),
          attempt: run.attempt,
          output: { waited_ms: this.elapsed(run.attempt_started_at) },
          branch: 'next',
          duration_ms: this.elapsed(run.attempt_started_at),
          at: this.now,
        });
        break;
      case 'retry':
        if (!run || run.status !== 'pending' || run.attempt !== timer.attempt || (run.chat_turn ?? 0) !== (timer.chat_turn ?? 0)) return [];
        this.startStep(run.step_id, run.iteration, run.attempt + 1, run.chat_turn);
        break;
      case 'step_timeout':
        if (!run || (run.status !== 'running' && run.status !== 'waiting') || run.attempt !== timer.attempt) return [];
        if ((run.chat_turn ?? 0) !== (timer.chat_turn ?? 0) || (run.status === 'waiting' && run.chat_turn !== undefined)) return [];
        this.failAttempt(run, { code: 'TIMEOUT', message: `step timed out` }, true, pseudoRandom(cmd.timer_id));
        break;
      case 'approval_timeout':
        if (!run || run.status !== 'waiting' || run.attempt !== timer.attempt) return [];
        this.endRun('timeout', { code: 'TIMEOUT', message: 'approval timed out' }, run.step_id);
        return this.events;
    }
    this.advance();
    return this.events;
  }

  message(cmd: AddUserMessage): ExecutionEvent[] {
    if (this.ws.status === 'new') throw new JetflowError('NOT_FOUND', 'execution not found');
    // A message delivered twice (client retry) is applied once.
    for (const r of this.ws.steps.values()) if (r.chat_ids?.includes(cmd.message_id)) return [];
    const run = [...this.ws.steps.values()].find((r) => r.status === 'waiting' && r.chat_turn !== undefined);
    if (!run || isTerminal(this.ws)) throw new JetflowError('CONFLICT', 'execution is not waiting for a chat message');
    if (cmd.end) {
      this.emit({ type: 'StepCompleted', step_id: run.step_id, ...iter(run.iteration), attempt: run.attempt, output: run.output, branch: 'next', duration_ms: this.elapsed(run.started_at), at: this.now });
      this.resumeIfNoneWaiting();
      this.advance();
      return this.events;
    }
    const turn = (run.chat_turn ?? 0) + 1;
    this.emit({ type: 'UserMessageAdded', step_id: run.step_id, ...iter(run.iteration), message_id: cmd.message_id, content: cmd.content, turn, at: this.now });
    this.startStep(run.step_id, run.iteration, 1, turn);
    this.resumeIfNoneWaiting();
    return this.events;
  }

  cancel(cmd: CancelExecution): ExecutionEvent[] {
    if (this.ws.status === 'new') throw new JetflowError('NOT_FOUND', 'execution not found');
    if (isTerminal(this.ws)) throw new JetflowError('CONFLICT', `execution is already ${this.ws.status}`);
    this.endRun('cancelled', undefined, undefined, cmd.reason);
    return this.events;
  }

  // ---- rules ------------------------------------------------------------------------------

  /** The step instance a result is for, or undefined when the result is stale or a duplicate. */
  private currentRun(stepId: string, iteration: IterationPath | undefined, attempt: number, chatTurn?: number): StepRun | undefined {
    if (isTerminal(this.ws) || this.ws.status === 'new') return undefined;
    const run = this.ws.steps.get(stepKey(stepId, iteration));
    if (!run || (run.status !== 'running' && run.status !== 'waiting') || run.attempt !== attempt) return undefined;
    if ((run.chat_turn ?? 0) !== (chatTurn ?? 0)) return undefined;
    // A chat step waiting for the user takes no worker results.
    if (run.status === 'waiting' && run.chat_turn !== undefined && run.step_type === 'agent_execution') return undefined;
    return run;
  }

  private failAttempt(run: StepRun, error: ErrorBody, retryable: boolean, rand: number, retryAfter?: number): void {
    const step = this.ws.graph.steps.get(run.step_id)!;
    const maxAttempts = step.retry?.max_attempts ?? 1;
    const willRetry = retryable && run.attempt < maxAttempts;
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
      const base = step.retry?.backoff_seconds ?? DEFAULT_BACKOFF_SECONDS;
      const cap = step.retry?.max_backoff_seconds ?? Number.POSITIVE_INFINITY;
      const exp = Math.min(cap, base * 2 ** (run.attempt - 1));
      // Jitter in [50%, 100%] of the exponential delay; a server's Retry-After wins when longer.
      const seconds = Math.max(exp * (0.5 + rand / 2), retryAfter ?? 0);
      this.emit({
        type: 'TimerScheduled',
        timer_id: `retry:${attemptKey(run)}:${run.attempt}`,
        purpose: 'retry',
        fire_at: addSeconds(this.now, seconds),
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

  private failRun(run: StepRun, error: ErrorBody, output?: unknown): ExecutionEvent[] {
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
  private endRun(status: 'failed' | 'cancelled' | 'timeout', error?: ErrorBody, stepId?: string, reason?: string): void {
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

  private resumeIfNoneWaiting(): void {
    if (this.ws.status !== 'waiting') return;
    for (const r of this.ws.steps.values()) if (r.status === 'waiting') return;
    this.emit({ type: 'ExecutionStatusChanged', status: 'running', at: this.now });
  }

  /** Starts one step instance: the StepStarted event plus what its kind needs (timers, waits). */
  private startStep(stepId: string, iteration: IterationPath, attempt: number, chatTurn?: number): void {
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
    if (step.step_type === 'delay') {
      const p = step.parameters;
      const fireAt = typeof p['until'] === 'string' ? new Date(Date.parse(p['until'])).toISOString() : addSeconds(this.now, Number(p['seconds'] ?? 0));
      this.emit({ type: 'TimerScheduled', timer_id: `delay:${key}:${attempt}`, purpose: 'delay', fire_at: fireAt, step_id: stepId, ...iter(iteration), attempt, at: this.now });
      return;
    }
    if (step.step_type === 'human_approval') {
      const p = step.parameters;
      const hours = typeof p['timeout_hours'] === 'number' && p['timeout_hours'] > 0 ? p['timeout_hours'] : undefined;
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
      this.emit({
        type: 'TimerScheduled',
        timer_id: `step_timeout:${key}:${attempt}`,
        purpose: 'step_timeout',
        fire_at: addSeconds(this.now, timeout),
        step_id: stepId,
        ...iter(iteration),
        attempt,
        ...(chatTurn ? { chat_turn: chatTurn } : {}),
        at: this.now,
      });
    }
  }

  /**
   * Runs the planner to a fixpoint: starts steps whose predecessors all resolved and that at
   * least one of them activated, skips the others (so joins never hang), starts and completes
   * loop iterations, and completes the run when the top level has resolved.
   */
  private advance(): void {
    const { graph } = this.ws;
    for (let guard = 0; guard < 100_000; guard++) {
      if (isTerminal(this.ws)) return;
      let progressed = false;
      for (const [region, path] of this.activeContexts()) {
        for (const id of graph.regionSteps.get(region) ?? []) {
          if (this.ws.steps.has(stepKey(id, path))) continue;
          const preds = graph.preds.get(id) ?? [];
          if (!preds.length) continue;
          let resolved = true;
          let activated = false;
          let afterFailure = false;
          for (const p of preds) {
            const r = this.ws.steps.get(stepKey(p, path));
            if (!r || !RESOLVED.has(r.status)) {
              resolved = false;
              break;
            }
            if (r.status === 'failed') afterFailure = true;
            if (r.status === 'completed' && branchEdges(graph.steps.get(p)!, r.branch ?? 'next').includes(id)) activated = true;
          }
          if (!resolved) continue;
          if (activated && !afterFailure && this.atBranchLimit(id, path)) continue;
          if (activated && !afterFailure) this.startStep(id, path, 1);
          else this.emit({ type: 'StepSkipped', step_id: id, ...iter(path), at: this.now });
          progressed = true;
          if (isTerminal(this.ws)) return;
        }
      }
      progressed = this.advanceLoops() || progressed;
      if (isTerminal(this.ws)) return;
      if (this.topLevelResolved()) {
        const failed = [...this.ws.steps.values()].find((r) => r.status === 'failed' && r.iteration.length === 0);
        if (failed) this.endRun('failed', failed.error ?? { code: 'INTERNAL', message: 'step failed' }, failed.step_id);
        else this.emit({ type: 'ExecutionCompleted', status: 'completed', result: this.result(), at: this.now });
        return;
      }
      if (!progressed) return;
    }
  }

  /** A parallel's `max_concurrency`: a branch head waits while that many branches are unfinished. */
  private atBranchLimit(stepId: string, path: IterationPath): boolean {
    const branch = this.ws.graph.branchOf.get(stepId);
    if (!branch || branch.head !== stepId) return false;
    const limit = this.ws.graph.steps.get(branch.parallel)?.parameters['max_concurrency'];
    if (typeof limit !== 'number' || limit < 1) return false;
    let active = 0;
    for (const [head, members] of this.ws.graph.branches.get(branch.parallel) ?? []) {
      if (head === stepId || !this.ws.steps.has(stepKey(head, path))) continue;
      let finished = true;
      for (const id of members) {
        const r = this.ws.steps.get(stepKey(id, path));
        if (r ? !RESOLVED.has(r.status) : this.couldStillRun(id, path)) {
          finished = false;
          break;
        }
      }
      if (!finished) active++;
    }
    return active >= limit;
  }

  /** A step with no record yet is still to run unless every predecessor resolved (it would be decided now). */
  private couldStillRun(id: string, path: IterationPath): boolean {
    const preds = this.ws.graph.preds.get(id) ?? [];
    return preds.some((p) => {
      const r = this.ws.steps.get(stepKey(p, path));
      return !r || !RESOLVED.has(r.status) || (r.status === 'completed' && branchEdges(this.ws.graph.steps.get(p)!, r.branch ?? 'next').includes(id));
    });
  }

  private *activeContexts(): Generator<[string | null, IterationPath]> {
    yield [null, []];
    for (const [key, loop] of this.ws.loops) {
      const run = this.ws.steps.get(key);
      if (!run || run.status !== 'running') continue;
      for (let i = 0; i < loop.started; i++) if (!loop.done.has(i)) yield [run.step_id, [...run.iteration, i]];
    }
  }

  private advanceLoops(): boolean {
    let progressed = false;
    for (const [key, loop] of [...this.ws.loops]) {
      const run = this.ws.steps.get(key);
      if (!run || run.status !== 'running') continue;
      if (loop.done.size === loop.items.length) {
        this.emit({
          type: 'StepCompleted',
          step_id: run.step_id,
          ...iter(run.iteration),
          attempt: run.attempt,
          output: { results: loop.results },
          branch: 'next',
          duration_ms: this.elapsed(run.attempt_started_at),
          at: this.now,
        });
        progressed = true;
        continue;
      }
      const step = this.ws.graph.steps.get(run.step_id)!;
      const concurrency = Math.max(1, numberOr(step.parameters['concurrency'], 1));
      const entries = this.ws.graph.bodyEntries.get(run.step_id) ?? [];
      while (loop.started < loop.items.length && loop.started - loop.done.size < concurrency) {
        const path = [...run.iteration, loop.started];
        for (const entry of entries) this.startStep(entry, path, 1);
        progressed = true;
        if (isTerminal(this.ws)) return true;
      }
    }
    return progressed;
  }

  private topLevelResolved(): boolean {
    for (const id of this.ws.graph.regionSteps.get(null) ?? []) {
      const r = this.ws.steps.get(id);
      if (!r || !RESOLVED.has(r.status)) return false;
    }
    return true;
  }

  /** Output of the end step(s) that completed on the taken path: one → its output; several → keyed by step id. */
  private result(): unknown {
    const ends: [string, unknown][] = [];
    for (const id of this.ws.graph.regionSteps.get(null) ?? []) {
      const r = this.ws.steps.get(id);
      if (r?.status === 'completed' && branchEdges(this.ws.graph.steps.get(id)!, r.branch ?? 'next').length === 0) ends.push([id, r.output]);
    }
    if (ends.length === 1) return ends[0]![1];
    if (ends.length === 0) return null;
    return Object.fromEntries(ends);
  }

  private elapsed(from: string | null): number {
    if (!from) return 0;
    return Math.max(0, Date.parse(this.now) - Date.parse(from));
  }
}

function iter(iteration: IterationPath | undefined): { iteration?: IterationPath } {
  return iteration && iteration.length ? { iteration } : {};
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return Boolean(v);
}

function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function addSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + Math.round(seconds * 1000)).toISOString();
}

/** Deterministic jitter for timer-caused failures (no randomness on FireTimer). */
function pseudoRandom(seed: string): number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  return ((h >>> 0) % 1000) / 1000;
}
