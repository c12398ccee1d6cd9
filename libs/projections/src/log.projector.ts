import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource, EntityManager } from 'typeorm';
import { isStreamEvent, SUBJECTS, type ExecutionEvent } from '@jetflow/contracts';
import type { ProjectionEntry } from './execution-patch';

const decoder = new TextDecoder();

/** A read model folded from execution log entries inside one transaction per batch. */
export interface LogProjection {
  /** Names the projection: its checkpoint row, and how a durable consumer's description lists it. */
  readonly checkpointName: string;
  apply(manager: EntityManager, entries: readonly ProjectionEntry[]): Promise<void>;
  /**
   * True when `apply` issues exactly one statement (rows and checkpoint together): it then runs
   * without BEGIN/COMMIT, a single statement being atomic on its own.
   */
  readonly singleStatement?: boolean;
  /** Per batch: true when `apply` will issue exactly one statement for these entries. */
  singleStatementFor?(entries: readonly ProjectionEntry[]): boolean;
}

export interface LogProjectorOptions {
  /** The executions stream (STREAMS.executions in production). */
  readonly streamName: string;
  /** Durable pull consumer shared by every replica; also names the checkpoint row. */
  readonly durableName: string;
  /** Most entries per transaction. */
  readonly batch?: number;
  /**
   * How long a batch that is not full waits for more entries (default 20 ms): under light load each
   * transaction is a few round trips to PostgreSQL whatever its size, so a short linger saves most
   * of them. The read model is never on a step's path.
   */
  readonly lingerMs?: number;
  /** Redelivery delay after a failed batch. */
  readonly retryDelayMs?: number;
  /** Told about failed batches (they are nak'ed and retried) and consumer errors. */
  readonly onError?: (err: unknown) => void;
  /**
   * A failed batch holding an entry delivered this many times (default 5: the batch failed that
   * often) is applied one entry at a time instead, and an entry that still cannot be applied is
   * skipped (see {@link LogProjector}).
   */
  readonly isolateAfter?: number;
  /** Where skipped entries are reported (`error` level; pino's logger fits). Default: stderr. */
  readonly logger?: ProjectorLogger;
}

export interface ProjectorLogger {
  error(obj: object, msg: string): void;
}

const stderrLogger: ProjectorLogger = { error: (obj, msg) => console.error(JSON.stringify({ level: 'error', ...obj, msg })) };

/** Attempts at one entry on its own before it is skipped, and the pause after the first failure (doubled after each). */
const ENTRY_ATTEMPTS = 3;
const ENTRY_RETRY_MS = 100;
/** Messages held while entries are applied one at a time are reported in progress this often (ack_wait is 5 s). */
const WORKING_EVERY_MS = 2_000;
/** SQLSTATE classes that say nothing about the entry: connection (08), rollback/deadlock (40), resources (53), operator intervention (57P), system (58). */
const TRANSIENT_SQLSTATE = /^(08|40|53|57P|58)/;

/** JetStream API error code for "consumer not found". */
const CONSUMER_NOT_FOUND = 10014;
/** A projector durable's description: this prefix, then the names of the projections it feeds. */
const DESCRIPTION_PREFIX = 'jetflow projections: ';

/**
 * Runs projections from one durable pull consumer on `jetflow.exec.*.events`: entries are applied
 * in batches (per projection one statement or one transaction, the projections side by side), acked
 * after every projection committed. Replicas share the durable; the projections are idempotent and
 * order-insensitive, so interleaved or redelivered batches are fine.
 *
 * One consumer can feed several projections (the all-in-one process feeds the executions and the
 * approvals read models from one): each message is then delivered, decoded and acked once instead
 * of once per projection. Which durable feeds a projection may change with the deployment's layout,
 * so a durable that does not exist yet starts where every projection it feeds is known to be
 * complete: for each, the best ack floor among the durables already feeding it (their
 * descriptions list them); from the start when one was never fed. A durable left behind by the
 * other layout keeps its floor: used again, it re-applies from there (idempotent), it never skips.
 *
 * A failed batch is nak'ed and comes back (with newer entries) after `retryDelayMs`. One entry that
 * can never be applied (a value PostgreSQL refuses, a malformed event) would fail every batch it
 * lands in, and hold back every projection this durable feeds: once a failed batch holds an entry
 * delivered `isolateAfter` times, its entries are applied one at a time instead (per projection,
 * its own statement or transaction, as for a batch; projections are order-insensitive, so nothing
 * changes for the others). An entry that still fails after {@link ENTRY_ATTEMPTS} attempts while the
 * database answers is skipped for that projection: only its checkpoint moves past it (the entry
 * applied without events, as for an unreadable payload), it is acked, and it is reported at error
 * level with its execution id and sequence (never its content). When the database does not answer,
 * nothing is skipped: the remaining entries are nak'ed as before.
 */
