import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { HttpMetrics } from '../metrics/http-metrics';

const START = Symbol('jetflowStart');
type TimedRequest = FastifyRequest & { [START]?: bigint };

/**
 * The URL without secrets: the value of `access_token` never reaches a log line, however the key
 * is spelt (any case, percent-encoded as in `access%5Ftoken`, which the query parser decodes and
 * the auth then accepts). The whole value goes, up to the next `&`.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const pairs = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const key = pair.slice(0, eq);
      return looseDecode(key).toLowerCase() === 'access_token' ? `${key}=[redacted]` : pair;
    });
  return `${url.slice(0, q + 1)}${pairs.join('&')}`;
}

/** Percent escapes and `+` decoded one byte at a time (never throws on malformed input). */
function looseDecode(s: string): string {
  return s.replace(/\+/g, ' ').replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
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
