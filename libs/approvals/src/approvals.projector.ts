import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import { SUBJECTS } from '@jetflow/contracts';
import { toEntry } from '@jetflow/projections';
import { ApprovalsProjection } from './approvals.projection';

export interface ApprovalsProjectorOptions {
  /** The executions stream (STREAMS.executions in production). */
  readonly streamName: string;
  /** Durable pull consumer shared by every replica; also names the checkpoint row. */
  readonly durableName?: string;
  /** Most entries per transaction. */
  readonly batch?: number;
  /** Redelivery delay after a failed batch. */
  readonly retryDelayMs?: number;
  /** Told about failed batches (they are nak'ed and retried). */
  readonly onError?: (err: unknown) => void;
}

/** JetStream API error code for "consumer not found". */
const CONSUMER_NOT_FOUND = 10014;

/**
 * Runs the approvals projection from a durable pull consumer on `jetflow.exec.*.events`: one
 * transaction per batch, acked after commit. Replicas share the durable; the projection is
 * order-insensitive, so interleaved or redelivered batches are fine.
 */
export class ApprovalsProjector {
  private readonly durableName: string;
  private readonly batch: number;
  private readonly projection: ApprovalsProjection;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private buffer: JsMsg[] = [];
  private wake?: () => void;
  private stopping = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly dataSource: DataSource,
    private readonly opts: ApprovalsProjectorOptions,
  ) {
    this.durableName = opts.durableName ?? 'jetflow-projector-approvals';
    this.batch = opts.batch ?? 256;
    this.projection = new ApprovalsProjection({ checkpointName: this.durableName });
  }

  /** Creates the durable consumer if missing and starts consuming. Resolves once subscribed. */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    await this.ensureConsumer();
    const consumer = await jetstream(this.nc).consumers.get(this.opts.streamName, this.durableName);
    this.messages = await consumer.consume({
      max_messages: this.batch,
      callback: (msg) => {
        this.buffer.push(msg);
        this.wake?.();
      },
    });
    this.loop = this.drain();
  }

  /** Stops consuming; messages already received are applied and acked first. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    await this.messages?.close();
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    this.messages = undefined;
  }

  private async ensureConsumer(): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    try {
      await jsm.consumers.info(this.opts.streamName, this.durableName);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === CONSUMER_NOT_FOUND)) throw err;
    }
    await jsm.consumers.add(this.opts.streamName, {
      durable_name: this.durableName,
      ack_policy: AckPolicy.Explicit,
      // A batch commits in milliseconds: after a crash, its unacked entries come back in 5 s, not 30.
      ack_wait: nanos(5_000),
      deliver_policy: DeliverPolicy.All,
      filter_subject: SUBJECTS.allExecutionEvents,
      max_ack_pending: this.batch * 4,
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.buffer.length === 0) {
        if (this.stopping) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      await this.flush(this.buffer.splice(0, this.batch));
    }
  }

  private async flush(msgs: JsMsg[]): Promise<void> {
    try {
      const entries = msgs.map(toEntry);
      await this.dataSource.transaction((m) => this.projection.apply(m, entries));
    } catch (err) {
      this.opts.onError?.(err);
      for (const m of msgs) m.nak(this.opts.retryDelayMs ?? 1000);
      return;
    }
    for (const m of msgs) m.ack();
  }
}
