import { AckPolicy, jetstream, jetstreamManager, JetStreamApiError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import { toErrorBody, type ExecutionCommand, type StepTask } from '@jetflow/contracts';
import { decodeJson, RpcClient } from '@jetflow/bus';
import type { OutboundPolicy, ToolsDeps } from '@jetflow/tools';
import type { HandlerContext, HandlerOutcome, StepHandlers, StreamAppender } from './step-handler';

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
  readonly secrets?: Readonly<Record<string, string>>;
  readonly allowPrivateNetworks?: boolean;
  /** Outbound policy (host lists) for api_call; `allowPrivateNetworks` fills it when absent. */
  readonly outbound?: OutboundPolicy;
  readonly tools?: ToolsDeps;
  /** Where handlers append stream-only events (the execution log's `deltas` subject). */
  readonly stream?: StreamAppender;
  readonly maxResponseBytes?: number;
  readonly logger?: WorkerLogger;
  readonly clock?: () => Date;
}

/**
 * Takes step tasks from the TASKS work queue (one durable consumer shared by every replica),
 * performs them and reports the outcome to the execution actor. The message is acked only after
 * the actor recorded the result, so a crash anywhere before that redelivers the task.
 */
export class StepTaskWorker {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private readonly inflight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly rpc: RpcClient;
  private readonly durable: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly handlers: StepHandlers,
    private readonly opts: StepTaskWorkerOptions,
  ) {
    this.rpc = new RpcClient(nc, { timeoutMs: 10_000 });
    this.durable = opts.durableName ?? 'jetflow-steps';
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
    const concurrency = this.opts.concurrency ?? 64;
    this.messages = await consumer.consume({ max_messages: concurrency });
    this.loop = (async () => {
      for await (const msg of this.messages!) {
        while (this.inflight.size >= concurrency) await Promise.race(this.inflight);
        const p = this.process(msg).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      }
    })();
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    this.abort.abort();
    await this.loop?.catch(() => undefined);
    await Promise.allSettled([...this.inflight]);
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
      const outcome = await this.perform(task);
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
      msg.ack();
    } catch (err) {
      // The actor did not record the result (down, busy): redeliver later.
      this.opts.logger?.warn({ err: toErrorBody(err), execution_id: task.execution_id, step_id: task.step_id }, 'step result not recorded; will redeliver');
      msg.nak(1_000);
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async perform(task: StepTask): Promise<HandlerOutcome> {
    const handler = this.handlers[task.step_type];
    if (!handler) return { ok: false, error: { code: 'VALIDATION_ERROR', message: `no worker handles ${task.step_type}` }, retryable: false };
    const o = this.opts;
    const ctx: HandlerContext = {
      signal: this.abort.signal,
      secrets: o.secrets ?? {},
      allowPrivateNetworks: o.allowPrivateNetworks ?? true,
      ...(o.outbound ? { outbound: o.outbound } : {}),
      ...(o.tools ? { tools: o.tools } : {}),
      ...(o.stream ? { stream: o.stream } : {}),
      ...(o.maxResponseBytes ? { maxResponseBytes: o.maxResponseBytes } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
    };
    try {
      return await handler(task, ctx);
    } catch (err) {
      return { ok: false, error: toErrorBody(err, 'TOOL_ERROR'), retryable: true };
    }
  }
}
