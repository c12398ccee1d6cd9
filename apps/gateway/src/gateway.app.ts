import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Config } from '@jetflow/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { installHttpObservability } from './common/http-observability';
import { installJsonBodyParser } from './common/json-body.parser';
import { JetflowExceptionFilter } from './common/jetflow-exception.filter';
import { PinoNestLogger } from './common/pino-nest.logger';
import { GatewayModule } from './gateway.module';
import type { Clock, HealthCheck } from './gateway.tokens';
import { httpMetrics } from './metrics/http-metrics';

export interface GatewayDeps {
  readonly nc: NatsConnection;
  readonly config: Config;
  readonly logger?: Logger;
  /** Database reachability for `/health`; absent means the gateway has no database to check. */
  readonly healthCheck?: () => Promise<boolean>;
  /** Timestamps of `connected` / `heartbeat` SSE messages. */
  readonly clock?: Clock;
}

/**
 * Builds the gateway (routes, filter, body parsing, logging, metrics) on Fastify, initialized but
 * not listening: call `app.listen({ port: config.port, host: config.host })`. `app.close()` ends
 * open SSE streams and deletes their consumers; the NATS connection stays the caller's to close.
 */
export async function createGatewayApp(deps: GatewayDeps): Promise<NestFastifyApplication> {
  const logger = deps.logger ?? pino({ level: deps.config.logLevel, name: 'gateway' });
  const healthCheck: HealthCheck = deps.healthCheck ?? (async () => true);
  const adapter = new FastifyAdapter({
    bodyLimit: deps.config.bodyLimitBytes,
    // Open SSE connections must not hold up shutdown.
    forceCloseConnections: true,
    logger: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forRoot({ nc: deps.nc, config: deps.config, logger, healthCheck, clock: deps.clock ?? (() => new Date()) }),
    adapter,
    { bodyParser: false, logger: new PinoNestLogger(logger.child({ component: 'nest' })), abortOnError: false },
  );
  const fastify = app.getHttpAdapter().getInstance();
  installJsonBodyParser(fastify, deps.config.bodyLimitBytes);
  installHttpObservability(fastify, logger, httpMetrics());
  app.useGlobalFilters(new JetflowExceptionFilter(logger));
  await app.init();
  return app;
}
