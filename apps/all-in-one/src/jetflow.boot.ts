import type { NatsConnection } from '@nats-io/transport-node';
import pino, { type Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { connectNats, RpcClient } from '@jetflow/bus';
import type { Config, ServiceName } from '@jetflow/config';
import { ensureStreams, streamNames } from '@jetflow/event-store';
import { APPROVALS_PROJECTOR_DURABLE, ApprovalsProjection } from '@jetflow/approvals';
import { EXECUTIONS_PROJECTOR_DURABLE, ExecutionsProjection, LogProjector } from '@jetflow/projections';
import { createDataSource, runMigrations } from '@jetflow/persistence';
import { createGatewayApp } from '../../gateway/src/gateway.app';
import { startWorkflowsService } from '../../workflows/src/workflows.app';
import { startToolsService } from '../../workflows/src/tools.app';
import { startExecutionsService } from '../../executions/src/executions.app';
import { startStepsService } from '../../steps/src/steps.app';
import { startApprovalsService } from '../../approvals/src/approvals.app';
import type { HostResolver } from '@jetflow/tools';
import { ensureDatabase } from './ensure-database';
import { registerEngineMetrics, type EngineParts } from './engine-metrics';
import { startMetricsServer } from './metrics-server';

/** The durable consumer feeding both read models when one process hosts executions and approvals. */
export const SHARED_PROJECTOR_DURABLE = 'jetflow-projector-executions-approvals';

export interface RunningJetflow {
  readonly nc: NatsConnection;
  readonly port: number | null;
  /** Port of the metrics listener of a process without the gateway (`METRICS_PORT`), else null. */
  readonly metricsPort: number | null;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/**
 * Starts the services named in `config.services` in this process, on one NATS connection:
 * streams ensured, migrations run, then each service, the gateway last (it listens on `PORT`).
 */
export async function startJetflow(
  config: Config,
  opts: { logger?: Logger; sweepIntervalMs?: number; /** DNS for outbound calls (tests inject one). */ resolver?: HostResolver } = {},
): Promise<RunningJetflow> {
  const logger = opts.logger ?? pino({ level: config.logLevel, base: { svc: config.services.join(',') } });
  const has = (s: ServiceName) => config.services.includes(s);
  // The gateway serves /metrics itself; another process only on request (METRICS_PORT), bound
  // first: a port already taken fails the boot before any service takes work.
  const metricsServer = !has('gateway') && config.metricsPort !== null ? await startMetricsServer(config.metricsPort, config.host) : undefined;
  if (metricsServer) logger.info({ port: metricsServer.port }, 'metrics listening');
  const nc = await connectNats({ servers: [...config.natsServers], name: `jetflow-${config.services.join('-')}` });
  const streams = { replicas: config.streamReplicas, prefix: config.streamPrefix, duplicateWindowSeconds: config.streamDuplicateWindowSeconds };
  await ensureStreams(nc, streams);

  let dataSource: DataSource | undefined;
  if (has('workflows') || has('executions') || has('approvals')) {
    await ensureDatabase(config.databaseUrl);
    await runMigrations(config.databaseUrl);
    dataSource = createDataSource(config.databaseUrl);
    await dataSource.initialize();
  }

  const stops: (() => Promise<void>)[] = [];
  const metricParts: EngineParts[] = [];
  // Hosting both read models: one consumer feeds both (each log entry delivered, decoded and acked once).
  const sharedProjector = has('executions') && has('approvals');
  if (has('workflows')) stops.push((await startWorkflowsService({ nc, dataSource: dataSource!, logger })).stop);
  if (has('workflows')) stops.push((await startToolsService({ nc, dataSource: dataSource!, logger })).stop);
  if (has('executions')) {
    const svc = await startExecutionsService({ nc, dataSource: dataSource!, logger }, {
        streams,
        rpcTimeoutMs: config.rpcTimeoutMs,
        sweepIntervalMs: opts.sweepIntervalMs,
        ownProjector: !sharedProjector,
        schedule: { catchUp: config.scheduleCatchUp, refreshMs: config.scheduleRefreshMs },
      });
    stops.push(svc.stop);
    metricParts.push(svc.parts);
  }
  if (has('approvals')) {
    const svc = await startApprovalsService({ nc, dataSource: dataSource!, logger }, { streams, deliveryTimeoutMs: Math.min(config.rpcTimeoutMs, 2_000), ownProjector: !sharedProjector });
    stops.push(svc.stop);
    metricParts.push(svc.parts);
  }
  if (sharedProjector) {
    const projector = new LogProjector(
      nc,
      dataSource!,
      [new ExecutionsProjection({ checkpointName: EXECUTIONS_PROJECTOR_DURABLE }), new ApprovalsProjection({ checkpointName: APPROVALS_PROJECTOR_DURABLE })],
      { streamName: streamNames(streams).executions, durableName: SHARED_PROJECTOR_DURABLE, onError: (err) => logger.warn({ err }, 'projector batch failed; retrying'), logger },
    );
    await projector.start();
    stops.push(() => projector.stop());
    metricParts.push({ projectors: [projector] });
  }
  if (has('steps')) {
    const svc = await startStepsService(
      { nc, logger, ...(opts.resolver ? { resolver: opts.resolver } : {}) },
      {
        streams,
        concurrency: config.stepsConcurrency,
        localDispatch: config.stepsLocalDispatch,
        secrets: config.secrets,
        scopedSecrets: config.scopedSecrets,
        allowPrivateNetworks: config.apiCallAllowPrivate,
        allowHosts: config.apiCallAllowHosts,
        denyHosts: config.apiCallDenyHosts,
        maxResponseBytes: config.apiCallMaxResponseBytes,
        rpcTimeoutMs: config.rpcTimeoutMs,
        openai: { apiKey: config.openaiApiKey, baseURL: config.openaiBaseUrl },
      },
    );
    // Stopped before the actors (after the gateway): handlers still running get their results
    // recorded here instead of going back to the queue for another process to run again.
    stops.unshift(svc.stop);
    metricParts.push(svc.parts);
  }
  const unregister = metricParts.map(registerEngineMetrics);
  stops.push(async () => unregister.forEach((u) => u()));

  let port: number | null = null;
  if (has('gateway')) {
    const rpc = new RpcClient(nc, { timeoutMs: 2_000 });
    const app = await createGatewayApp({
      nc,
      config,
      logger,
      healthCheck: async () => {
        try {
          if (dataSource) await dataSource.query('SELECT 1');
          else await rpc.request('workflows', 'health', {});
          return true;
        } catch {
          return false;
        }
      },
    });
    await app.listen(config.port, config.host);
    const addr = app.getHttpServer().address();
    port = typeof addr === 'object' && addr ? addr.port : config.port;
    stops.unshift(() => app.close());
    logger.info({ port }, 'gateway listening');
  }

  return {
    nc,
    port,
    metricsPort: metricsServer?.port ?? null,
    logger,
    async stop() {
      for (const stop of stops) {
        try {
          await stop();
        } catch (err) {
          logger.warn({ err }, 'error while stopping');
        }
      }
      await dataSource?.destroy().catch(() => undefined);
      await nc.drain().catch(() => undefined);
      await metricsServer?.close();
    },
  };
}
