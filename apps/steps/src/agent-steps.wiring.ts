import type { NatsConnection } from '@nats-io/transport-node';
import { agentsOp, createAgentExecutionHandler, type AgentView } from '@jetflow/agents';
import { RpcClient } from '@jetflow/bus';
import { EventStore, type StreamOptions } from '@jetflow/event-store';
import type { StepHandlers } from '@jetflow/step-workers';

/** OPENAI_API_KEY / OPENAI_BASE_URL from config: defaults for agents that name no key or endpoint. */
export interface OpenAiDefaults {
  readonly apiKey?: string;
  readonly baseURL?: string;
}

/**
 * The `agent_execution` handler: agents are loaded from the workflows service over NATS (steps
 * workers have no database), deltas and tool events go to the execution's `deltas` subject.
 */
export function agentStepHandlers(nc: NatsConnection, streams: StreamOptions, opts: { openai?: OpenAiDefaults; rpcTimeoutMs?: number }): StepHandlers {
  const rpc = new RpcClient(nc, { timeoutMs: opts.rpcTimeoutMs ?? 10_000 });
  return {
    agent_execution: createAgentExecutionHandler({
      events: new EventStore(nc, streams),
      agents: { get: (scope, id) => rpc.request<AgentView>('workflows', agentsOp('get'), { scope, id }) },
      openai: opts.openai ?? {},
    }),
  };
}
