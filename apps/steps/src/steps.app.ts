import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { streamNames, type StreamOptions } from '@jetflow/event-store';
import { DEFAULT_HANDLERS, StepTaskWorker, TimerWorker } from '@jetflow/step-workers';
import { agentStepHandlers, type OpenAiDefaults } from './agent-steps.wiring';

/** The steps service: step tasks and durable timers from their JetStream work queues. */
export async function startStepsService(
  deps: { nc: NatsConnection; logger: Logger },
  opts: { streams: StreamOptions; concurrency: number; secrets: Readonly<Record<string, string>>; allowPrivateNetworks: boolean; openai?: OpenAiDefaults },
) {
  const names = streamNames(opts.streams);
  const tasks = new StepTaskWorker(deps.nc, { ...DEFAULT_HANDLERS, ...agentStepHandlers(deps.nc, opts.streams, opts) }, {
    tasksStream: names.tasks,
    concurrency: opts.concurrency,
    secrets: opts.secrets,
    allowPrivateNetworks: opts.allowPrivateNetworks,
    logger: deps.logger,
  });
  const timers = new TimerWorker(deps.nc, { timersStream: names.timers, logger: deps.logger });
  await tasks.start();
  await timers.start();
  return {
    async stop() {
      await timers.stop();
      await tasks.stop();
    },
  };
}
