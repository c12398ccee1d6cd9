import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { RpcClient, RpcServer } from '@jetflow/bus';
import { SUBJECTS, type ExecutionCommand, type ExecutionsRpc, type Scope, type ScheduleTarget, type WorkflowsRpc } from '@jetflow/contracts';
import { EventStore, streamNames, type StreamOptions } from '@jetflow/event-store';
import { DefinitionCache, ExecutionActorHost, ExecutionsService, RecoverySweeper, TaskDispatcher, type PinnedDefinition } from '@jetflow/executions';
import { ExecutionsProjector, ExecutionsQuery } from '@jetflow/projections';
import { Scheduler, ScheduleStateStore } from '@jetflow/scheduler';

export interface ExecutionsAppOptions {
  readonly streams: StreamOptions;
  readonly rpcTimeoutMs: number;
  readonly sweepIntervalMs?: number;
  /**
   * Run the executions read model's own projector (default). The all-in-one process passes false
   * and feeds this read model and the approvals one from a single consumer instead.
   */
  readonly ownProjector?: boolean;
  /** Schedule triggers: one catch-up run for missed ticks, and how often schedules are re-read. */
  readonly schedule?: { readonly catchUp: boolean; readonly refreshMs: number };
}

/**
 * The executions service: hosts the execution actors (commands over `jetflow.rpc.executions.*`),
 * projects the logs into the `executions` read model and sweeps for work lost in a crash.
 */
export async function startExecutionsService(deps: { nc: NatsConnection; dataSource: DataSource; logger: Logger }, opts: ExecutionsAppOptions) {
  const { nc, dataSource, logger } = deps;
  const names = streamNames(opts.streams);
  const store = new EventStore(nc, opts.streams);
  const dispatcher = new TaskDispatcher(nc, { tasksStream: names.tasks });
  const host = new ExecutionActorHost(store, dispatcher, { logger });
  const rpcClient = new RpcClient(nc, { timeoutMs: opts.rpcTimeoutMs });
  const query = new ExecutionsQuery(dataSource);
  const definitions = new DefinitionCache((scope, id) => rpcClient.request<PinnedDefinition>('workflows', 'definition', { scope, id }));
  const changes = nc.subscribe(SUBJECTS.allWorkflowChanges, { callback: (_err, msg) => definitions.invalidate(msg.subject.split('.')[3] ?? '') });
  // Notices sent while disconnected are lost: start over after a reconnect.
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') definitions.clear();
  })();
  const service = new ExecutionsService({
    store,
    host,
    definitionOf: (scope, id) => definitions.get(scope, id),
    list: (scope, q) => query.list(scope, q),
  });
  const rpc = new RpcServer(nc, 'executions', { logger: { error: (message, err) => logger.error({ err }, message) } });
  rpc.handle<ExecutionsRpc['start']['req'], unknown>('start', (r) => service.start(r));
  rpc.handle<ExecutionsRpc['get']['req'], unknown>('get', (r) => service.get(r));
  rpc.handle<ExecutionsRpc['list']['req'], unknown>('list', (r) => service.list(r));
  rpc.handle<ExecutionsRpc['cancel']['req'], unknown>('cancel', (r) => service.cancel(r));
  rpc.handle<ExecutionsRpc['authorize']['req'], unknown>('authorize', (r) => service.authorize(r));
  rpc.handle<ExecutionsRpc['events']['req'], unknown>('events', (r) => service.events(r));
  rpc.handle<ExecutionsRpc['message']['req'], unknown>('message', (r) => service.message(r));
  rpc.handle<{ execution_id: string; command: ExecutionCommand }, unknown>('command', (r) => service.command(r));

  const projector =
    opts.ownProjector === false ? undefined : new ExecutionsProjector(nc, dataSource, { streamName: names.executions, onError: (err) => logger.warn({ err }, 'projector batch failed; retrying'), logger });
  await projector?.start();
  const sweeper = new RecoverySweeper(nc, host, dispatcher, {
    tasksStream: names.tasks,
    timersStream: names.timers,
    intervalMs: opts.sweepIntervalMs ?? 5_000,
    logger,
    listActive: (page) => query.activeRuns(page),
  });
  sweeper.start();

  const scheduler = new Scheduler(
    {
      listSchedules: async () => (await rpcClient.request<WorkflowsRpc['schedules']['res']>('workflows', 'schedules', {})).items,
      fire: async (target: ScheduleTarget, tick: string) => {
        await service.start({
          scope: target.scope,
          workflow_id: target.workflow_id,
          body: { trigger: { kind: 'schedule', scheduled_at: tick } },
          idempotency_key: `schedule:${target.workflow_id}:${tick}`,
        });
      },
      state: await ScheduleStateStore.open(nc, { prefix: opts.streams.prefix, replicas: opts.streams.replicas }),
      logger,
    },
    { catchUp: opts.schedule?.catchUp ?? true, refreshMs: opts.schedule?.refreshMs ?? 5_000 },
  );
  await scheduler.start();
  return {
    service,
    /** For metrics. */
    parts: { host, dispatcher, sweeper, projectors: projector ? [projector] : [] },
    async stop() {
      changes.unsubscribe();
      await scheduler.stop();
      await sweeper.stop();
      await rpc.close();
      await projector?.stop();
    },
  };
}

export type { Scope };
