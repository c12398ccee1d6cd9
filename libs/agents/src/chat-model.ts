import type { ErrorBody } from '@jetflow/contracts';

/** A conversation message in OpenAI chat-completions form. */
export type ChatMessage =
  | { readonly role: 'system' | 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string | null; readonly tool_calls?: readonly ModelToolCall[] }
  | { readonly role: 'tool'; readonly tool_call_id: string; readonly content: string };

/** A tool call the model asked for; `arguments` is the model's JSON text. */
export interface ModelToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly input_schema: Readonly<Record<string, unknown>>;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ToolSpec[];
  readonly temperature?: number;
}

/** One model call's result, after its tokens were streamed through `onContent`. */
export interface ChatTurnResult {
  readonly content: string;
  readonly tool_calls: readonly ModelToolCall[];
  readonly usage?: Usage;
}

/** A provider failure decided on purpose: retryable or not, with a server's Retry-After. */
export class ModelCallError extends Error {
  constructor(
    readonly body: ErrorBody,
    readonly retryable: boolean,
    readonly retryAfterSeconds?: number,
  ) {
    super(body.message);
    this.name = 'ModelCallError';
  }
}

/** A chat model that streams: `onContent` gets text as it arrives. Throws ModelCallError. */
export interface ChatModel {
  complete(request: ChatRequest, onContent: (text: string) => void, signal: AbortSignal): Promise<ChatTurnResult>;
}