export class LogProjector {
  private readonly durableName: string;
  private readonly projections: readonly LogProjection[];
  private readonly batch: number;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private buffer: JsMsg[] = [];
  private wake?: () => void;
  private stopping = false;
  private readonly counts = { entries: 0, batches: 0, failures: 0, skipped: 0 };
  private readonly isolateAfter: number;
  private readonly logger: ProjectorLogger;

  constructor(
    private readonly nc: NatsConnection,
    private readonly dataSource: DataSource,
    projection: LogProjection | readonly LogProjection[],
    private readonly opts: LogProjectorOptions,
  ) {
    this.projections = Array.isArray(projection) ? projection : [projection as LogProjection];
    if (this.projections.length === 0) throw new Error('LogProjector needs at least one projection');
    this.durableName = opts.durableName;
    this.batch = opts.batch ?? 256;
    this.isolateAfter = Math.max(1, opts.isolateAfter ?? 5);
    this.logger = opts.logger ?? stderrLogger;
  }

  /** Creates the durable consumer if missing and starts consuming. Resolves once subscribed. */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    await this.ensureConsumer();
    const consumer = await jetstream(this.nc).consumers.get(this.opts.streamName, this.durableName);
    // The callback only buffers; the drain loop takes whatever has arrived (up to `batch`) per
    // transaction: large batches under load, no added latency when idle. The consumer's
    // max_ack_pending bounds the buffer.
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
    const names = this.projections.map((p) => p.checkpointName);
    const start = await safeStart(jsm, this.opts.streamName, names);
    try {
      await jsm.consumers.add(this.opts.streamName, {
        durable_name: this.durableName,
        description: DESCRIPTION_PREFIX + names.join(','),
        ack_policy: AckPolicy.Explicit,
        // A batch commits in milliseconds: after a crash, its unacked entries come back in 5 s, not 30.
        ack_wait: nanos(5_000),
        ...(start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All }),
        filter_subject: SUBJECTS.allExecutionEvents,
        max_ack_pending: this.batch * 4,
      });
    } catch (err) {
      // Another replica created it first (maybe from another floor): use theirs.
      const exists = await jsm.consumers.info(this.opts.streamName, this.durableName).then(
        () => true,
        () => false,
      );
      if (!exists) throw err;
    }
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.buffer.length === 0) {
        if (this.stopping) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const linger = this.opts.lingerMs ?? 20;
      if (linger > 0 && this.buffer.length < this.batch && !this.stopping) await new Promise((resolve) => setTimeout(resolve, linger));
      await this.flush(this.buffer.splice(0, this.batch));
    }
  }

  private async flush(msgs: JsMsg[]): Promise<void> {
    let entries: ProjectionEntry[] = [];
    try {
      entries = msgs.map(toEntry);
      // Side by side on their own connections; a failure of either naks the batch for both (idempotent).
      const results = await Promise.allSettled(this.projections.map((p) => this.applyOne(p, entries)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      this.counts.failures++;
      this.opts.onError?.(err);
      if (entries.length === msgs.length && msgs.some((m) => deliveries(m) >= this.isolateAfter)) await this.applyOneByOne(msgs, entries);
      else for (const m of msgs) m.nak(this.opts.retryDelayMs ?? 1000);
      return;
    }
    for (const m of msgs) m.ack();
    this.counts.entries += msgs.length;
    this.counts.batches++;
  }

  /**
   * A batch that keeps failing: each entry on its own (each projection in turn), acked once every
   * projection has applied or skipped it; the rest nak'ed when the database stops answering.
   */
  private async applyOneByOne(msgs: readonly JsMsg[], entries: readonly ProjectionEntry[]): Promise<void> {
    let workingAt = Date.now();
    for (let i = 0; i < msgs.length; i++) {
      for (const projection of this.projections) {
        if (Date.now() - workingAt >= WORKING_EVERY_MS) {
          for (const m of msgs.slice(i)) m.working();
          workingAt = Date.now();
        }
        if (!(await this.applyOrSkip(projection, entries[i]!))) {
          for (const m of msgs.slice(i)) m.nak(this.opts.retryDelayMs ?? 1000);
          return;
        }
      }
      msgs[i]!.ack();
      this.counts.entries++;
    }
  }

  /** True once `entry` is applied, or skipped (checkpoint moved past it, reported); false when the database seems unavailable. */
  private async applyOrSkip(projection: LogProjection, entry: ProjectionEntry): Promise<boolean> {
    let error: unknown;
    for (let attempt = 1; attempt <= ENTRY_ATTEMPTS; attempt++) {
      try {
        await this.applyOne(projection, [entry]);
        return true;
      } catch (err) {
        error = err;
      }
      if (attempt < ENTRY_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, ENTRY_RETRY_MS * 2 ** (attempt - 1)));
    }
    const code = sqlState(error);
    if ((code && TRANSIENT_SQLSTATE.test(code)) || !(await this.databaseAnswers())) return false;
    try {
      await this.applyOne(projection, [{ seq: entry.seq, executionId: entry.executionId, events: [] }]);
    } catch (err) {
      this.opts.onError?.(err);
      return false;
    }
    this.counts.skipped++;
    // Never the entry's content, nor the error's message or parameters (they may quote it).
    this.logger.error(
      {
        durable: this.durableName,
        projection: projection.checkpointName,
        execution_id: entry.executionId,
        seq: entry.seq,
        error_code: code ?? null,
        error_name: error instanceof Error ? error.name : typeof error,
      },
      'projection skipped a log entry it cannot apply',
    );
    return true;
  }

  private databaseAnswers(): Promise<boolean> {
    return this.dataSource.query('SELECT 1').then(
      () => true,
      () => false,
    );
  }

  /**
   * The durable's name; log entries applied and batches committed since start, batches that failed
   * (retried), and entries skipped by a projection that could not apply them. For metrics.
   */
  stats(): { readonly durable: string; readonly entries: number; readonly batches: number; readonly failures: number; readonly skipped: number } {
    return { durable: this.durableName, ...this.counts };
  }

  private applyOne(projection: LogProjection, entries: readonly ProjectionEntry[]): Promise<void> {
    if (projection.singleStatement || projection.singleStatementFor?.(entries)) return projection.apply(this.dataSource.manager, entries);
    return this.dataSource.transaction((m) => projection.apply(m, entries));
  }
}

