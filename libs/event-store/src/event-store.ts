import type { NatsConnection } from '@nats-io/transport-node';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgRequest,
  type StoredMsg,
} from '@nats-io/jetstream';
import { SUBJECTS, type ExecutionEvent, type StreamEvent } from '@jetflow/contracts';
import { streamNames, type StreamOptions } from './stream-options';
import type { LogFollower, StoredEntry } from './stored-entry';
import { WrongExpectedSequenceError } from './wrong-expected-sequence.error';
import { JetStreamPublisher } from './jetstream-publisher';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Pull batch size when replaying a log. */
const READ_BATCH = 1_000;
/** Server drops an abandoned read/follow consumer after this long (ms) even if delete() never ran. */
const CONSUMER_INACTIVE_MS = 60_000;
/** Pull request lifetime of a follower (its idle heartbeat is half of it). */
const FOLLOW_PULL_EXPIRES_MS = 5_000;
/**
 * `history()` walks this many entries with single message gets (no consumer) before it hands the
 * rest of a long log to one ordered consumer: a get is one round trip, a consumer costs about three
 * (create, pull, delete) plus server state, so the walk wins for the few entries of a fresh run.
 */
const HISTORY_WALK_MAX = 12;
/** A step journal larger than this (encoded with its decision) is appended on `deltas` instead of inline. */
export const JOURNAL_INLINE_MAX_BYTES = 128 * 1024;

/**
 * Each execution's log in the EXECUTIONS stream: decision events on `SUBJECTS.executionEvents(id)`
 * (compare-and-set appends, one message per atomic append) and stream-only entries on
 * `SUBJECTS.executionDeltas(id)`. One instance per connection; safe to share.
 */
export class EventStore {
  private readonly js: JetStreamClient;
  private readonly publisher: JetStreamPublisher;
  private jsmPromise?: Promise<JetStreamManager>;
  private readonly stream: string;

  /** One replica: a direct get is answered by the only server that has the stream, never a lagging copy. */
  private readonly directReadsConsistent: boolean;

  constructor(nc: NatsConnection, opts: StreamOptions = {}) {
    this.js = jetstream(nc);
    this.publisher = new JetStreamPublisher(nc);
    this.stream = streamNames(opts).executions;
    this.directReadsConsistent = (opts.replicas ?? 1) === 1;
  }

