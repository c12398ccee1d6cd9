import type { ExecutionEvent, StreamEvent } from '@jetflow/contracts';
import { controlMessage, entryToSseMessages, formatSse, parseLastEventId, sseEventId } from './sse-event.mapper';

const X = 'exec-1';
const at = '2024-01-15T10:05:00.000Z';

function one(event: ExecutionEvent | StreamEvent) {
  const [message, ...rest] = entryToSseMessages(X, { seq: 7, events: [event] });
  expect(rest).toHaveLength(0);
  return message;
}

describe('entryToSseMessages', () => {
  it('maps ExecutionStarted to status running', () => {
    const started = {
      type: 'ExecutionStarted', execution_id: X, workflow_id: 'w', workflow_version: 1, definition: { name: 'n', steps: [] },
      scope: { organization_id: 'o', project_id: 'p' }, input: {}, context: {}, user_id: null, session_id: null, at,
    } as const;
    expect(one(started)).toEqual({ id: '7', event: 'status', data: { execution_id: X, timestamp: at, status: 'running' } });
  });

  it('maps status changes, with the step when there is one', () => {
    expect(one({ type: 'ExecutionStatusChanged', status: 'waiting', step_id: 'approve', at }).data).toEqual({
      execution_id: X, timestamp: at, status: 'waiting', step: 'approve',
    });
    expect(one({ type: 'ExecutionStatusChanged', status: 'running', at }).data).toEqual({ execution_id: X, timestamp: at, status: 'running' });
  });

  it('maps step lifecycle events', () => {
    expect(one({ type: 'StepStarted', step_id: 'a', step_type: 'tool_call', attempt: 2, iteration: [0, 3], at })).toEqual({
      id: '7', event: 'step_start', data: { execution_id: X, timestamp: at, step: 'a', step_type: 'tool_call', attempt: 2, iteration: [0, 3] },
    });
    expect(one({ type: 'StepCompleted', step_id: 'a', attempt: 1, output: { x: 1 }, branch: 'next', duration_ms: 12, iteration: [], at }).data).toEqual({
      execution_id: X, timestamp: at, step: 'a', status: 'completed', result: { x: 1 }, duration_ms: 12,
    });
    expect(
      one({ type: 'StepFailed', step_id: 'a', attempt: 1, error: { code: 'TOOL_ERROR', message: 'boom' }, will_retry: true, duration_ms: 5, at }).data,
    ).toEqual({
      execution_id: X, timestamp: at, step: 'a', status: 'failed', error: { code: 'TOOL_ERROR', message: 'boom' }, duration_ms: 5, attempt: 1, will_retry: true,
    });
    expect(one({ type: 'StepSkipped', step_id: 'b', at })).toEqual({
      id: '7', event: 'step_complete', data: { execution_id: X, timestamp: at, step: 'b', status: 'skipped', duration_ms: 0 },
    });
    expect(one({ type: 'StepCancelled', step_id: 'c', at }).data).toEqual({ execution_id: X, timestamp: at, step: 'c', status: 'cancelled', duration_ms: 0 });
    expect(one({ type: 'StepWaiting', step_id: 'approve', attempt: 1, at })).toEqual({
      id: '7', event: 'status', data: { execution_id: X, timestamp: at, status: 'waiting', step: 'approve' },
    });
  });

  it('maps errors and completion', () => {
    expect(one({ type: 'ErrorRaised', step_id: 'agent', error: { code: 'TOOL_ERROR', message: 'Tool execution failed' }, at })).toEqual({
      id: '7', event: 'error', data: { execution_id: X, timestamp: at, step: 'agent', error: 'Tool execution failed', code: 'TOOL_ERROR' },
    });
    expect(one({ type: 'ExecutionCompleted', status: 'completed', result: { response: 'hi' }, at })).toEqual({
      id: '7', event: 'complete', data: { execution_id: X, timestamp: at, status: 'completed', result: { response: 'hi' } },
    });
    expect(one({ type: 'ExecutionCompleted', status: 'failed', error: { code: 'TIMEOUT', message: 't' }, at }).data).toEqual({
      execution_id: X, timestamp: at, status: 'failed', error: { code: 'TIMEOUT', message: 't' },
    });
  });

  it('maps stream events', () => {
    expect(one({ type: 'Delta', step_id: 'agent', content: 'Hel', at })).toEqual({
      id: '7', event: 'delta', data: { execution_id: X, timestamp: at, step: 'agent', content: 'Hel' },
    });
    expect(one({ type: 'ToolCalled', step_id: 'agent', tool: 'get_order', arguments: { order_id: '1' }, at }).data).toEqual({
      execution_id: X, timestamp: at, step: 'agent', tool: 'get_order', arguments: { order_id: '1' },
    });
    expect(one({ type: 'ToolResulted', step_id: 'agent', tool: 'get_order', result: { status: 'shipped' }, at })).toMatchObject({
      event: 'tool_result', data: { tool: 'get_order', result: { status: 'shipped' } },
    });
  });

  it('numbers several events of one entry S, S.1, S.2 and keeps indexes of silent events', () => {
    const events: ExecutionEvent[] = [
      { type: 'StepFailed', step_id: 'a', attempt: 1, error: { code: 'TOOL_ERROR', message: 'x' }, will_retry: true, duration_ms: 1, at },
      { type: 'TimerScheduled', timer_id: 't', purpose: 'retry', fire_at: at, at },
      { type: 'StepSkipped', step_id: 'b', at },
    ];
    expect(entryToSseMessages(X, { seq: 41, events }).map((m) => m.id)).toEqual(['41', '41.2']);
  });

  it('resumes strictly after a position', () => {
    const events: ExecutionEvent[] = [
      { type: 'StepSkipped', step_id: 'a', at },
      { type: 'StepSkipped', step_id: 'b', at },
      { type: 'StepSkipped', step_id: 'c', at },
    ];
    const ids = (seq: number, after: { seq: number; index: number }) => entryToSseMessages(X, { seq, events }, after).map((m) => m.id);
    expect(ids(10, { seq: 10, index: 0 })).toEqual(['10.1', '10.2']);
    expect(ids(10, { seq: 10, index: 1 })).toEqual(['10.2']);
    expect(ids(10, { seq: 10, index: 2 })).toEqual([]);
    expect(ids(9, { seq: 10, index: 0 })).toEqual([]);
    expect(ids(11, { seq: 10, index: 2 })).toEqual(['11', '11.1', '11.2']);
  });
});

describe('SSE ids and wire format', () => {
  it('formats and parses ids', () => {
    expect(sseEventId(4183, 0)).toBe('4183');
    expect(sseEventId(4183, 1)).toBe('4183.1');
    expect(parseLastEventId('4183')).toEqual({ seq: 4183, index: 0 });
    expect(parseLastEventId(' 4183.12 ')).toEqual({ seq: 4183, index: 12 });
    for (const bad of ['', 'abc', '1.2.3', '-1', '0', '1.', '.1', '1e3']) expect(parseLastEventId(bad)).toBeNull();
  });

  it('writes id, event and a single data line', () => {
    expect(formatSse({ id: '5.1', event: 'delta', data: { content: 'a\nb' } })).toBe('id: 5.1\nevent: delta\ndata: {"content":"a\\nb"}\n\n');
    expect(formatSse(controlMessage('heartbeat', X, new Date(at)))).toBe(
      `event: heartbeat\ndata: {"execution_id":"${X}","timestamp":"${at}"}\n\n`,
    );
  });
});
