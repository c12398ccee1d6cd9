import { AckPolicy, jetstream, jetstreamManager, JetStreamApiError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import { SUBJECTS, toErrorBody, type ExecutionCommand, type StepTask } from '@jetflow/contracts';
import { decodeJson, encodeJson, localTasks, RpcClient, type LocalTaskRunner } from '@jetflow/bus';
import { SecretsByScope, type OutboundPolicy, type ScopedSecrets, type ToolsDeps } from '@jetflow/tools';
import type { HandlerContext, HandlerOutcome, StepHandlers, StreamAppender } from './step-handler';
import { DurationHistogram, type DurationSnapshot } from './duration-histogram';

/** How many ended runs a worker remembers, to skip their tasks it still receives. */
const ENDED_RUNS_KEPT = 10_000;

export interface WorkerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface StepTaskWorkerOptions {
  readonly tasksStream: string;
  readonly durableName?: string;
  readonly concurrency?: number;
  readonly ackWaitMs?: number;
  /** Secrets every scope may name (`SECRETS`). */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Secrets only runs of one organization or project may name (`SCOPED_SECRETS`). */
  readonly scopedSecrets?: ScopedSecrets;
  readonly allowPrivateNetworks?: boolean;
  /** Outbound policy (host lists) for api_call; `allowPrivateNetworks` fills it when absent. */
  readonly outbound?: OutboundPolicy;
  readonly tools?: ToolsDeps;
  /** Where handlers append stream-only events (the execution log's `deltas` subject). */
  readonly stream?: StreamAppender;
  readonly maxResponseBytes?: number;
  readonly logger?: WorkerLogger;
  readonly clock?: () => Date;
  /**
   * Take tasks from an actor host on the same connection directly (default true): see
   * `localTasks`. Such a task shares the concurrency limit with queued ones.
   */
  readonly localDispatch?: boolean;
}

/**
 * Takes step tasks from the TASKS work queue (one durable consumer shared by every replica),
 * performs them and reports the outcome to the execution actor. The message is acked only after
 * the actor recorded the result, so a crash anywhere before that redelivers the task.
 *
 * It also takes tasks straight from an actor host in this process (`localTasks`). Such a task is
 * in the log (the step's start) but on no queue: the worker answers "held" for it on
 * `SUBJECTS.taskHeld` until its result is recorded, so the recovery sweep leaves it alone while it
 * runs and re-dispatches it through the queue if this process dies. A result the actor did not
 * record goes back through the queue (`requeue`), as a queued task would be redelivered.
 */
export class StepTaskWorker implements LocalTaskRunner {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private readonly inflight = new Set<Promise<void>>();
  /** Idempotency keys of tasks taken from a local actor host and not yet recorded or requeued. */
  private readonly held = new Set<string>();
  private heldSub?: Subscription;
  /** One per task in its handler, by execution: aborted when the run ends (or the worker stops). */
  private readonly aborts = new Map<string, Set<AbortController>>();
  private endedSub?: Subscription;
  /** Runs heard to have ended other than `completed`, oldest first (bounded): their tasks are skipped. */
  private readonly ended = new Set<string>();
  private readonly rpc: RpcClient;
  private readonly durable: string;
  private readonly concurrency: number;
  /** Tasks in their handler (not waiting for the actor to record the result): what `concurrency` limits. */
  private performing = 0;
  /** Outcomes since start, per `<step_type> <outcome>` (for metrics). */
  private readonly outcomes = new Map<string, number>();
  /** Handler durations since start, per `<step_type> <completed|failed>` (for metrics). */
  private readonly durations = new Map<string, DurationHistogram>();
  /** Queued messages waiting for a free handler slot: they go before tasks from the local host. */
  private readonly slotWaiters: (() => void)[] = [];
  private accepting = false;
  private readonly secrets: SecretsByScope;

  constructor(
    private readonly nc: NatsConnection,
    private readonly handlers: StepHandlers,
    private readonly opts: StepTaskWorkerOptions,
  ) {
    this.rpc = new RpcClient(nc, { timeoutMs: 10_000 });
    this.durable = opts.durableName ?? 'jetflow-steps';
    this.concurrency = opts.concurrency ?? 64;
    this.secrets = new SecretsByScope(opts.secrets ?? {}, opts.scopedSecrets ?? {});
  }

  async start(): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const config = {
      durable_name: this.durable,
      ack_policy: AckPolicy.Explicit,
      // Short: a task held by a crashed worker comes back within seconds; live work extends it (working()).
      ack_wait: nanos(this.opts.ackWaitMs ?? 10_000),
      max_deliver: -1,
      max_ack_pending: 10_000,
    };
    try {
      await jsm.consumers.add(this.opts.tasksStream, config);
    } catch (err) {
      if (!(err instanceof JetStreamApiError)) throw err;
      await jsm.consumers.update(this.opts.tasksStream, this.durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    }
    const consumer = await jetstream(this.nc).consumers.get(this.opts.tasksStream, this.durable);
    this.messages = await consumer.consume({ max_messages: this.concurrency });
    this.loop = (async () => {
      for await (const msg of this.messages!) {
        while (this.performing >= this.concurrency) await new Promise<void>((r) => this.slotWaiters.push(r));
        this.track(this.process(msg));
      }
    })();
    this.heldSub = this.nc.subscribe(SUBJECTS.taskHeld, {
      callback: (err, m) => {
        if (err || !m.reply) return;
        let keys: unknown;
        try {
          keys = decodeJson<unknown>(m.data);
        } catch {
          return;
        }
        const mine = Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string' && this.held.has(k)) : [];
        if (mine.length) m.respond(encodeJson(mine));
      },
    });
    this.endedSub = this.nc.subscribe(SUBJECTS.allRunsEnded, {
      callback: (err, m) => {
        if (err) return;
        const executionId = m.subject.split('.')[3] ?? '';
        this.ended.add(executionId);
        if (this.ended.size > ENDED_RUNS_KEPT) this.ended.delete(this.ended.values().next().value!);
        for (const ac of this.aborts.get(executionId) ?? []) ac.abort(new Error('the execution ended'));
      },
    });
    this.accepting = true;
    if (this.opts.localDispatch ?? true) localTasks.register(this.nc, this);
  }

  async stop(): Promise<void> {
    this.accepting = false;
    localTasks.unregister(this.nc, this);
    this.messages?.stop();
    for (const set of this.aborts.values()) for (const ac of set) ac.abort(new Error('worker stopping'));
    this.endedSub?.unsubscribe();
    await this.loop?.catch(() => undefined);
    await Promise.allSettled([...this.inflight]);
    this.heldSub?.unsubscribe();
  }

  tryRun(task: StepTask, requeue: () => Promise<void>): 'started' | 'running' | false {
    const key = task.idempotency_key;
    if (this.held.has(key)) return 'running'; // a repeat, as the queue's msg id would drop it
    // Handlers running, not tasks in flight: a task stays in flight while the actor records its
    // result, which is also when the actor hands over the next step's task. A queued message
    // waiting for a slot goes first (its ack wait is running).
    if (!this.accepting || this.slotWaiters.length > 0 || this.performing >= this.concurrency) return false;
    this.held.add(key);
    this.track(
      this.report(task)
        .then((recorded) => (recorded ? undefined : requeue()))
        .catch((err) => this.opts.logger?.error({ err: toErrorBody(err), execution_id: task.execution_id, step_id: task.step_id }, 'step task not requeued; the recovery sweep will re-dispatch it'))
        .finally(() => this.held.delete(key)),
    );
    return 'started';
  }

  private track(p: Promise<void>): void {
    const tracked = p.finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private async process(msg: JsMsg): Promise<void> {
    let task: StepTask;
    try {
      task = decodeJson<StepTask>(msg.data);
    } catch {
      msg.term();
      return;
    }
    const keepAlive = setInterval(() => msg.working(), Math.max(1_000, (this.opts.ackWaitMs ?? 10_000) / 3));
    try {
      if (await this.report(task)) msg.ack();
      else msg.nak(1_000);
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Performs `task` and reports its outcome to the actor; false when the actor did not record it. */
  private async report(task: StepTask): Promise<boolean> {
    if (this.ended.has(task.execution_id)) {
      // Cancelled (or failed, timed out) while the task waited: nothing may start for it any more.
      this.count(task.step_type, 'skipped');
      return true;
    }
    try {
      const started = performance.now();
      const outcome = await this.perform(task);
      this.time(task.step_type, outcome.ok ? 'completed' : 'failed', (performance.now() - started) / 1000);
      const now = (this.opts.clock?.() ?? new Date()).toISOString();
      const base = {
        step_id: task.step_id,
        ...(task.iteration ? { iteration: task.iteration } : {}),
        attempt: task.attempt,
        ...(task.chat_turn ? { chat_turn: task.chat_turn } : {}),
        now,
        ...(outcome.journal?.length ? { journal: outcome.journal } : {}),
      };
      const command: ExecutionCommand = outcome.ok
        ? { type: 'CompleteStep', ...base, output: outcome.output }
        : {
            type: 'FailStep',
            ...base,
            error: outcome.error,
            retryable: outcome.retryable,
            rand: Math.random(),
            ...(outcome.retry_after_seconds !== undefined ? { retry_after_seconds: outcome.retry_after_seconds } : {}),
          };
      await this.rpc.request('executions', 'command', { execution_id: task.execution_id, command });
      this.count(task.step_type, outcome.ok ? 'completed' : 'failed');
      return true;
    } catch (err) {
      this.count(task.step_type, 'not_recorded');
      // The actor did not record the result (down, busy): the task runs again later.
      this.opts.logger?.warn({ err: toErrorBody(err), execution_id: task.execution_id, step_id: task.step_id }, 'step result not recorded; will redeliver');
      return false;
    }
  }

  /**
   * Handlers running now, tasks held outside the queue (taken from this process's actor host), and
   * results since start by step type: `completed` / `failed` (recorded by the actor),
   * `not_recorded` (the task runs again) or `skipped` (its run had ended before it started), and
   * how long the handlers took by step type and outcome (`completed` / `failed`, as the handler
   * returned it). For metrics.
   */
  stats(): {
    readonly running: number;
    readonly held: number;
    readonly results: readonly { step_type: string; outcome: string; count: number }[];
    readonly durations: readonly { step_type: string; outcome: string; histogram: DurationSnapshot }[];
  } {
    const results = [...this.outcomes].map(([key, count]) => ({ ...splitKey(key), count }));
    const durations = [...this.durations].map(([key, h]) => ({ ...splitKey(key), histogram: h.snapshot() }));
    return { running: this.performing, held: this.held.size, results, durations };
  }

  private time(stepType: string, outcome: 'completed' | 'failed', seconds: number): void {
    const key = `${stepType} ${outcome}`;
    let h = this.durations.get(key);
    if (!h) this.durations.set(key, (h = new DurationHistogram()));
    h.observe(seconds);
  }

  private count(stepType: string, outcome: 'completed' | 'failed' | 'not_recorded' | 'skipped'): void {
    const key = `${stepType} ${outcome}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  private async perform(task: StepTask): Promise<HandlerOutcome> {
    this.performing++;
    try {
      return await this.performOnce(task);
    } finally {
      this.performing--;
      this.slotWaiters.shift()?.();
    }
  }

  private async performOnce(task: StepTask): Promise<HandlerOutcome> {
    const handler = this.handlers[task.step_type];
    if (!handler) return { ok: false, error: { code: 'VALIDATION_ERROR', message: `no worker handles ${task.step_type}` }, retryable: false };
    const o = this.opts;
    // The run's own secrets: the shared ones plus its organization's and project's, never another's.
    const secrets = this.secrets.for(task.scope);
    const tools = o.tools && this.secrets.scoped ? { ...o.tools, secrets } : o.tools;
    const abort = new AbortController();
    let running = this.aborts.get(task.execution_id);
    if (!running) this.aborts.set(task.execution_id, (running = new Set()));
    running.add(abort);
    const ctx: HandlerContext = {
      signal: abort.signal,
      secrets,
      allowPrivateNetworks: o.allowPrivateNetworks ?? true,
      ...(o.outbound ? { outbound: o.outbound } : {}),
      ...(tools ? { tools } : {}),
      ...(o.stream ? { stream: o.stream } : {}),
      ...(o.maxResponseBytes ? { maxResponseBytes: o.maxResponseBytes } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
    };
    try {
      return await handler(task, ctx);
    } catch (err) {
      return { ok: false, error: toErrorBody(err, 'TOOL_ERROR'), retryable: true };
    } finally {
      running.delete(abort);
      if (!running.size) this.aborts.delete(task.execution_id);
    }
  }
}

/** `<step_type> <outcome>` → its parts. */
function splitKey(key: string): { step_type: string; outcome: string } {
  const [step_type = '', outcome = ''] = key.split(' ');
  return { step_type, outcome };
}
