import {
  JetflowError,
  stepKey,
  type AddUserMessage,
  type CancelExecution,
  type CompleteStep,
  type ExecutionCommand,
  type ExecutionEvent,
  type FailStep,
  type FireTimer,
  type StartExecution,
} from '@jetflow/contracts';
import { Decision, iter } from './execution.decision';
import { addSeconds, readSeconds } from './durations';
import { advance } from './execution.planner';
import { cloneState, isTerminal, type ExecutionState } from './execution.state';

/**
 * The execution actor's behaviour: pure, no clock, ids or I/O (time and randomness come on the
 * command). Returns the events to append atomically; `[]` when the command changes nothing
 * (duplicates, stale results, late timers). Throws JetflowError only to reject a command outright.
 *
 * Each command handler applies its rule to a working copy (`Decision`), then lets the graph
 * planner (`advance`) start or skip whatever became decidable.
 */
export function decide(state: ExecutionState, command: ExecutionCommand): ExecutionEvent[] {
  return decideInto(cloneState(state), command);
}

/**
 * `decide` on a working copy the caller owns: every returned event is already folded into `ws`
 * and nothing else is (`[]` leaves it as it was; after a throw, discard it). Lets
 * `decideWithInline` chain the decisions of one command on a single copy. Engine-internal: not
 * exported from the library.
 */
export function decideInto(ws: ExecutionState, command: ExecutionCommand): ExecutionEvent[] {
  const d = new Decision(ws, 'now' in command ? command.now : '');
  switch (command.type) {
    case 'StartExecution':
      return start(d, command);
    case 'CompleteStep':
      return complete(d, command);
    case 'FailStep':
      return fail(d, command);
    case 'FireTimer':
      return fire(d, command);
    case 'CancelExecution':
      return cancel(d, command);
    case 'AddUserMessage':
      return message(d, command);
    default: {
      const _exhaustive: never = command;
      return [];
    }
  }
}

function start(d: Decision, cmd: StartExecution): ExecutionEvent[] {
  if (d.ws.status !== 'new') return [];
  const { type: _t, now, ...rest } = cmd;
  d.emit({ type: 'ExecutionStarted', ...rest, at: now });
  const timeout = cmd.definition.timeout_seconds;
  if (timeout) {
    const checked = readSeconds(timeout, 'workflow timeout_seconds');
    if (!checked.ok) {
      // A definition stored before the validator's cap: the run fails instead of the start throwing.
      d.endRun('failed', { code: 'VALIDATION_ERROR', message: checked.reason });
      return d.events;
    }
    d.emit({ type: 'TimerScheduled', timer_id: 'workflow_timeout', purpose: 'workflow_timeout', fire_at: addSeconds(now, checked.seconds), at: now });
  }
  d.startStep(d.ws.graph.trigger, [], 1);
  advance(d);
  return d.events;
}

function complete(d: Decision, cmd: CompleteStep): ExecutionEvent[] {
  const run = d.currentRun(cmd.step_id, cmd.iteration, cmd.attempt, cmd.chat_turn);
  if (!run) return [];
  const step = d.ws.graph.steps.get(run.step_id)!;
  if (step.step_type === 'agent_execution' && step.parameters['wait_for_user'] === true) {
    // A chat step answers, then waits for the next user message (POST /messages).
    d.emit({ type: 'StepWaiting', step_id: run.step_id, ...iter(run.iteration), attempt: run.attempt, chat: { turn: run.chat_turn ?? 0, output: cmd.output }, at: d.now });
    d.emit({ type: 'ExecutionStatusChanged', status: 'waiting', step_id: run.step_id, at: d.now });
    return d.events;
  }
  let branch: 'next' | 'else' = 'next';
  if (step.step_type === 'condition') branch = truthy((cmd.output as { value?: unknown } | null)?.value) ? 'next' : 'else';
  if (step.step_type === 'human_approval' && (cmd.output as { decision?: unknown } | null)?.decision === 'rejected') {
    if (!step.else_steps?.length) {
      return d.failRun(run, { code: 'APPROVAL_REJECTED', message: 'approval rejected' }, cmd.output);
    }
    branch = 'else';
  }
  const wasWaiting = run.status === 'waiting';
  d.emit({
    type: 'StepCompleted',
    step_id: run.step_id,
    ...iter(run.iteration),
    attempt: run.attempt,
    output: cmd.output,
    branch,
    duration_ms: d.elapsed(run.attempt_started_at),
    at: d.now,
  });
  if (wasWaiting) d.resumeIfNoneWaiting();
  advance(d);
  return d.events;
}

