import { setMaxListeners } from 'node:events';
import { toErrorBody, type IterationPath, type Scope, type StepTask, type StreamEvent } from '@jetflow/contracts';
import type { HandlerOutcome, StepHandler } from '@jetflow/step-workers';
import { redactSecrets } from '@jetflow/tools';
import type { AgentView } from './agent-definition';
import type { AgentTools } from './agent-tools';
import { journalTurns } from './agent-journal';
import { buildConversation } from './conversation';
import { ModelCallError, type ChatMessage, type ChatModel, type ModelToolCall, type ToolSpec, type Usage } from './chat-model';
import { DeltaCoalescer } from './delta-coalescer';
import { MockChatModel } from './mock.chat-model';
import type { ModelOutbound } from './guarded-fetch';
import { OpenAiChatModel } from './openai.chat-model';
import { agentToolsFrom } from './tools.adapter';

const DEFAULT_MAX_ITERATIONS = 10;
const DEFAULT_TIMEOUT_SECONDS = 300;

export interface AgentHandlerDeps {
  /** The execution log: deltas and tool events are appended to, and resumed from, its `deltas` subject. */
  readonly events: {
    appendStream(executionId: string, events: readonly StreamEvent[]): Promise<unknown>;
    readStream(executionId: string): Promise<readonly { readonly events: readonly StreamEvent[] }[]>;
  };
  /** Loads an agent in a scope (throws a coded error: NOT_FOUND, UNAVAILABLE...). */
  readonly agents: { get(scope: Scope, id: string): Promise<AgentView> };
  /** The agent's tools; by default the worker context's tool registry (libs/tools). */
  readonly tools?: AgentTools;
  /**
   * OPENAI_API_KEY / OPENAI_BASE_URL from config. The key is only ever sent to that endpoint (or
   * OpenAI's own when unset), for agents that name no `base_url` and no `api_key_secret`.
   */
  readonly openai: { readonly apiKey?: string; readonly baseURL?: string };
  /**
   * Builds the model for an agent; defaults to the OpenAI client or the mock script. `outbound` is
   * the worker's outbound policy (api_call's), which an agent's own `base_url` must pass.
   */
  readonly modelFor?: (agent: AgentView, secrets: Readonly<Record<string, string>>, outbound: ModelOutbound) => ChatModel;
  readonly clock?: () => Date;
  /** Longest a streamed token waits before it is appended (default 50 ms). */
  readonly deltaWindowMs?: number;
}

/** One entry of the output's `tool_calls`. */
export interface AgentToolCallRecord {
  readonly id: string;
  readonly tool: string;
  readonly arguments: unknown;
  readonly result: unknown;
  readonly is_error?: boolean;
}

/**
 * `agent_execution`: the agent's conversation, streamed through the model turn by turn with the
 * tool calls it asks for, until a final answer (output `{response, tool_calls, usage}`) or
 * `max_iterations` model calls (terminal AGENT_ERROR). Every delta, tool call and tool result is
 * journaled on the execution's `deltas` subject with its attempt and turn, so a redelivered attempt
 * (worker crash) replays the finished turns and never runs a recorded tool call again.
 */
