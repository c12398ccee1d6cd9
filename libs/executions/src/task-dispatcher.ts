import { NoRespondersError, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { SUBJECTS, subjectToken, type StepTask, type TimerScheduled, type TimerTask } from '@jetflow/contracts';
import { decodeJson, encodeJson, localTasks } from '@jetflow/bus';
import { JetStreamPublisher } from '@jetflow/event-store';

/** Keys per held question (a page of runs with wide fan-outs must stay far below NATS's payload limit). */
const HELD_KEYS_PER_REQUEST = 500;

export interface TaskDispatcherOptions {
  /**
   * Hand a task to a steps worker on the same connection (all-in-one) instead of the work queue
   * when it has room (default true). The queue stays the path to every other process, and the
   * path of every re-dispatch.
   */
  readonly localDispatch?: boolean;
  /** How long {@link TaskDispatcher.held} listens for workers' answers (default 500 ms). */
  readonly heldWaitMs?: number;
  /**
   * The TASKS stream: when a run ends other than `completed`, its tasks still queued there are
   * purged (see {@link TaskDispatcher.runEnded}). Without it they stay and the workers skip them.
   */
  readonly tasksStream?: string;
}

/**
 * Publishes step tasks and timers to their JetStream work queues. Message ids make a repeat
 * (host retry, recovery sweep) a no-op inside the duplicate window. A first dispatch goes to a
 * steps worker in this process when there is one with room (no publish, delivery or ack: about a
 * third of a tool step's NATS traffic); the recovery sweep finds such a task through {@link held}.
 */
export class TaskDispatcher {
  private readonly publisher: JetStreamPublisher;
  private readonly localDispatch: boolean;
  private readonly counts = { local: 0, queued: 0, requeued: 0, redispatched: 0, timers: 0, timersRedispatched: 0 };
  private jsm?: Promise<JetStreamManager>;
  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: TaskDispatcherOptions = {},
  ) {
    this.publisher = new JetStreamPublisher(nc);
    this.localDispatch = opts.localDispatch ?? true;
  }

  static taskSubject(task: Pick<StepTask, 'execution_id' | 'idempotency_key'>): string {
    return SUBJECTS.task(task.execution_id, subjectToken(task.idempotency_key));
  }

  static timerSubject(executionId: string, timerId: string): string {
    return SUBJECTS.timer(executionId, subjectToken(timerId));
  }

  /**
   * `redispatch` (the recovery sweep's mark, e.g. the log sequence it checked) gives the copy its own
   * message id: a task that went missing after its first publish must not be dropped as a duplicate
   * of it for the whole duplicate window. Sweeps marking the same log position still dedupe.
   * A re-dispatch always goes through the queue.
   */
  async dispatchTask(task: StepTask, redispatch?: string): Promise<void> {
    if (redispatch === undefined && this.localDispatch) {
      const taken = localTasks.find(this.nc)?.tryRun(task, () => this.queueTask(task, undefined, 'requeued'));
      if (taken === 'started') this.counts.local++;
      if (taken) return;
    }
    await this.queueTask(task, redispatch, redispatch === undefined ? 'queued' : 'redispatched');
  }

  /** Publishes `task` to the work queue; a repeat the stream drops (same message id) is not counted. */
  private async queueTask(task: StepTask, redispatch: string | undefined, count: 'queued' | 'requeued' | 'redispatched'): Promise<void> {
    const msgID = `task:${task.idempotency_key}${redispatch === undefined ? '' : `:re:${redispatch}`}`;
    const ack = await this.publisher.publish(TaskDispatcher.taskSubject(task), encodeJson(task), { msgID });
    if (!ack.duplicate) this.counts[count]++;
  }

  /**
   * The run ended other than `completed`: no task of it may start any more. Every steps worker is
   * told (core NATS: it aborts the run's running handlers and skips its tasks it still holds), and
   * the run's tasks still in the work queue are purged. Both are best effort: a task that starts
   * anyway is performed and the run ignores its result.
   */
  async runEnded(executionId: string): Promise<void> {
    try {
      this.nc.publish(SUBJECTS.runEnded(executionId));
      const stream = this.opts.tasksStream;
      if (stream === undefined) return;
      // No account-info round trip first: a cancel waits for this purge.
      const jsm = await (this.jsm ??= jetstreamManager(this.nc, { checkAPI: false }));
      await jsm.streams.purge(stream, { filter: SUBJECTS.task(executionId, '*') });
    } catch {
      // Connection closing, stream unavailable: the workers skip what they heard about.
    }
  }

  async dispatchTimer(executionId: string, timer: TimerScheduled, redispatch?: string): Promise<void> {
    const msg: TimerTask = { execution_id: executionId, timer_id: timer.timer_id, fire_at: timer.fire_at };
    const msgID = `timer:${executionId}:${timer.timer_id}${redispatch === undefined ? '' : `:re:${redispatch}`}`;
    const ack = await this.publisher.publish(TaskDispatcher.timerSubject(executionId, timer.timer_id), encodeJson(msg), { msgID });
    if (!ack.duplicate) this.counts[redispatch === undefined ? 'timers' : 'timersRedispatched']++;
  }

  /**
   * Dispatches since construction (for metrics): tasks handed to a worker of this process
   * (`local`), first dispatches published to the work queue (`queued`), tasks a local worker could
   * not get recorded and handed back to the queue (`requeued`), tasks the recovery sweep published
   * again (`redispatched`), and timers published first and by the sweep. Repeats dropped as
   * duplicates are not counted.
   */
  stats(): {
    readonly local: number;
    readonly queued: number;
    readonly requeued: number;
    readonly redispatched: number;
    readonly timers: number;
    readonly timersRedispatched: number;
  } {
    return { ...this.counts };
  }

  /**
   * The idempotency keys among `keys` that a live steps worker (any process) is running right now,
   * outside the work queue. Every worker hears the question; those holding some answer with them.
   * No worker at all answers at once; otherwise it listens `heldWaitMs`. Throws when the workers
   * could not be asked (or an answer is unreadable): the caller must then assume every key is held.
   */
  async held(keys: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < keys.length; i += HELD_KEYS_PER_REQUEST) {
      try {
        const replies = await this.nc.requestMany(SUBJECTS.taskHeld, encodeJson(keys.slice(i, i + HELD_KEYS_PER_REQUEST)), { strategy: 'timer', maxWait: this.opts.heldWaitMs ?? 500 });
        for await (const m of replies) {
          const got = decodeJson<unknown>(m.data);
          if (!Array.isArray(got)) throw new Error('unreadable answer to a held request');
          for (const k of got) if (typeof k === 'string') out.add(k);
        }
      } catch (err) {
        // No worker is subscribed anywhere: none holds anything.
        if (err instanceof NoRespondersError || (err as { cause?: unknown })?.cause instanceof NoRespondersError) return out;
        throw err;
      }
    }
    return out;
  }
}
