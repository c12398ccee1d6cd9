import type { ExecutionCommand, ExecutionEvent } from '@jetflow/contracts';
import { decideInto } from './execution.decider';
import { cloneState, type ExecutionState } from './execution.state';
import { inlineStarts, runInlineStep } from './inline-steps';

export interface Decided {
  /** Every event of the decision, inline step results included: one atomic append. */
  readonly events: ExecutionEvent[];
  /** The state after those events (a new object; the input state is untouched). */
  readonly state: ExecutionState;
}

/**
 * Decides a command, then computes the inline steps it started (and the ones those start), so a
 * chain of pure steps costs one append. Deterministic for a given state and command.
 *
 * One working copy per command: the state is copied once, and the command's decision and each
 * inline step's decision are made into that copy (`decideInto` folds what it emits), instead of
 * every decision copying the whole state again.
 */
export async function decideWithInline(state: ExecutionState, command: ExecutionCommand, maxInline = 10_000): Promise<Decided> {
  const ws = cloneState(state);
  const events = decideInto(ws, command);
  const now = 'now' in command ? command.now : new Date(0).toISOString();
  const queue = inlineStarts(events);
  for (let n = 0; n < queue.length && n < maxInline; n++) {
    const started = queue[n]!;
    const outcome = await runInlineStep(ws, started);
    const base = { step_id: started.step_id, ...(started.iteration ? { iteration: started.iteration } : {}), attempt: started.attempt, now };
    const next = decideInto(
      ws,
      outcome.ok
        ? { type: 'CompleteStep', ...base, output: outcome.output }
        : { type: 'FailStep', ...base, error: outcome.error, retryable: outcome.retryable, rand: 0.5 },
    );
    for (const e of next) events.push(e);
    for (const s of inlineStarts(next)) queue.push(s);
  }
  return { events, state: ws };
}