export function createAgentExecutionHandler(deps: AgentHandlerDeps): StepHandler {
  const clock = deps.clock ?? (() => new Date());
  const modelFor = deps.modelFor ?? ((agent, secrets, outbound) => defaultModel(agent, secrets, deps.openai, outbound));
  return async (task, ctx) => {
    const p = task.parameters;
    const agentId = p['agent_id'];
    if (typeof agentId !== 'string' || !agentId) return fail('AGENT_ERROR', 'agent_id must be a non-empty string', false);
    const maxIterations = positive(p['max_iterations'], DEFAULT_MAX_ITERATIONS);
    const timeoutSeconds = positive(p['timeout_seconds'], DEFAULT_TIMEOUT_SECONDS);
    // Node timers hold at most 2^31-1 ms (≈ 24.8 days); a longer one would fire after 1 ms.
    const deadline = AbortSignal.timeout(Math.min(timeoutSeconds * 1000, 2 ** 31 - 1));
    const signal = AbortSignal.any([ctx.signal, deadline]);
    // The model client adds an abort listener per request and never removes it: an agent making
    // more than 10 model calls in one step would print a MaxListenersExceededWarning. The signal
    // lives as long as the step, so its listeners go with it.
    setMaxListeners(0, signal);

    let agent: AgentView;
    let tools: readonly ToolSpec[];
    let earlier: readonly { readonly events: readonly StreamEvent[] }[];
    try {
      agent = await deps.agents.get(task.scope, agentId);
    } catch (err) {
      const body = toErrorBody(err);
      return body.code === 'NOT_FOUND' ? fail('AGENT_ERROR', `agent ${agentId} not found`, false) : fail('AGENT_ERROR', `agent ${agentId} could not be loaded: ${body.message}`, true);
    }
    const keyName = agent.provider.kind === 'openai' ? agent.provider.api_key_secret : undefined;
    // A misspelt name would otherwise call the model with no key and fail later with a vague 401.
    if (keyName !== undefined && !Object.hasOwn(ctx.secrets, keyName)) {
      return fail('AGENT_ERROR', `unknown secret ${keyName} in provider.api_key_secret (define it in SECRETS, or in SCOPED_SECRETS for this project)`, false);
    }
    const registry = deps.tools ?? (ctx.tools ? agentToolsFrom(ctx.tools) : undefined);
    if (agent.tools.length && !registry) return fail('AGENT_ERROR', 'no tool registry is configured for agent tools', false);
    try {
      tools = agent.tools.length ? await registry!.describe(task.scope, agent.tools) : [];
    } catch (err) {
      const body = toErrorBody(err);
      // Unknown tool names will not appear by retrying; an unreachable registry may come back.
      const permanent = body.code === 'TOOL_ERROR' || body.code === 'NOT_FOUND' || body.code === 'VALIDATION_ERROR';
      return fail('AGENT_ERROR', `agent tools unavailable: ${body.message}`, !permanent);
    }
    try {
      earlier = await deps.events.readStream(task.execution_id);
    } catch (err) {
      return fail('AGENT_ERROR', `journal unreadable: ${toErrorBody(err).message}`, true);
    }

    const outbound: ModelOutbound = { policy: ctx.outbound ?? { allowPrivate: ctx.allowPrivateNetworks }, ...(ctx.tools?.resolver ? { resolver: ctx.tools.resolver } : {}) };
    const run = new AgentRun(task, agent, tools, registry, modelFor(agent, ctx.secrets, outbound), deps, clock, signal);
    // The model's keys never go into a step error (StepFailed → log, SSE, GET /events), whatever
    // the provider (or a proxy in front of it) echoes back.
    const keys = [keyName !== undefined ? ctx.secrets[keyName] : undefined, deps.openai?.apiKey].filter((k): k is string => typeof k === 'string' && k.length > 0);
    try {
      return await run.execute(buildConversation(agent, task), earlier, maxIterations);
    } catch (err) {
      if (deadline.aborted) return fail('TIMEOUT', `agent step timed out after ${timeoutSeconds} s`, true);
      if (err instanceof ModelCallError) return { ok: false, error: redactSecrets(err.body, keys), retryable: err.retryable, ...(err.retryAfterSeconds !== undefined ? { retry_after_seconds: err.retryAfterSeconds } : {}) };
      if (ctx.signal.aborted) return fail('AGENT_ERROR', 'worker stopping', true);
      return { ok: false, error: redactSecrets(toErrorBody(err, 'AGENT_ERROR'), keys), retryable: true };
    }
  };
}

/** One delivery of one attempt of an agent step. */
class AgentRun {
  private readonly records: AgentToolCallRecord[] = [];
  private readonly usage: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  private response = '';

  constructor(
    private readonly task: StepTask,
    private readonly agent: AgentView,
    private readonly tools: readonly ToolSpec[],
    private readonly registry: AgentTools | undefined,
    private readonly model: ChatModel,
    private readonly deps: AgentHandlerDeps,
    private readonly clock: () => Date,
    private readonly signal: AbortSignal,
  ) {}

  async execute(messages: ChatMessage[], earlier: readonly { readonly events: readonly StreamEvent[] }[], maxIterations: number): Promise<HandlerOutcome> {
    const journal = journalTurns(this.task, earlier.flatMap((e) => e.events));
    let turn = 0;
    let resumedPrefix = '';
    // Replay the turns an earlier delivery finished: their tool calls are known, some have results.
    for (const t of journal) {
      if (!t.calls.length) {
        resumedPrefix = t.content;
        break;
      }
      this.response += t.content;
      messages.push({ role: 'assistant', content: t.content || null, tool_calls: t.calls });
      messages.push(...(await this.runTools(t.turn, t.calls, t.results)));
      turn = t.turn + 1;
    }

    for (; turn < maxIterations; turn++) {
      const result = await this.callModel(messages, turn, resumedPrefix);
      resumedPrefix = '';
      if (!result.tool_calls.length) {
        return { ok: true, output: { response: this.response, tool_calls: this.records, usage: this.usage } };
      }
      messages.push({ role: 'assistant', content: result.content || null, tool_calls: result.tool_calls });
      await this.append(
        result.tool_calls.map((c) => ({ type: 'ToolCalled', ...this.where(turn), tool: c.function.name, call_id: c.id, arguments: parseArguments(c.function.arguments), at: this.now() })),
      );
      messages.push(...(await this.runTools(turn, result.tool_calls, new Map())));
    }
    return fail('AGENT_ERROR', `agent gave no final answer within max_iterations (${maxIterations})`, false);
  }

