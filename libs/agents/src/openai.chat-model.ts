import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { redactSecrets } from '@jetflow/tools';
import { ModelCallError, type ChatModel, type ChatRequest, type ChatTurnResult, type ModelToolCall, type Usage } from './chat-model';
import { guardedFetch, ModelEndpointRefusedError, type ModelOutbound } from './guarded-fetch';

export interface OpenAiModelOptions {
  readonly baseURL?: string;
  /** Sent as `Authorization: Bearer <key>`; without one, no Authorization header is sent at all. */
  readonly apiKey?: string;
  /**
   * When set, every request (and redirect hop) goes through the outbound guard under this policy,
   * as api_call does; a refused endpoint fails the call with a terminal TOOL_ERROR.
   */
  readonly outbound?: ModelOutbound;
  /** Further secret values scrubbed from error messages (the API key always is). */
  readonly secretValues?: readonly string[];
}

/**
 * Any OpenAI-compatible chat-completions endpoint, streamed through the `openai` package. The
 * package's own retries are off: retrying is the engine's job (the step's `retry`), so a failure
 * here is classified once: 429 → RATE_LIMIT (Retry-After kept), 5xx/408/connection → retryable
 * AGENT_ERROR, other 4xx → terminal AGENT_ERROR; an endpoint the outbound guard refuses → terminal
 * TOOL_ERROR (the code api_call reports for the same refusal).
 */
export class OpenAiChatModel implements ChatModel {
  private readonly client: OpenAI;
  /** Never in an error: a provider (or a proxy) may echo the key it got ("invalid key sk-..."). */
  private readonly secretValues: readonly string[];
  constructor(opts: OpenAiModelOptions) {
    this.secretValues = [...(opts.apiKey ? [opts.apiKey] : []), ...(opts.secretValues ?? [])];
    this.client = new OpenAI({
      // Always given, so the package never falls back to process.env.OPENAI_API_KEY; without a key
      // the placeholder is never sent: the Authorization header is dropped below.
      apiKey: opts.apiKey || 'unset',
      // An endpoint under the outbound guard is the workflow author's: the operator's
      // OPENAI_CUSTOM_HEADERS (which the package reads from the environment) are removed too.
      defaultHeaders: { ...(opts.outbound ? operatorEnvHeadersRemoved() : {}), ...(opts.apiKey ? {} : { Authorization: null }) },
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      // An endpoint under the outbound guard is not the operator's: nothing from the process
      // environment (OPENAI_ORG_ID, OPENAI_PROJECT_ID) goes there either.
      ...(opts.outbound ? { fetch: guardedFetch(opts.outbound), organization: null, project: null } : {}),
      maxRetries: 0,
      timeout: 600_000,
    });
  }

  async complete(request: ChatRequest, onContent: (text: string) => void, signal: AbortSignal): Promise<ChatTurnResult> {
    let content = '';
    const calls: { id: string; name: string; arguments: string }[] = [];
    let usage: Usage | undefined;
    try {
      const stream = await this.client.chat.completions.create(
        {
          model: request.model,
          messages: request.messages as ChatCompletionMessageParam[],
          ...(request.tools.length ? { tools: request.tools.map(toOpenAiTool) } : {}),
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal },
      );
      for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
        if (chunk.usage) usage = { prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: chunk.usage.completion_tokens, total_tokens: chunk.usage.total_tokens };
        const delta = chunk.choices?.[0]?.delta;
        if (!delta) continue;
        if (delta.content) {
          content += delta.content;
          onContent(delta.content);
        }
        for (const tc of delta.tool_calls ?? []) {
          const slot = (calls[tc.index] ??= { id: '', name: '', arguments: '' });
          if (tc.id) slot.id = tc.id;
          if (tc.function?.name) slot.name += tc.function.name;
          if (tc.function?.arguments) slot.arguments += tc.function.arguments;
        }
      }
    } catch (err) {
      throw classify(err, (text) => redactSecrets(text, this.secretValues));
    }
    const tool_calls: ModelToolCall[] = calls
      .filter((c) => c && c.name)
      .map((c, i) => ({ id: c.id || `call_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } }));
    return { content, tool_calls, ...(usage ? { usage } : {}) };
  }
}

function toOpenAiTool(t: ChatRequest['tools'][number]): ChatCompletionTool {
  return { type: 'function', function: { name: t.name, description: t.description, parameters: t.input_schema as Record<string, unknown> } };
}

/**
 * One ModelCallError for a failed call. Text that comes from outside (the provider's error, a
 * connection or stream error) goes through `scrub` first: a provider, or a proxy in front of it,
 * may echo the key it got ("invalid key sk-..."), and the message becomes the step's error
 * (StepFailed: the log, SSE, GET /events).
 */
function classify(err: unknown, scrub: (text: string) => string): ModelCallError {
  if (err instanceof ModelCallError) return err;
  const refused = refusalIn(err);
  // Same code and message as an api_call refusal; the detail says which URL it was.
  if (refused) return new ModelCallError({ code: refused.code, message: refused.message, details: [{ path: 'provider.base_url', message: "the agent's model endpoint" }] }, false);
  if (err instanceof APIUserAbortError) return new ModelCallError({ code: 'TIMEOUT', message: 'model call aborted' }, true);
  if (err instanceof APIConnectionError) return new ModelCallError({ code: 'AGENT_ERROR', message: `model provider unreachable: ${scrub(err.message)}` }, true);
  if (err instanceof APIError && typeof err.status === 'number') {
    // Scrubbed before it is cut short: a cut through a secret would leave a piece of it behind.
    const message = `model provider answered HTTP ${err.status}${err.message ? `: ${scrub(err.message)}`.slice(0, 300) : ''}`;
    if (err.status === 429) return new ModelCallError({ code: 'RATE_LIMIT', message }, true, retryAfter(err.headers));
    if (err.status === 408 || err.status >= 500) return new ModelCallError({ code: 'AGENT_ERROR', message }, true, retryAfter(err.headers));
    return new ModelCallError({ code: 'AGENT_ERROR', message }, false);
  }
  if (err instanceof Error && err.name === 'AbortError') return new ModelCallError({ code: 'TIMEOUT', message: 'model call aborted' }, true);
  // A broken stream mid-response (socket reset, bad chunk) is a transient provider failure.
  return new ModelCallError({ code: 'AGENT_ERROR', message: `model stream failed: ${scrub(err instanceof Error ? err.message : String(err))}` }, true);
}

/** The guard's refusal, thrown by our fetch and wrapped by the client (as `cause`) or not. */
function refusalIn(err: unknown): ModelEndpointRefusedError['refusal'] | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ModelEndpointRefusedError) return e.refusal;
  }
  return undefined;
}

/** Retry-After in seconds (delta-seconds or an HTTP date), when present and sane. */
function retryAfter(headers: Headers | undefined): number | undefined {
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const n = Number(raw);
  if (Number.isFinite(n) && n >= 0) return n;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, (at - Date.now()) / 1000) : undefined;
}

/** `null` for every header named in OPENAI_CUSTOM_HEADERS (`Name: value` per line): the client drops them. */
function operatorEnvHeadersRemoved(): Record<string, null> {
  const raw = process.env['OPENAI_CUSTOM_HEADERS'];
  const removed: Record<string, null> = {};
  if (!raw) return removed;
  for (const line of raw.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) removed[line.slice(0, colon).trim()] = null;
  }
  return removed;
}
