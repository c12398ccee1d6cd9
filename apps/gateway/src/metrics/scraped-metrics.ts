import { Counter, Gauge, register, type Metric } from 'prom-client';

export type Labels = Record<string, string>;
/** Label set → value, as read from a source when `/metrics` is scraped. */
export type Samples = Iterable<readonly [Labels, number]>;

/**
 * A counter in prom-client's default registry whose values the source keeps (plain integers, nothing
 * on the hot path) and `read` returns when scraped. Registered once per process: a second call with
 * the same name is a no-op.
 */
export function scrapedCounter(name: string, help: string, labelNames: string[], read: () => Samples): void {
  if (register.getSingleMetric(name)) return;
  new Counter({
    name,
    help,
    labelNames,
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/** As {@link scrapedCounter}, for a value that goes up and down. */
export function scrapedGauge(name: string, help: string, labelNames: string[], read: () => Samples): void {
  if (register.getSingleMetric(name)) return;
  new Gauge({
    name,
    help,
    labelNames,
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

/** A histogram's state as its source keeps it: cumulative counts per upper bound, total count and sum. */
export interface HistogramSample {
  readonly bounds: readonly number[];
  readonly cumulative: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/**
 * A histogram in prom-client's default registry whose buckets the source keeps (see
 * `DurationHistogram`) and `read` returns when scraped: `<name>_bucket{le}`, `<name>_sum`,
 * `<name>_count` per label set, as prom-client's own Histogram writes them. Registered once per
 * process.
 */
export function scrapedHistogram(name: string, help: string, read: () => Iterable<readonly [Labels, HistogramSample]>): void {
  if (register.getSingleMetric(name)) return;
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: () => {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [labels, h] of read()) {
        h.bounds.forEach((le, i) => values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: h.cumulative[i] ?? 0 }));
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
        values.push({ metricName: `${name}_sum`, labels, value: h.sum });
        values.push({ metricName: `${name}_count`, labels, value: h.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset: () => undefined,
  };
  register.registerMetric(metric as unknown as Metric);
}
