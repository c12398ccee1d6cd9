import type { StreamEvent } from '@jetflow/contracts';
import { journalTurns } from './agent-journal';

const at = '2026-01-01T00:00:00.000Z';
const task = { step_id: 'agent', attempt: 2 };

describe('journalTurns', () => {
  it('folds one attempt of one step into turns: text, tool calls and recorded results', () => {
    const events: StreamEvent[] = [
      { type: 'Delta', step_id: 'agent', attempt: 2, turn: 0, content: 'Let me ', at },
      { type: 'Delta', step_id: 'agent', attempt: 2, turn: 0, content: 'check. ', at },
      { type: 'ToolCalled', step_id: 'agent', attempt: 2, turn: 0, tool: 'a', call_id: 'c1', arguments: { x: 1 }, at },
      { type: 'ToolCalled', step_id: 'agent', attempt: 2, turn: 0, tool: 'b', call_id: 'c2', arguments: {}, at },
      { type: 'ToolResulted', step_id: 'agent', attempt: 2, turn: 0, tool: 'b', call_id: 'c2', result: { ok: 1 }, at },
      { type: 'Delta', step_id: 'agent', attempt: 2, turn: 1, content: 'Partial', at },
      // Other attempts, steps and loop iterations are not this journal.
      { type: 'Delta', step_id: 'agent', attempt: 1, turn: 0, content: 'old', at },
      { type: 'Delta', step_id: 'other', attempt: 2, turn: 0, content: 'x', at },
      { type: 'Delta', step_id: 'agent', iteration: [0], attempt: 2, turn: 0, content: 'y', at },
      { type: 'Delta', step_id: 'agent', content: 'no turn', at },
    ];
    const turns = journalTurns(task, events);
    expect(turns).toHaveLength(2);
    expect(turns[0]).toMatchObject({ turn: 0, content: 'Let me check. ' });
    expect(turns[0]!.calls.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['c1', 'a', { x: 1 }],
      ['c2', 'b', {}],
    ]);
    expect([...turns[0]!.results]).toEqual([['c2', { result: { ok: 1 }, is_error: false }]]);
    expect(turns[1]).toMatchObject({ turn: 1, content: 'Partial', calls: [] });
  });

  it('is empty for a first delivery', () => {
    expect(journalTurns(task, [])).toEqual([]);
  });
});
