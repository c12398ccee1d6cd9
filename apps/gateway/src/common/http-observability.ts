import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { HttpMetrics } from '../metrics/http-metrics';

const START = Symbol('jetflowStart');
type TimedRequest = FastifyRequest & { [START]?: bigint };

/** The URL without secrets: `access_token` never reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}

/**
 * One log line and one metric sample per request: method, redacted URL, route pattern, status,
 * duration. Never bodies, never headers (Authorization stays out).
 */
export function installHttpObservability(fastify: FastifyInstance, logger: Logger, metrics: HttpMetrics): void {
  fastify.addHook('onRequest', (request: TimedRequest, _reply, done) => {
    request[START] = process.hrtime.bigint();
    done();
  });
  fastify.addHook('onResponse', (request: TimedRequest, reply, done) => {
    const seconds = request[START] === undefined ? 0 : Number(process.hrtime.bigint() - request[START]) / 1e9;
    // Route patterns, never raw URLs, as labels: ids would explode the series count.
    const route = request.routeOptions?.url ?? 'unmatched';
    const status = reply.raw.statusCode;
    metrics.observe(request.method, route, status, seconds);
    const line = { reqId: request.id, method: request.method, url: redactUrl(request.url), route, status, ms: Math.round(seconds * 1000) };
    if (status >= 500) logger.error(line, 'request');
    else logger.info(line, 'request');
    done();
  });
}
