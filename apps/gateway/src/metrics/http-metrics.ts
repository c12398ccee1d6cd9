import { collectDefaultMetrics, Counter, Histogram, register } from 'prom-client';

/**
 * HTTP metrics in prom-client's default registry. Several apps in one process (tests, the
 * all-in-one entry) share the same series instead of registering them twice.
 */
export interface HttpMetrics {
  observe(method: string, route: string, status: number, seconds: number): void;
}

export function httpMetrics(): HttpMetrics {
  if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
  const requests =
    (register.getSingleMetric('jetflow_http_requests_total') as Counter<'method' | 'route' | 'status'> | undefined) ??
    new Counter({ name: 'jetflow_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] });
  const duration =
    (register.getSingleMetric('jetflow_http_request_duration_seconds') as Histogram<'method' | 'route' | 'status'> | undefined) ??
    new Histogram({
      name: 'jetflow_http_request_duration_seconds',
      help: 'HTTP request duration by route and status (SSE: whole stream)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60],
    });
  return {
    observe(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
}
