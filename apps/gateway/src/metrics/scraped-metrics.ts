import { Counter, Gauge, register } from 'prom-client';

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
