import type { ExecutionEvent, IterationPath, StreamEvent } from '@jetflow/contracts';

/** One SSE message. `id` is absent for `connected` and `heartbeat`. */
export interface SseMessage {
  readonly id?: string;
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** What the mapper needs of a stored log entry: its stream sequence and its events, in order. */
export interface SseEntry {
  readonly seq: number;
  readonly events: readonly (ExecutionEvent | StreamEvent)[];
}

/** A position in the SSE feed: event `index` of the entry at stream sequence `seq`. */
export interface SsePosition {
  readonly seq: number;
  readonly index: number;
}

/** `4183` is the first event of entry 4183; `4183.2` its third. */
export function sseEventId(seq: number, index: number): string {
  return index === 0 ? String(seq) : `${seq}.${index}`;
}

/** Parses a `Last-Event-ID` ("S" or "S.i"); `null` when it is not one of ours. */
export function parseLastEventId(value: string): SsePosition | null {
  const match = /^(\d{1,15})(?:\.(\d{1,9}))?$/.exec(value.trim());
  if (!match) return null;
  const seq = Number(match[1]);
  return seq >= 1 ? { seq, index: match[2] === undefined ? 0 : Number(match[2]) } : null;
}

/**
 * Turns one stored entry into its SSE messages. The id of a message is the position of its event
 * in the entry (events without a message, like `TimerScheduled`, still take up an index, so ids stay
 * stable). Events at or before `after` are dropped: resuming is strictly after the last seen id.
 */
export function entryToSseMessages(executionId: string, entry: SseEntry, after?: SsePosition): SseMessage[] {
  const messages: SseMessage[] = [];
  entry.events.forEach((event, index) => {
    if (after && (entry.seq < after.seq || (entry.seq === after.seq && index <= after.index))) return;
    const mapped = eventToSse(event);
    if (!mapped) return;
    messages.push({
      id: sseEventId(entry.seq, index),
      event: mapped.event,
      data: { execution_id: executionId, timestamp: event.at, ...mapped.data },
    });
  });
  return messages;
}

/** `connected` and `heartbeat`: no id, same envelope. */
export function controlMessage(event: 'connected' | 'heartbeat', executionId: string, now: Date): SseMessage {
  return { event, data: { execution_id: executionId, timestamp: now.toISOString() } };
}

/** Wire form of a message; JSON never holds a raw newline, so one `data:` line suffices. */
export function formatSse(message: SseMessage): string {
  return `${message.id === undefined ? '' : `id: ${message.id}\n`}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`;
}

export function isFinalMessage(message: SseMessage): boolean {
  return message.event === 'complete';
}

function iteration(path: IterationPath | undefined): { iteration?: IterationPath } {
  return path && path.length > 0 ? { iteration: path } : {};
}

function eventToSse(event: ExecutionEvent | StreamEvent): { event: string; data: Record<string, unknown> } | null {
  switch (event.type) {
    case 'ExecutionStarted':
      return { event: 'status', data: { status: 'running' } };
    case 'ExecutionStatusChanged':
      return { event: 'status', data: { status: event.status, ...(event.step_id !== undefined ? { step: event.step_id } : {}) } };
    case 'StepStarted':
      return {
        event: 'step_start',
        data: { step: event.step_id, step_type: event.step_type, attempt: event.attempt, ...(event.chat_turn ? { chat_turn: event.chat_turn } : {}), ...iteration(event.iteration) },
      };
    case 'StepCompleted':
      return {
        event: 'step_complete',
        data: { step: event.step_id, status: 'completed', result: event.output, duration_ms: event.duration_ms, ...iteration(event.iteration) },
      };
    case 'StepFailed':
      return {
        event: 'step_complete',
        data: {
          step: event.step_id,
          status: 'failed',
          error: event.error,
          duration_ms: event.duration_ms,
          attempt: event.attempt,
          will_retry: event.will_retry,
          ...iteration(event.iteration),
        },
      };
    case 'StepSkipped':
      return { event: 'step_complete', data: { step: event.step_id, status: 'skipped', duration_ms: 0, ...iteration(event.iteration) } };
    case 'StepCancelled':
      // Abandoned by a cancel: the event carries no duration.
      return { event: 'step_complete', data: { step: event.step_id, status: 'cancelled', duration_ms: 0, ...iteration(event.iteration) } };
    case 'StepWaiting':
      // A chat agent step answered a turn: its answer, then it waits for the next user message.
      if (event.chat) {
        return { event: 'step_complete', data: { step: event.step_id, status: 'waiting', result: event.chat.output, chat_turn: event.chat.turn, duration_ms: 0, ...iteration(event.iteration) } };
      }
      return { event: 'status', data: { status: 'waiting', step: event.step_id, ...iteration(event.iteration) } };
    case 'ErrorRaised':
      return {
        event: 'error',
        data: { ...(event.step_id !== undefined ? { step: event.step_id } : {}), error: event.error.message, code: event.error.code, ...iteration(event.iteration) },
      };
    case 'ExecutionCompleted':
      return {
        event: 'complete',
        data: {
          status: event.status,
          ...(event.result !== undefined ? { result: event.result } : {}),
          ...(event.error !== undefined ? { error: event.error } : {}),
        },
      };
    case 'TimerScheduled':
    case 'UserMessageAdded':
      return null;
    case 'Delta':
      return { event: 'delta', data: { step: event.step_id, content: event.content, ...iteration(event.iteration) } };
    case 'ToolCalled':
      return { event: 'tool_call', data: { step: event.step_id, tool: event.tool, arguments: event.arguments, ...iteration(event.iteration) } };
    case 'ToolResulted':
      return { event: 'tool_result', data: { step: event.step_id, tool: event.tool, result: event.result, ...iteration(event.iteration) } };
    default: {
      // Event schemas only grow: an unknown type from a newer writer is skipped, not a crash.
      const _exhaustive: never = event;
      void _exhaustive;
      return null;
    }
  }
}
