import { register, type Metric } from 'prom-client';

export type Labels = Record<string, string>;
/** Label set → value, as read from a source when `/metrics` is scraped. */
export type Samples = Iterable<readonly [Labels, number]>;

/** A histogram's state as its source keeps it: cumulative counts per upper bound, total count and sum. */
export interface HistogramSample {
  readonly bounds: readonly number[];
  readonly cumulative: readonly number[];
  readonly count: number;
  readonly sum: number;
}

interface MetricValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * Registers in prom-client's default registry a metric whose values the source keeps (plain numbers,
 * nothing on the hot path) and `values` reads when scraped. prom-client's registry only calls a
 * metric's `get()` (and `reset()`): a plain object is enough. Registered once per process: a second
 * call with the same name is a no-op.
 */
function registerScraped(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => MetricValue[]): void {
  if (register.getSingleMetric(name)) return;
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    // The registry may rename a counter (OpenMetrics): read the name when scraped.
    get: () => ({ name: metric.name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  };
  register.registerMetric(metric as unknown as Metric);
}

const plain = (read: () => Samples) => (): MetricValue[] => Array.from(read(), ([labels, value]) => ({ labels, value }));

/** A counter whose values the source keeps and `read` returns when scraped. */
export function scrapedCounter(name: string, help: string, read: () => Samples): void {
  registerScraped(name, help, 'counter', plain(read));
}

/** As {@link scrapedCounter}, for a value that goes up and down. */
export function scrapedGauge(name: string, help: string, read: () => Samples): void {
  registerScraped(name, help, 'gauge', plain(read));
}

/**
 * A histogram whose buckets the source keeps (see `DurationHistogram`) and `read` returns when
 * scraped: `<name>_bucket{le}`, `<name>_sum`, `<name>_count` per label set, as prom-client's own
 * Histogram writes them.
 */
export function scrapedHistogram(name: string, help: string, read: () => Iterable<readonly [Labels, HistogramSample]>): void {
  registerScraped(name, help, 'histogram', () => {
    const values: MetricValue[] = [];
    for (const [labels, h] of read()) {
      h.bounds.forEach((le, i) => values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: h.cumulative[i] ?? 0 }));
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
      values.push({ metricName: `${name}_sum`, labels, value: h.sum });
      values.push({ metricName: `${name}_count`, labels, value: h.count });
    }
    return values;
  });
}
