import { AckPolicy, jetstream, jetstreamManager, JetStreamApiError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import { toErrorBody, type TimerTask } from '@jetflow/contracts';
import { decodeJson, RpcClient } from '@jetflow/bus';
import type { WorkerLogger } from './step-task.worker';

/** Longest single nak delay: a far timer is re-checked at this pace (survives clock changes, restarts). */
const MAX_NAK_DELAY_MS = 60_000;

export interface TimerWorkerOptions {
  readonly timersStream: string;
  readonly durableName?: string;
  readonly logger?: WorkerLogger;
  readonly clock?: () => Date;
}

/**
 * Durable timers: each timer is a message on the TIMERS work queue, nak'ed with a delay until it is
 * due, then fired into its execution as `FireTimer` and acked only once the actor recorded it.
 * Late after an outage, never lost; a repeat is ignored by the decider.
 */
export class TimerWorker {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private readonly rpc: RpcClient;
  private readonly durable: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: TimerWorkerOptions,
  ) {
    this.rpc = new RpcClient(nc, { timeoutMs: 10_000 });
    this.durable = opts.durableName ?? 'jetflow-timers';
  }

  async start(): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const config = { durable_name: this.durable, ack_policy: AckPolicy.Explicit, ack_wait: nanos(5_000), max_deliver: -1, max_ack_pending: 1_000_000 };
    try {
      await jsm.consumers.add(this.opts.timersStream, config);
    } catch (err) {
      if (!(err instanceof JetStreamApiError)) throw err;
      // Firing a timer takes milliseconds: one held by a crashed process comes back in 5 s.
      await jsm.consumers.update(this.opts.timersStream, this.durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
    }
    const consumer = await jetstream(this.nc).consumers.get(this.opts.timersStream, this.durable);
    this.messages = await consumer.consume({ max_messages: 256 });
    this.loop = (async () => {
      for await (const msg of this.messages!) void this.process(msg);
    })();
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
  }

  private async process(msg: JsMsg): Promise<void> {
    let timer: TimerTask;
    try {
      timer = decodeJson<TimerTask>(msg.data);
    } catch {
      msg.term();
      return;
    }
    const now = this.opts.clock?.() ?? new Date();
    const remaining = Date.parse(timer.fire_at) - now.getTime();
    if (remaining > 0) {
      msg.nak(Math.min(remaining, MAX_NAK_DELAY_MS));
      return;
    }
    try {
      await this.rpc.request('executions', 'command', { execution_id: timer.execution_id, command: { type: 'FireTimer', timer_id: timer.timer_id, now: now.toISOString() } });
      msg.ack();
    } catch (err) {
      this.opts.logger?.warn({ err: toErrorBody(err), execution_id: timer.execution_id, timer_id: timer.timer_id }, 'timer not recorded; will redeliver');
      msg.nak(1_000);
    }
  }
}