function fail(d: Decision, cmd: FailStep): ExecutionEvent[] {
  const run = d.currentRun(cmd.step_id, cmd.iteration, cmd.attempt, cmd.chat_turn);
  if (!run) return [];
  d.failAttempt(run, cmd.error, cmd.retryable, cmd.rand, cmd.retry_after_seconds);
  advance(d);
  return d.events;
}

function fire(d: Decision, cmd: FireTimer): ExecutionEvent[] {
  const timer = d.ws.timers.get(cmd.timer_id);
  if (!timer || isTerminal(d.ws)) return [];
  const run = timer.step_id !== undefined ? d.ws.steps.get(stepKey(timer.step_id, timer.iteration)) : undefined;
  switch (timer.purpose) {
    case 'workflow_timeout':
      d.endRun('timeout', { code: 'TIMEOUT', message: 'workflow timed out' });
      return d.events;
    case 'delay':
      if (!run || run.status !== 'running' || run.attempt !== timer.attempt) return [];
      d.emit({
        type: 'StepCompleted',
        step_id: run.step_id,
        ...iter(run.iteration),
        attempt: run.attempt,
        output: { waited_ms: d.elapsed(run.attempt_started_at) },
        branch: 'next',
        duration_ms: d.elapsed(run.attempt_started_at),
        at: d.now,
      });
      break;
    case 'retry':
      if (!run || run.status !== 'pending' || run.attempt !== timer.attempt || (run.chat_turn ?? 0) !== (timer.chat_turn ?? 0)) return [];
      d.startStep(run.step_id, run.iteration, run.attempt + 1, run.chat_turn);
      break;
    case 'step_timeout':
      if (!run || (run.status !== 'running' && run.status !== 'waiting') || run.attempt !== timer.attempt) return [];
      if ((run.chat_turn ?? 0) !== (timer.chat_turn ?? 0) || (run.status === 'waiting' && run.chat_turn !== undefined)) return [];
      d.failAttempt(run, { code: 'TIMEOUT', message: `step timed out` }, true, pseudoRandom(cmd.timer_id));
      break;
    case 'approval_timeout':
      if (!run || run.status !== 'waiting' || run.attempt !== timer.attempt) return [];
      d.endRun('timeout', { code: 'TIMEOUT', message: 'approval timed out' }, run.step_id);
      return d.events;
  }
  advance(d);
  return d.events;
}

function message(d: Decision, cmd: AddUserMessage): ExecutionEvent[] {
  if (d.ws.status === 'new') throw new JetflowError('NOT_FOUND', 'execution not found');
  // A message delivered twice (client retry) is applied once.
  for (const r of d.ws.steps.values()) if (r.chat_ids?.includes(cmd.message_id)) return [];
  const run = [...d.ws.steps.values()].find((r) => r.status === 'waiting' && r.chat_turn !== undefined);
  if (!run || isTerminal(d.ws)) throw new JetflowError('CONFLICT', 'execution is not waiting for a chat message');
  if (cmd.end) {
    d.emit({ type: 'StepCompleted', step_id: run.step_id, ...iter(run.iteration), attempt: run.attempt, output: run.output, branch: 'next', duration_ms: d.elapsed(run.started_at), message_id: cmd.message_id, at: d.now });
    d.resumeIfNoneWaiting();
    advance(d);
    return d.events;
  }
  const turn = (run.chat_turn ?? 0) + 1;
  d.emit({ type: 'UserMessageAdded', step_id: run.step_id, ...iter(run.iteration), message_id: cmd.message_id, content: cmd.content, turn, at: d.now });
  d.startStep(run.step_id, run.iteration, 1, turn);
  d.resumeIfNoneWaiting();
  return d.events;
}

function cancel(d: Decision, cmd: CancelExecution): ExecutionEvent[] {
  if (d.ws.status === 'new') throw new JetflowError('NOT_FOUND', 'execution not found');
  if (isTerminal(d.ws)) throw new JetflowError('CONFLICT', `execution is already ${d.ws.status}`);
  d.endRun('cancelled', undefined, undefined, cmd.reason);
  return d.events;
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return Boolean(v);
}

/** Deterministic jitter for timer-caused failures (no randomness on FireTimer). */
function pseudoRandom(seed: string): number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  return ((h >>> 0) % 1000) / 1000;
}
