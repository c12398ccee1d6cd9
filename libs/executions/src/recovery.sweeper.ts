import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { stepKey, type IterationPath, type StepTask } from '@jetflow/contracts';
import type { ExecutionState } from '@jetflow/engine';
import { buildStepTask, liveTimers, outstandingTasks } from '@jetflow/engine';
import type { ExecutionActorHost, HostLogger } from './execution-actor.host';
import { TaskDispatcher } from './task-dispatcher';

const SUSPECT_TTL_MS = 30 * 60_000;

/** An outstanding task of a run that no work queue holds. */
interface MissingTask {
  readonly id: string;
  readonly run: { readonly step_id: string; readonly iteration?: IterationPath; readonly attempt: number; readonly chat_turn?: number };
  readonly task: StepTask;
}

/** A run that is not finished, as the read model has it. */
export interface ActiveRun {
  readonly id: string;
  /** The read model's `updated_at` as it stores it (full precision: a page resumes exactly after it). */
  readonly updated_at: string;
  /** The last log sequence the read model has seen for the run. */
  readonly last_seq: number;
}

/** One page of active runs, oldest `updated_at` first (ties by id), strictly after `after`. */
export interface ActivePageRequest {
  /** Only runs updated at or after this time (a recent pass); none: every active run (a full pass). */
  readonly since?: Date;
  readonly after?: ActiveRun;
  readonly limit: number;
}

export interface RecoverySweeperOptions {
  readonly tasksStream: string;
  readonly timersStream: string;
  /** Runs not finished and not updated in the last seconds (from the read model), a page at a time. */
  readonly listActive: (page: ActivePageRequest) => Promise<readonly ActiveRun[]>;
  /** Between passes (default 5 s). */
  readonly intervalMs?: number;
  /**
   * A pass looks at runs updated within this window (default 10 min): a task or timer lost at
   * an append is found by the next pass after it. The first pass and one every `fullPassEveryMs`
   * look at every active run (a process down for longer than the window, a projection behind).
   */
  readonly recentWindowMs?: number;
  /** Default: `recentWindowMs`. */
  readonly fullPassEveryMs?: number;
  /** Runs per page (default 500). */
  readonly pageSize?: number;
  /**
   * Most runs a pass reads from the log (not cached here, or cached behind the read model; default
   * 2,000). A pass that reaches it stops there and the next one goes on from that run: a replica
   * that has few of many waiting runs cached spreads their reads over several passes.
   */
  readonly maxLogReadsPerPass?: number;
  readonly logger?: HostLogger;
}

/**
 * Closes the one gap between an append and its task/timer publish (a crash in between): for every
 * running execution, a task or timer the log says is outstanding but that is not on its work queue
 * is published again. "Not on the queue" is checked before the log is checked again; workers append
 * the result before they ack, so a task that vanished because it finished shows up as done in the log.
 * A task a worker took straight from its own process's host is on no queue while it runs: the
 * workers are asked which of a page's missing tasks they hold ({@link TaskDispatcher.held}), and
 * only the others are published again.
 *
 * A pass pages through the runs updated recently, and every `fullPassEveryMs` through all active
 * ones: thousands of runs waiting days for a person cost one index scan, not a log read each, every
 * few seconds. A run's state comes from the host's cache, without I/O, when the read model has seen
 * nothing newer; otherwise from the log, at most `maxLogReadsPerPass` runs a pass.
 */
