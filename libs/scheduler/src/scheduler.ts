import type { ScheduleTarget } from '@jetflow/contracts';
import { dueTicks } from './schedule-ticks';
import type { ScheduleMark, ScheduleStateStore } from './schedule-state.store';

export interface SchedulerLogger {
  warn(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export interface SchedulerDeps {
  /** Active schedule workflows across scopes (the workflows service, over NATS). */
  readonly listSchedules: () => Promise<readonly ScheduleTarget[]>;
  /**
   * Starts the run for one tick. Must be idempotent on (workflow, tick): the executions service
   * derives the execution id from the key `schedule:<workflow_id>:<tick ISO>`, so a second start
   * (another replica, a restart) appends nothing.
   */
  readonly fire: (target: ScheduleTarget, tick: string) => Promise<void>;
  readonly state: ScheduleStateStore;
  readonly logger?: SchedulerLogger;
  readonly clock?: () => Date;
}

export interface SchedulerOptions {
  /** One catch-up run for ticks missed while nothing was running (SCHEDULE_CATCH_UP). */
  readonly catchUp: boolean;
  /** How often the set of schedules is re-read. */
  readonly refreshMs?: number;
  /** How often due ticks are checked. */
  readonly checkMs?: number;
  /** A tick at most this late is on time (not a missed one). */
  readonly graceMs?: number;
}

interface Tracked {
  target: ScheduleTarget;
  mark?: ScheduleMark;
  busy?: boolean;
}

/**
 * Fires schedule triggers. Every replica runs one; they need no leader: each due tick is started
 * under a deterministic idempotency key, so the execution log's CAS append (expected sequence 0)
 * admits exactly one run per tick. The last fired tick per workflow lives in a KV bucket, so a
 * restart neither fires a tick again nor skips one (missed ticks collapse into one catch-up run).
 */
export class Scheduler {
  private readonly tracked = new Map<string, Tracked>();
  private refreshTimer?: NodeJS.Timeout;
  private checkTimer?: NodeJS.Timeout;
  private stopped = false;
  private checking?: Promise<void>;
  private readonly clock: () => Date;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly opts: SchedulerOptions,
  ) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async start(): Promise<void> {
    await this.refresh().catch((err) => this.deps.logger?.warn({ err }, 'schedules not loaded yet; will retry'));
    const refresh = () => {
      this.refreshTimer = setTimeout(async () => {
        await this.refresh().catch((err) => this.deps.logger?.warn({ err }, 'schedule refresh failed'));
        if (!this.stopped) refresh();
      }, this.opts.refreshMs ?? 5_000);
    };
    refresh();
    const check = () => {
      this.checkTimer = setTimeout(async () => {
        this.checking = this.check();
        await this.checking;
        if (!this.stopped) check();
      }, this.opts.checkMs ?? 200);
    };
    check();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.checkTimer);
    await this.checking;
  }

  /** Re-reads the active schedules: new ones are tracked, archived or changed-away ones dropped. */
  async refresh(): Promise<void> {
    const targets = await this.deps.listSchedules();
    const seen = new Set<string>();
    for (const target of targets) {
      seen.add(target.workflow_id);
      const t = this.tracked.get(target.workflow_id);
      if (t) t.target = target;
      else this.tracked.set(target.workflow_id, { target });
    }
    for (const id of [...this.tracked.keys()]) if (!seen.has(id)) this.tracked.delete(id);
  }

  private async check(): Promise<void> {
    await Promise.all([...this.tracked.values()].filter((t) => !t.busy).map((t) => this.checkOne(t)));
  }

  private async checkOne(t: Tracked): Promise<void> {
    t.busy = true;
    const { target } = t;
    try {
      // A schedule seen for the first time counts its ticks from when its version was saved.
      t.mark ??= await this.deps.state.getOrCreate(target.workflow_id, target.active_since);
      const after = new Date(Math.max(Date.parse(t.mark.last_tick), Date.parse(target.active_since)));
      const ticks = dueTicks(target.cron, target.timezone, after, this.clock(), { graceMs: this.opts.graceMs ?? 2_000, catchUp: this.opts.catchUp });
      for (const tick of ticks) {
        const iso = tick.toISOString();
        // Fire first, then record: a crash in between re-fires the same tick, which is a no-op.
        await this.deps.fire(target, iso);
        t.mark = await this.deps.state.advance(target.workflow_id, t.mark, iso);
      }
    } catch (err) {
      // Stale mark or an unreachable service: start over from the stored mark next time.
      t.mark = undefined;
      this.deps.logger?.warn({ err, workflow_id: target.workflow_id }, 'schedule check failed; will retry');
    } finally {
      t.busy = false;
    }
  }
}