  /** One streamed model call. Text an earlier delivery already streamed for this turn is not sent again. */
  private async callModel(messages: readonly ChatMessage[], turn: number, prefix: string) {
    const deltas = new DeltaCoalescer((content) => this.append([{ type: 'Delta', ...this.where(turn), content, at: this.now() }]), this.deps.deltaWindowMs ?? 50);
    let received = '';
    try {
      const result = await this.model.complete(
        { model: this.agent.model, messages, tools: this.tools, ...(this.agent.temperature !== undefined ? { temperature: this.agent.temperature } : {}) },
        (text) => {
          const before = received.length;
          received += text;
          if (received.length > prefix.length) deltas.push(received.slice(Math.max(before, prefix.length)));
        },
        this.signal,
      );
      await deltas.drain();
      const streamed = received.length >= prefix.length ? received : prefix;
      this.response += streamed;
      if (result.usage) {
        this.usage.prompt_tokens += result.usage.prompt_tokens;
        this.usage.completion_tokens += result.usage.completion_tokens;
        this.usage.total_tokens += result.usage.total_tokens;
      }
      return result;
    } catch (err) {
      deltas.discard();
      throw err;
    }
  }

  /** Runs a turn's tool calls concurrently (skipping recorded ones); returns the `tool` messages in call order. */
  private async runTools(turn: number, calls: readonly ModelToolCall[], recorded: ReadonlyMap<string, { result: unknown; is_error: boolean }>): Promise<ChatMessage[]> {
    const outcomes = await Promise.all(
      calls.map(async (call) => {
        const done = recorded.get(call.id);
        if (done) return done;
        const outcome = await this.invoke(call);
        await this.append([{ type: 'ToolResulted', ...this.where(turn), tool: call.function.name, call_id: call.id, result: outcome.result, ...(outcome.is_error ? { is_error: true } : {}), at: this.now() }]);
        return outcome;
      }),
    );
    return calls.map((call, i) => {
      const o = outcomes[i]!;
      this.records.push({ id: call.id, tool: call.function.name, arguments: parseArguments(call.function.arguments), result: o.result, ...(o.is_error ? { is_error: true } : {}) });
      return { role: 'tool', tool_call_id: call.id, content: JSON.stringify(o.result ?? null) };
    });
  }

  /** A tool failure is shown to the model (it may recover); only the log records it as an error. */
  private async invoke(call: ModelToolCall): Promise<{ result: unknown; is_error: boolean }> {
    const args = parseArguments(call.function.arguments);
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      return { result: { error: { code: 'TOOL_ERROR', message: 'arguments must be a JSON object' } }, is_error: true };
    }
    if (!this.agent.tools.includes(call.function.name)) {
      return { result: { error: { code: 'TOOL_ERROR', message: `tool ${call.function.name} is not available to this agent` } }, is_error: true };
    }
    try {
      const r = await this.registry!.invoke(this.task.scope, call.function.name, args as Record<string, unknown>, {
        signal: this.signal,
        idempotency_key: `${this.task.idempotency_key}:${call.id}`,
        execution_id: this.task.execution_id,
        step_id: this.task.step_id,
      });
      return r.ok ? { result: r.result ?? null, is_error: false } : { result: { error: r.error }, is_error: true };
    } catch (err) {
      if (this.signal.aborted) throw err;
      return { result: { error: toErrorBody(err, 'TOOL_ERROR') }, is_error: true };
    }
  }

  private where(turn: number): { step_id: string; iteration?: IterationPath; attempt: number; turn: number; chat_turn?: number } {
    return {
      step_id: this.task.step_id,
      ...(this.task.iteration?.length ? { iteration: this.task.iteration } : {}),
      attempt: this.task.attempt,
      turn,
      ...(this.task.chat_turn ? { chat_turn: this.task.chat_turn } : {}),
    };
  }

  private async append(events: StreamEvent[]): Promise<void> {
    if (events.length) await this.deps.events.appendStream(this.task.execution_id, events);
  }

  private now(): string {
    return this.clock().toISOString();
  }
}

function defaultModel(agent: AgentView, secrets: Readonly<Record<string, string>>, openai: AgentHandlerDeps['openai'], outbound: ModelOutbound): ChatModel {
  if (agent.provider.kind === 'mock') return new MockChatModel(agent.mock?.script ?? [{ content: '' }], agent.mock?.chunk_size);
  const ownKey = agent.provider.api_key_secret ? secrets[agent.provider.api_key_secret] : undefined;
  if (agent.provider.base_url) {
    // A workflow author's endpoint goes where api_call may go, and nowhere else. It never gets the
    // operator's OPENAI_API_KEY: whoever runs that URL would read it from the request. It gets the
    // key its `api_key_secret` names or, without one, no Authorization header at all (local model
    // servers often need none; a server that does answers 401, a terminal AGENT_ERROR).
    return new OpenAiChatModel({ ...(ownKey ? { apiKey: ownKey } : {}), baseURL: agent.provider.base_url, outbound });
  }
  // OPENAI_BASE_URL (or OpenAI's own) is operator config, trusted like the rest of it: the
  // operator's key goes there, unless the agent names a key of its own.
  const apiKey = agent.provider.api_key_secret ? ownKey : openai.apiKey;
  return new OpenAiChatModel({ ...(apiKey ? { apiKey } : {}), ...(openai.baseURL ? { baseURL: openai.baseURL } : {}) });
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text || '{}');
  } catch {
    return text;
  }
}

function positive(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
}

function fail(code: 'AGENT_ERROR' | 'TIMEOUT', message: string, retryable: boolean): HandlerOutcome {
  return { ok: false, error: { code, message }, retryable };
}
