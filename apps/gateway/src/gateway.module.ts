import { Module, type DynamicModule } from '@nestjs/common';
import { RpcClient } from '@jetflow/bus';
import type { Config } from '@jetflow/config';
import { EventStore, ExecutionFeed } from '@jetflow/event-store';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { AgentsController } from './agents/agents.controller';
import { ApprovalsController } from './approvals/approvals.controller';
import { ApiRequestGuard } from './common/api-request.guard';
import { ExecutionStreamController } from './executions/execution-stream.controller';
import { EVENT_STORE, EXECUTION_FEED } from './executions/execution-stream.tokens';
import { ExecutionStreamer } from './executions/execution-streamer';
import { ExecutionsController } from './executions/executions.controller';
import { CLOCK, GATEWAY_CONFIG, GATEWAY_LOGGER, HEALTH_CHECK, NATS_CONNECTION, type Clock, type HealthCheck } from './gateway.tokens';
import { HealthController } from './health/health.controller';
import { HooksController } from './hooks/hooks.controller';
import { MetricsController } from './metrics/metrics.controller';
import { StreamMetrics } from './metrics/stream-metrics';
import { ServicesClient } from './rpc/services.client';
import { WorkflowsController } from './workflows/workflows.controller';
import { ToolsController } from './tools/tools.controller';

export interface GatewayModuleDeps {
  readonly nc: NatsConnection;
  readonly config: Config;
  readonly logger: Logger;
  readonly healthCheck: HealthCheck;
  readonly clock: Clock;
}

/** HTTP/SSE edge: wiring only; every decision is made by the services behind NATS. */
@Module({})
export class GatewayModule {
  static forRoot(deps: GatewayModuleDeps): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [WorkflowsController, ExecutionsController, ExecutionStreamController, ApprovalsController, HooksController, HealthController, MetricsController, ToolsController, AgentsController],
      providers: [
        { provide: NATS_CONNECTION, useValue: deps.nc },
        { provide: GATEWAY_CONFIG, useValue: deps.config },
        { provide: GATEWAY_LOGGER, useValue: deps.logger },
        { provide: HEALTH_CHECK, useValue: deps.healthCheck },
        { provide: CLOCK, useValue: deps.clock },
        { provide: ServicesClient, useFactory: () => new ServicesClient(new RpcClient(deps.nc, { timeoutMs: deps.config.rpcTimeoutMs })) },
        { provide: EVENT_STORE, useFactory: () => new EventStore(deps.nc, { prefix: deps.config.streamPrefix, replicas: deps.config.streamReplicas }) },
        // One live subscription per gateway process for every SSE stream; stopped by ExecutionStreamer at shutdown.
        {
          provide: EXECUTION_FEED,
          useFactory: () => new ExecutionFeed(deps.nc, { prefix: deps.config.streamPrefix, replicas: deps.config.streamReplicas, logger: deps.logger.child({ component: 'execution-feed' }) }),
        },
        ApiRequestGuard,
        ExecutionStreamer,
        StreamMetrics,
      ],
    };
  }
}
