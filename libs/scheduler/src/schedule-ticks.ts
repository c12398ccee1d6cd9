import { Cron } from 'croner';

export interface DueTicksOptions {
  /** A tick at most this old is on time; older ones were missed (nobody was up to fire them). */
  readonly graceMs: number;
  /** Whether missed ticks get one catch-up run (the latest of them). */
  readonly catchUp: boolean;
  /** Safety cap on on-time ticks returned per call. */
  readonly maxTicks?: number;
}

/**
 * The ticks of `cron` (in `timezone`) to fire now, given the last tick already fired (`after`):
 * every on-time tick in (after, now], plus, when some were missed, at most one catch-up (the latest
 * missed tick). Pure: the same inputs give the same ticks, so every replica agrees on them.
 */
export function dueTicks(cron: string, timezone: string | undefined, after: Date, now: Date, opts: DueTicksOptions): Date[] {
  const job = new Cron(cron, { paused: true, ...(timezone ? { timezone } : {}) });
  try {
    const onTimeFrom = new Date(Math.max(after.getTime(), now.getTime() - opts.graceMs));
    const ticks: Date[] = [];
    const first = job.nextRun(after);
    if (opts.catchUp && first && first.getTime() <= onTimeFrom.getTime()) {
      // Some ticks in (after, onTimeFrom] were missed: run the latest of them once.
      const latestMissed = job.previousRuns(1, new Date(onTimeFrom.getTime() + 1))[0];
      if (latestMissed && latestMissed.getTime() > after.getTime()) ticks.push(latestMissed);
    }
    const max = opts.maxTicks ?? 100;
    for (let t = job.nextRun(onTimeFrom); t && t.getTime() <= now.getTime() && ticks.length < max; t = job.nextRun(t)) ticks.push(t);
    return ticks;
  } finally {
    job.stop();
  }
}
