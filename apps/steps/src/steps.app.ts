import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { RpcClient } from '@jetflow/bus';
import { EventStore, streamNames, type StreamOptions } from '@jetflow/event-store';
import { DEFAULT_HANDLERS, StepTaskWorker, TimerWorker } from '@jetflow/step-workers';
import { agentStepHandlers, type OpenAiDefaults } from './agent-steps.wiring';
import { RpcToolCatalog, type HostResolver, type OutboundPolicy, type ScopedSecrets, type ToolsDeps } from '@jetflow/tools';

/** The steps service: step tasks and durable timers from their JetStream work queues. */
export async function startStepsService(
  deps: { nc: NatsConnection; logger: Logger; resolver?: HostResolver },
  opts: {
    streams: StreamOptions;
    concurrency: number;
    /** Take tasks from an executions host on the same connection directly (default true). */
    localDispatch?: boolean;
    secrets: Readonly<Record<string, string>>;
    scopedSecrets?: ScopedSecrets;
    allowPrivateNetworks: boolean;
    allowHosts?: readonly string[];
    denyHosts?: readonly string[];
    maxResponseBytes?: number;
    rpcTimeoutMs?: number;
    openai?: OpenAiDefaults;
  },
) {
  const names = streamNames(opts.streams);
  const outbound: OutboundPolicy = { allowPrivate: opts.allowPrivateNetworks, allowHosts: opts.allowHosts ?? [], denyHosts: opts.denyHosts ?? [] };
  // User tools come from the tools service over NATS: step workers stay without a database.
  const tools: ToolsDeps = {
    catalog: new RpcToolCatalog(new RpcClient(deps.nc, { timeoutMs: opts.rpcTimeoutMs ?? 10_000 })),
    outbound,
    secrets: opts.secrets,
    ...(opts.maxResponseBytes ? { maxResponseBytes: opts.maxResponseBytes } : {}),
    ...(deps.resolver ? { resolver: deps.resolver } : {}),
  };
  const tasks = new StepTaskWorker(deps.nc, { ...DEFAULT_HANDLERS, ...agentStepHandlers(deps.nc, opts.streams, opts) }, {
    tasksStream: names.tasks,
    concurrency: opts.concurrency,
    localDispatch: opts.localDispatch ?? true,
    secrets: opts.secrets,
    ...(opts.scopedSecrets ? { scopedSecrets: opts.scopedSecrets } : {}),
    allowPrivateNetworks: opts.allowPrivateNetworks,
    outbound,
    tools,
    stream: new EventStore(deps.nc, opts.streams),
    ...(opts.maxResponseBytes ? { maxResponseBytes: opts.maxResponseBytes } : {}),
    logger: deps.logger,
  });
  const timers = new TimerWorker(deps.nc, { timersStream: names.timers, logger: deps.logger });
  await tasks.start();
  await timers.start();
  return {
    /** For metrics. */
    parts: { worker: tasks },
    async stop() {
      await timers.stop();
      await tasks.stop();
    },
  };
}
