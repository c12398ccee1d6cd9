import type { MockTurn } from './agent-definition';
import type { ChatModel, ChatRequest, ChatTurnResult, ModelToolCall } from './chat-model';

/**
 * The `mock` provider: replies come from the agent's script, so workflows run offline. The reply
 * is chosen by how many assistant messages the conversation already holds (history included), so
 * a chat continues the script; past the end the last entry repeats. Content streams in small chunks.
 */
export class MockChatModel implements ChatModel {
  constructor(
    private readonly script: readonly MockTurn[],
    private readonly chunkSize = 4,
  ) {}

  async complete(request: ChatRequest, onContent: (text: string) => void, signal: AbortSignal): Promise<ChatTurnResult> {
    const assistantTurns = request.messages.filter((m) => m.role === 'assistant').length;
    const turn = this.script[Math.min(assistantTurns, this.script.length - 1)]!;
    const prompt = request.messages.reduce((n, m) => n + (m.content?.length ?? 0), 0);
    if ('tool_calls' in turn) {
      const tool_calls: ModelToolCall[] = turn.tool_calls.map((c, i) => ({
        id: `mock_${assistantTurns}_${i}`,
        type: 'function',
        function: { name: c.name, arguments: JSON.stringify(c.arguments ?? {}) },
      }));
      return { content: '', tool_calls, usage: usage(prompt, 0) };
    }
    for (let i = 0; i < turn.content.length; i += this.chunkSize) {
      if (signal.aborted) throw signal.reason;
      onContent(turn.content.slice(i, i + this.chunkSize));
      // Yield between chunks so deltas coalesce the way a real stream's would.
      await new Promise((r) => setImmediate(r));
    }
    return { content: turn.content, tool_calls: [], usage: usage(prompt, turn.content.length) };
  }
}

/** A rough token count (4 characters a token) so `usage` is never empty offline. */
function usage(promptChars: number, completionChars: number) {
  const prompt_tokens = Math.ceil(promptChars / 4);
  const completion_tokens = Math.ceil(completionChars / 4);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}
