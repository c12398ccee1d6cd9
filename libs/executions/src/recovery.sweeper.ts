import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { stepKey } from '@jetflow/contracts';
import { buildStepTask, liveTimers, outstandingTasks } from '@jetflow/engine';
import type { ExecutionActorHost, HostLogger } from './execution-actor.host';
import { TaskDispatcher } from './task-dispatcher';

export interface RecoverySweeperOptions {
  readonly tasksStream: string;
  readonly timersStream: string;
  /** Non-terminal executions not updated for a while (from the read model). */
  readonly listActive: () => Promise<readonly string[]>;
  readonly intervalMs?: number;
  readonly logger?: HostLogger;
}

/**
 * Closes the one gap between an append and its task/timer publish (a crash in between): for every
 * running execution, a task or timer the log says is outstanding but that is not on its work queue
 * is published again. "Not on the queue" is checked before re-reading the log; workers append the
 * result before they ack, so a task that vanished because it finished shows up as done in the log.
 */
export class RecoverySweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private jsm?: Promise<JetStreamManager>;

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

  async sweepOnce(): Promise<number> {
    let republished = 0;
    for (const id of await this.opts.listActive()) {
      this.host.forget(id);
      const { state } = await this.host.load(id);
      for (const run of outstandingTasks(state)) {
        const task = buildStepTask(state, run);
        if (await this.queued(this.opts.tasksStream, TaskDispatcher.taskSubject(task))) continue;
        this.host.forget(id);
        const latest = await this.host.load(id);
        const fresh = latest.state.steps.get(stepKey(run.step_id, run.iteration));
        if (fresh?.status !== 'running' || fresh.attempt !== run.attempt) continue;
        await this.dispatcher.dispatchTask(task, String(latest.seq));
        republished++;
      }
      for (const timer of liveTimers(state)) {
        if (await this.queued(this.opts.timersStream, TaskDispatcher.timerSubject(id, timer.timer_id))) continue;
        this.host.forget(id);
        const latest = await this.host.load(id);
        if (!liveTimers(latest.state).some((t) => t.timer_id === timer.timer_id)) continue;
        await this.dispatcher.dispatchTimer(id, timer, String(latest.seq));
        republished++;
      }
    }
    if (republished) this.opts.logger?.warn({ republished }, 'recovery sweep re-dispatched lost work');
    return republished;
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
