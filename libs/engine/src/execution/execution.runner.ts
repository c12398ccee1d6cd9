import type { ExecutionCommand, ExecutionEvent } from '@jetflow/contracts';
import { decide } from './execution.decider';
import { cloneState, evolve, type ExecutionState } from './execution.state';
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
 */
export async function decideWithInline(state: ExecutionState, command: ExecutionCommand, maxInline = 10_000): Promise<Decided> {
  const events = decide(state, command);
  const ws = cloneState(state);
  for (const e of events) evolve(ws, e);
  const now = 'now' in command ? command.now : new Date(0).toISOString();
  const queue = inlineStarts(events);
  for (let n = 0; queue.length && n < maxInline; n++) {
    const started = queue.shift()!;
    const outcome = await runInlineStep(ws, started);
    const base = { step_id: started.step_id, ...(started.iteration ? { iteration: started.iteration } : {}), attempt: started.attempt, now };
    const next = decide(
      ws,
      outcome.ok
        ? { type: 'CompleteStep', ...base, output: outcome.output }
        : { type: 'FailStep', ...base, error: outcome.error, retryable: outcome.retryable, rand: 0.5 },
    );
    for (const e of next) evolve(ws, e);
    events.push(...next);
    queue.push(...inlineStarts(next));
  }
  return { events, state: ws };
}
