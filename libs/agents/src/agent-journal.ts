import { stepKey, type StepTask, type StreamEvent } from '@jetflow/contracts';
import type { ModelToolCall } from './chat-model';

/** What one model call of an earlier delivery of this attempt left in the log. */
export interface JournaledTurn {
  readonly turn: number;
  /** Text streamed for this turn (may be partial when the worker died mid-stream). */
  content: string;
  /** Tool calls the model asked for; present only once the call finished (ToolCalled written). */
  readonly calls: ModelToolCall[];
  /** Results already recorded, by call id. */
  readonly results: Map<string, { readonly result: unknown; readonly is_error: boolean }>;
}

type ToolCalled = Extract<StreamEvent, { type: 'ToolCalled' }>;

/**
 * Folds the step attempt's stream entries (deltas, tool calls, tool results) into turns. A turn
 * with tool calls is complete as a model call: a resumed attempt replays it into the conversation
 * and runs only the calls that have no result yet. A turn with text only was cut short (or its
 * result never reached the actor) and is asked again.
 */
export function journalTurns(task: Pick<StepTask, 'step_id' | 'iteration' | 'attempt' | 'chat_turn'>, events: Iterable<StreamEvent>): JournaledTurn[] {
  const key = stepKey(task.step_id, task.iteration);
  const turns: JournaledTurn[] = [];
  const at = (n: number) => (turns[n] ??= { turn: n, content: '', calls: [], results: new Map() });
  for (const e of events) {
    if (stepKey(e.step_id, e.iteration) !== key || e.attempt !== task.attempt || typeof e.turn !== 'number') continue;
    if ((e.chat_turn ?? 0) !== (task.chat_turn ?? 0)) continue;
    const t = at(e.turn);
    if (e.type === 'Delta') t.content += e.content;
    else if (e.type === 'ToolCalled') t.calls.push(toModelCall(e));
    else if (e.call_id) t.results.set(e.call_id, { result: e.result, is_error: e.is_error === true });
  }
  // Fill holes (a turn that streamed nothing) so indexes line up.
  for (let i = 0; i < turns.length; i++) at(i);
  return turns;
}

function toModelCall(e: ToolCalled): ModelToolCall {
  return { id: e.call_id ?? '', type: 'function', function: { name: e.tool, arguments: JSON.stringify(e.arguments ?? {}) } };
}
