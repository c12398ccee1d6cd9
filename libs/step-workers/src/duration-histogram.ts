/** Upper bounds (seconds) of the step-duration buckets: from a no-op tool to a long agent turn. */
export const STEP_DURATION_BOUNDS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** A histogram's state: cumulative counts per upper bound (`le`), then the total count and sum. */
export interface DurationSnapshot {
  readonly bounds: readonly number[];
  /** `cumulative[i]`: observations ≤ `bounds[i]`. */
  readonly cumulative: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/**
 * Fixed-bucket durations kept as plain numbers: `observe` is a short scan and two additions on the
 * hot path; metrics read a {@link DurationSnapshot} when scraped.
 */
export class DurationHistogram {
  private readonly counts: number[];
  private count = 0;
  private sum = 0;

  constructor(private readonly bounds: readonly number[] = STEP_DURATION_BOUNDS) {
    this.counts = bounds.map(() => 0);
  }

  observe(seconds: number): void {
    if (!(seconds >= 0)) return;
    this.count++;
    this.sum += seconds;
    const i = this.bounds.findIndex((b) => seconds <= b);
    if (i >= 0) this.counts[i]!++;
  }

  snapshot(): DurationSnapshot {
    let running = 0;
    const cumulative = this.counts.map((n) => (running += n));
    return { bounds: this.bounds, cumulative, count: this.count, sum: this.sum };
  }
}