  /**
   * Appends `events` as one message, only if the execution's last `events` entry is `expectedSeq`
   * (0: the execution has no entry yet). `msgId` dedupes retries inside the stream's duplicate
   * window: a repeat returns the original `seq` with `duplicate: true`. `journal` (stream-only events
   * that led to the decision, e.g. a tool's call and result) goes first in the same message: SSE
   * and the raw log show them in order, folds skip them. Past {@link JOURNAL_INLINE_MAX_BYTES} it
   * is appended on `deltas` just before instead.
   * @throws WrongExpectedSequenceError when another writer appended first.
   * @throws JetflowError `PAYLOAD_TOO_LARGE` when the message would exceed the server's `max_payload` (`JetStreamPublisher`).
   */
  async append(executionId: string, events: readonly ExecutionEvent[], expectedSeq: number, msgId: string, journal?: readonly StreamEvent[]): Promise<{ seq: number; duplicate: boolean }> {
    if (events.length === 0) throw new Error('append needs at least one event');
    if (!Number.isInteger(expectedSeq) || expectedSeq < 0) throw new Error(`invalid expected sequence ${expectedSeq}`);
    try {
      // The client sends the header for any number, 0 included, and nats-server 2.9.10 enforces
      // 0 as "subject must be empty" (checked in event-store.int-spec.ts).
      let body = encoder.encode(JSON.stringify(journal?.length ? [...journal, ...events] : events));
      if (journal?.length && body.length > JOURNAL_INLINE_MAX_BYTES) {
        // A large journal (a big tool result, repeated in the step's output) would double the
        // message towards the server's payload limit: it goes first on `deltas`, as its own message
        // (deduped with the decision's id if this append is retried).
        await this.appendStream(executionId, journal, `${msgId}:journal`);
        body = encoder.encode(JSON.stringify(events));
      }
      const ack = await this.publisher.publish(SUBJECTS.executionEvents(executionId), body, {
        msgID: msgId,
        expectLastSubjectSequence: expectedSeq,
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
        throw new WrongExpectedSequenceError(executionId, expectedSeq, { cause: err });
      }
      throw err;
    }
  }

  /** Appends stream-only entries (deltas, tool events) on the sibling `deltas` subject; no expectation. `msgId` dedupes a retry. */
  async appendStream(executionId: string, events: readonly StreamEvent[], msgId?: string): Promise<{ seq: number }> {
    if (events.length === 0) throw new Error('appendStream needs at least one event');
    const ack = await this.publisher.publish(SUBJECTS.executionDeltas(executionId), encoder.encode(JSON.stringify(events)), msgId === undefined ? {} : { msgID: msgId });
    return { seq: ack.seq };
  }

  /**
   * The execution's `events` entries with `seq >= fromSeq` that exist when the call starts, in order.
   * Single-message gets, and for a long log one ordered consumer after them (`readSubject`). An
   * entry may start with a step's journal (stream-only events, see `append`). At most `max` entries
   * (a page of a long log costs that page, not the rest of the log).
   */
  async read(executionId: string, fromSeq = 1, max = Number.POSITIVE_INFINITY): Promise<StoredEntry<ExecutionEvent | StreamEvent>[]> {
    return this.readSubject<ExecutionEvent | StreamEvent>(SUBJECTS.executionEvents(executionId), fromSeq, max);
  }

  /**
   * The execution's stream-only entries (`deltas` subject: deltas, tool calls and results) with
   * `seq >= fromSeq` that exist when the call starts, in order. Agent steps read it to resume.
   */
  async readStream(executionId: string, fromSeq = 1): Promise<StoredEntry<StreamEvent>[]> {
    return this.readSubject<StreamEvent>(SUBJECTS.executionDeltas(executionId), fromSeq);
  }

  /**
   * A short log costs no consumer (as in `history()`): the first `HISTORY_WALK_MAX` entries are
   * single-message gets; only a longer log is read on with one ordered consumer from where the walk
   * stopped. Besides the round trips, nats-server 2.9 keeps a deleted consumer's memory (measured:
   * ≈ 2.7 KB and several objects each, still held 75 s after the delete), which its garbage
   * collector then scans in every cycle: a consumer per read of a finished run made its collections
   * take 0.4–0.7 s on 2 cores.
   */
  private async readSubject<E>(subject: string, fromSeq: number, max = Number.POSITIVE_INFINITY): Promise<StoredEntry<E>[]> {
    const walked = await this.walk(subject, Math.max(1, fromSeq), Number.MAX_SAFE_INTEGER);
    const entries = walked.entries as StoredEntry<E>[];
    if (entries.length >= max) return entries.slice(0, max);
    if (walked.complete) return entries;
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: subject,
      opt_start_seq: entries[entries.length - 1]!.seq + 1,
      inactive_threshold: CONSUMER_INACTIVE_MS,
    });
    try {
      // num_pending at creation is exactly what exists now; later appends are not waited for.
      const target = Math.min((await consumer.info(true)).num_pending, max - entries.length);
      if (target <= 0) return entries;
      const messages = await consumer.consume({ max_messages: Math.min(target, READ_BATCH) });
      let count = 0;
      try {
        for await (const m of messages) {
          entries.push(toEntry<E>(m));
          if (++count >= target || m.info.pending === 0) break;
        }
      } finally {
        messages.stop();
      }
      return entries;
    } finally {
      await deleteQuietly(consumer);
    }
  }

  /**
   * The execution's entries of both subjects (`events` and `deltas`) with `fromSeq <= seq <= upTo`,
   * in stream order. `upTo` must be a sequence already stored (the live feed's position): every
   * entry up to it is found; later ones are the caller's to take from the feed.
   *
   * A short log costs no consumer: each subject is walked with "next message on this subject from
   * sequence N" gets on its *literal* subject (the server finds those through its per-subject index;
   * a wildcard `next_by_subj` scans every message in between, milliseconds per get on a busy stream),
   * both walks at once, merged by sequence. A log longer than `HISTORY_WALK_MAX` entries on either
   * subject is read with one ordered consumer from the execution's first entry found (never from
   * sequence 1: a wildcard filter scans from its start). With one replica the gets are direct gets;
   * with several they go to the stream leader, because any replica answers a direct get and a
   * lagging one could hide an entry.
   */
  async *history(executionId: string, fromSeq: number, upTo: number): AsyncGenerator<StoredEntry> {
    const from = Math.max(1, fromSeq);
    if (from > upTo) return;
    const [events, deltas] = await Promise.all([this.walk(SUBJECTS.executionEvents(executionId), from, upTo), this.walk(SUBJECTS.executionDeltas(executionId), from, upTo)]);
    if (events.complete && deltas.complete) {
      yield* mergeBySeq(events.entries, deltas.entries);
      return;
    }
    const start = Math.min(events.entries[0]?.seq ?? Infinity, deltas.entries[0]?.seq ?? Infinity);
    yield* this.readRest(SUBJECTS.executionAll(executionId), Number.isFinite(start) ? start : from);
  }

  /** Up to `HISTORY_WALK_MAX` entries of one literal subject in `[from, upTo]`; `complete` if that was all. */
  private async walk(subject: string, from: number, upTo: number): Promise<{ entries: StoredEntry[]; complete: boolean }> {
    const jsm = await this.jsm();
    const entries: StoredEntry[] = [];
    let seq = from;
    while (entries.length < HISTORY_WALK_MAX) {
      const msg = await this.getConsistent(jsm, { seq, next_by_subj: subject });
      if (!msg || msg.seq > upTo) return { entries, complete: true };
      entries.push({
        seq: msg.seq,
        kind: msg.subject.endsWith('.deltas') ? 'deltas' : 'events',
        events: JSON.parse(decoder.decode(msg.data)) as (ExecutionEvent | StreamEvent)[],
        time: msg.time.toISOString(),
      });
      seq = msg.seq + 1;
    }
    return { entries, complete: false };
  }

  /** `subject`'s entries from `fromSeq` that exist when the consumer is created, streamed (one ordered consumer). */
  private async *readRest(subject: string, fromSeq: number): AsyncGenerator<StoredEntry> {
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: subject,
      opt_start_seq: fromSeq,
      inactive_threshold: CONSUMER_INACTIVE_MS,
    });
    try {
      const target = (await consumer.info(true)).num_pending;
      if (target === 0) return;
      // The client pulls again only as the caller takes entries: a slow reader holds one batch at most.
      const messages = await consumer.consume({ max_messages: Math.min(target, READ_BATCH) });
      let count = 0;
      try {
        for await (const m of messages) {
          yield toEntry(m);
          if (++count >= target || m.info.pending === 0) break;
        }
      } finally {
        messages.stop();
      }
    } finally {
      await deleteQuietly(consumer);
    }
  }

  /** Sequence of the execution's last `events` entry, 0 if none (direct get, no consumer). */
  async lastSeq(executionId: string): Promise<number> {
    const jsm = await this.jsm();
    const msg = await jsm.direct.getMessage(this.stream, { last_by_subj: SUBJECTS.executionEvents(executionId) });
    return msg ? msg.seq : 0;
  }

  /**
   * The execution's last `events` entry (its last decision), or null; read like `history` (never
   * from a lagging replica).
   */
  async lastEntry(executionId: string): Promise<StoredEntry<ExecutionEvent> | null> {
    const msg = await this.getConsistent(await this.jsm(), { last_by_subj: SUBJECTS.executionEvents(executionId) });
    return msg && { seq: msg.seq, kind: 'events', events: JSON.parse(decoder.decode(msg.data)) as ExecutionEvent[], time: msg.time.toISOString() };
  }

  /** Sequence of the execution's first `deltas` entry at or after `fromSeq`, 0 if none. */
  async nextDeltaSeq(executionId: string, fromSeq: number): Promise<number> {
    const msg = await this.getConsistent(await this.jsm(), { seq: Math.max(1, fromSeq), next_by_subj: SUBJECTS.executionDeltas(executionId) });
    return msg ? msg.seq : 0;
  }

  /**
   * One message get: a direct get with one replica; with several, from the stream leader (any
   * replica answers a direct get, and a lagging one could hide an entry).
   */
  private getConsistent(jsm: JetStreamManager, query: { seq: number; next_by_subj: string } | { last_by_subj: string }): Promise<StoredMsg | null> {
    if (this.directReadsConsistent) return jsm.direct.getMessage(this.stream, query);
    // The client types leave `next_by_subj` to direct gets; nats-server 2.9 takes it here too.
    return jsm.streams.getMessage(this.stream, query as unknown as MsgRequest);
  }

  /** The execution's first `events` entry (it holds ExecutionStarted), or null (direct get). */
  async first(executionId: string): Promise<StoredEntry<ExecutionEvent> | null> {
    const jsm = await this.jsm();
    // seq must be set: without it the server answers a "last" lookup instead of "next".
    const msg = await jsm.direct.getMessage(this.stream, { seq: 1, next_by_subj: SUBJECTS.executionEvents(executionId) });
    if (!msg) return null;
    return {
      seq: msg.seq,
      kind: 'events',
      events: JSON.parse(decoder.decode(msg.data)) as ExecutionEvent[],
      time: msg.time.toISOString(),
    };
  }

  /**
   * History of both subjects (`events` and `deltas`) from `fromSeq`, then live entries, in stream
   * order with no gap and no duplicate (one ordered consumer; it re-creates itself after a
   * disconnect from the last sequence seen). Iteration ends when `stop()` is called, which also
   * deletes the consumer on the server.
   */
  follow(executionId: string, fromSeq = 1): LogFollower {
    let stopped = false;
    let consumerPromise: Promise<Consumer> | undefined;
    let messages: ConsumerMessages | undefined;
    let stopping: Promise<void> | undefined;
    const open = (): Promise<Consumer> =>
      (consumerPromise ??= this.js.consumers.get(this.stream, {
        filter_subjects: SUBJECTS.executionAll(executionId),
        opt_start_seq: Math.max(1, fromSeq),
        inactive_threshold: CONSUMER_INACTIVE_MS,
      }));

    async function* iterate(): AsyncGenerator<StoredEntry> {
      if (stopped) return;
      const consumer = await open();
      try {
        if (stopped) return;
        // Short pulls with heartbeats: a lost consumer (server restart) is noticed and re-created within seconds.
        messages = await consumer.consume({ expires: FOLLOW_PULL_EXPIRES_MS });
        if (stopped) messages.stop();
        for await (const m of messages) {
          yield toEntry(m);
          if (stopped) break;
        }
      } finally {
        messages?.stop();
        await deleteQuietly(consumer);
      }
    }

    return {
      entries: iterate(),
      stop: () =>
        (stopping ??= (async () => {
          stopped = true;
          // Ends a `for await` that is waiting for the next live entry.
          messages?.stop();
          // The reader may never come back to the iterator: delete here rather than rely on its finally.
          const consumer = await consumerPromise?.catch(() => undefined);
          if (consumer) await deleteQuietly(consumer);
        })()),
    };
  }

  private jsm(): Promise<JetStreamManager> {
    this.jsmPromise ??= this.js.jetstreamManager(false);
    return this.jsmPromise;
  }
}

function* mergeBySeq(a: readonly StoredEntry[], b: readonly StoredEntry[]): Generator<StoredEntry> {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.seq < b[j]!.seq)) yield a[i++]!;
    else yield b[j++]!;
  }
}

function toEntry<E = ExecutionEvent | StreamEvent>(m: JsMsg): StoredEntry<E> {
  return {
    seq: m.seq,
    kind: m.subject.endsWith('.deltas') ? 'deltas' : 'events',
    events: JSON.parse(decoder.decode(m.data)) as E[],
    time: m.time.toISOString(),
  };
}

/** Ordered consumers linger on the server for minutes after close(): delete them explicitly. */
async function deleteQuietly(consumer: Consumer): Promise<void> {
  try {
    await consumer.delete();
  } catch {
    // Already gone (inactive threshold, server restart) or connection closing: nothing to clean.
  }
}