export class RecoverySweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private jsm?: Promise<JetStreamManager>;
  private lastFullPass = -Infinity;
  /** Tasks found on no queue and held by no worker, with the log position then: published again if a later pass finds the same. */
  private readonly suspects = new Map<string, { readonly seq: number; readonly at: number }>();
  /** A pass that stopped at its read budget: the next one goes on after `after`. */
  private resume?: { readonly full: boolean; readonly since?: Date; readonly startedAt: number; readonly after: ActiveRun };
  private readonly counts = { passes: 0, failures: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly host: ExecutionActorHost,
    private readonly dispatcher: TaskDispatcher,
    private readonly opts: RecoverySweeperOptions,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.sweepOnce()
        .then(() => undefined)
        .catch((err) => this.opts.logger?.warn({ err }, 'recovery sweep failed'))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.opts.intervalMs ?? 5_000);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
  }

  /** Passes that ended and passes that failed since construction (what they published again: the dispatcher's `redispatched`). For metrics. */
  stats(): { readonly passes: number; readonly failures: number } {
    return { ...this.counts };
  }

  /** One pass (a full one when due, or the rest of one that hit its read budget); resolves with the number of tasks and timers published again. */
  async sweepOnce(now = Date.now()): Promise<number> {
    try {
      const republished = await this.pass(now);
      this.counts.passes++;
      return republished;
    } catch (err) {
      this.counts.failures++;
      throw err;
    }
  }

  private async pass(now: number): Promise<number> {
    const window = this.opts.recentWindowMs ?? 10 * 60_000;
    const full = this.resume?.full ?? now - this.lastFullPass >= (this.opts.fullPassEveryMs ?? window);
    const since = this.resume ? this.resume.since : full ? undefined : new Date(now - window);
    const startedAt = this.resume?.startedAt ?? now;
    let after = this.resume?.after;
    this.resume = undefined;
    const limit = this.opts.pageSize ?? 500;
    const budget = this.opts.maxLogReadsPerPass ?? 2_000;
    let reads = 0;
    let republished = 0;
    pages: for (;;) {
      const page = await this.opts.listActive({ ...(since ? { since } : {}), ...(after ? { after } : {}), limit });
      const missing: MissingTask[] = [];
      for (const run of page) {
        // A cached actor at (or past) the sequence the read model has seen needs no I/O. A newer
        // append (another replica's) shows up in the read model and so in a later pass.
        const cached = this.host.peekActor(run.id);
        const current = cached && cached.seq >= run.last_seq ? cached : undefined;
        if (!current && reads++ >= budget) {
          if (after) this.resume = { full, ...(since ? { since } : {}), startedAt, after };
          republished += await this.redispatch(missing);
          break pages;
        }
        const swept = await this.sweepRun(run.id, current);
        republished += swept.timers;
        missing.push(...swept.missing);
        after = run;
      }
      republished += await this.redispatch(missing);
      if (page.length < limit) break;
    }
    if (full && !this.resume) this.lastFullPass = startedAt;
    this.forgetOldSuspects(now);
    if (republished) this.opts.logger?.warn({ republished }, 'recovery sweep re-dispatched lost work');
    return republished;
  }

  /** Re-publishes lost timers at once; returns the outstanding tasks that are on no work queue. */
  private async sweepRun(id: string, current: { readonly state: ExecutionState } | undefined): Promise<{ timers: number; missing: MissingTask[] }> {
    let timers = 0;
    const missing: MissingTask[] = [];
    const { state } = current ?? (await this.host.load(id));
    for (const run of outstandingTasks(state)) {
      const task = buildStepTask(state, run);
      if (!(await this.queued(this.opts.tasksStream, TaskDispatcher.taskSubject(task)))) missing.push({ id, run, task });
    }
    for (const timer of liveTimers(state)) {
      if (await this.queued(this.opts.timersStream, TaskDispatcher.timerSubject(id, timer.timer_id))) continue;
      const latest = await this.host.load(id);
      if (!liveTimers(latest.state).some((t) => t.timer_id === timer.timer_id)) continue;
      await this.dispatcher.dispatchTimer(id, timer, String(latest.seq));
      timers++;
    }
    return { timers, missing };
  }

  /**
   * Tasks on no queue: those a live worker runs outside the queue (taken from its own process's
   * host) are left alone. The rest are published again only when an earlier pass also found them
   * missing and not held at the same log position (an answer lost to a stall or a reconnect must
   * not run a live task twice), they are still not on the queue (a worker hands a task it could
   * not get recorded back to the queue before it lets go of it), and the log still has the step
   * running at that attempt and chat turn. If the workers cannot be asked, nothing is published.
   */
  private async redispatch(missing: readonly MissingTask[]): Promise<number> {
    if (!missing.length) return 0;
    let held: Set<string>;
    try {
      held = await this.dispatcher.held(missing.map((m) => m.task.idempotency_key));
    } catch (err) {
      this.opts.logger?.warn({ err }, 'recovery sweep could not ask the workers which tasks they hold; trying again next pass');
      return 0;
    }
    let republished = 0;
    for (const { id, run, task } of missing) {
      const key = task.idempotency_key;
      if (held.has(key)) {
        this.suspects.delete(key);
        continue;
      }
      const latest = await this.host.load(id);
      const fresh = latest.state.steps.get(stepKey(run.step_id, run.iteration));
      if (fresh?.status !== 'running' || fresh.attempt !== run.attempt || fresh.chat_turn !== run.chat_turn) {
        this.suspects.delete(key);
        continue;
      }
      const seen = this.suspects.get(key);
      if (seen?.seq !== latest.seq) {
        this.suspects.set(key, { seq: latest.seq, at: Date.now() });
        continue;
      }
      if (await this.queued(this.opts.tasksStream, TaskDispatcher.taskSubject(task))) continue;
      this.suspects.delete(key);
      await this.dispatcher.dispatchTask(task, String(latest.seq));
      republished++;
    }
    return republished;
  }

  /** Forgets suspects no pass has looked at for a while (their runs finished or moved on). */
  private forgetOldSuspects(now: number): void {
    for (const [key, s] of this.suspects) if (now - s.at > SUSPECT_TTL_MS) this.suspects.delete(key);
  }

  private async queued(stream: string, subject: string): Promise<boolean> {
    this.jsm ??= jetstreamManager(this.nc);
    try {
      const msg = await (await this.jsm).streams.getMessage(stream, { last_by_subj: subject });
      return msg !== null && msg !== undefined;
    } catch {
      return false;
    }
  }
}