/** The projections a durable consumer feeds: from its description, else (durables made before descriptions) its name. */
function projectionsFed(config: { durable_name?: string; description?: string }): string[] {
  if (config.description?.startsWith(DESCRIPTION_PREFIX)) return config.description.slice(DESCRIPTION_PREFIX.length).split(',');
  return config.durable_name ? [config.durable_name] : [];
}

/**
 * First stream sequence a new durable for `projections` may start at without skipping an entry any
 * of them lacks: per projection, one past the best ack floor of the durables feeding it; the lowest
 * of those. 1 when some projection was never fed.
 */
async function safeStart(jsm: JetStreamManager, stream: string, projections: readonly string[]): Promise<number> {
  const complete = new Map<string, number>();
  for await (const c of jsm.consumers.list(stream)) {
    for (const name of projectionsFed(c.config)) {
      if (projections.includes(name)) complete.set(name, Math.max(complete.get(name) ?? 0, c.ack_floor.stream_seq + 1));
    }
  }
  if (projections.some((name) => !complete.has(name))) return 1;
  return Math.min(...projections.map((name) => complete.get(name)!));
}

/** How many times the server has delivered `msg` (1 on the first delivery). */
function deliveries(msg: JsMsg): number {
  try {
    return msg.info.deliveryCount;
  } catch {
    return 1;
  }
}

/** The SQLSTATE of a PostgreSQL error (TypeORM's QueryFailedError carries the driver's `code`). */
function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** `jetflow.exec.<id>.events` + JSON array of events (a single event object is accepted too); stream-only events dropped. */
export function toEntry(msg: Pick<JsMsg, 'subject' | 'seq' | 'data'>): ProjectionEntry {
  const executionId = msg.subject.split('.')[2] ?? '';
  let events: ExecutionEvent[] = [];
  try {
    const parsed: unknown = JSON.parse(decoder.decode(msg.data));
    const list = Array.isArray(parsed) ? parsed : [parsed];
    // A step's journal (stream-only events) may open the entry: read models fold decision events only.
    events = list.filter((e): e is ExecutionEvent => !!e && typeof e === 'object' && typeof (e as { type?: unknown }).type === 'string' && !isStreamEvent(e as { type: string }));
  } catch {
    // Not JSON: nothing to fold, but the entry still advances the checkpoint.
  }
  return { seq: msg.seq, executionId, events };
}
