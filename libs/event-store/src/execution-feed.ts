import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type Consumer, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { ExecutionEvent, StreamEvent } from '@jetflow/contracts';
import { EventStore } from './event-store';
import type { LogFollower, StoredEntry } from './stored-entry';
import { streamNames, type StreamOptions } from './stream-options';
import { RecentLogs } from './recent-logs';

const decoder = new TextDecoder();

/** `jetflow.exec.<id>.events|deltas`: the id sits between this prefix and the last dot. */
const SUBJECT_PREFIX = 'jetflow.exec.';
/** Messages per pull of the shared consumer. */
const FEED_BATCH = 512;
/** Pull lifetime of the shared consumer; its idle heartbeat is half of it (a lost consumer is noticed in seconds). */
const FEED_PULL_EXPIRES_MS = 2_000;
/** The server drops the shared consumer this long after the process stopped pulling (crash: no delete ran). */
const FEED_INACTIVE_MS = 60_000;
/** Default of {@link ExecutionFeedOptions.idleStopMs}. */
const DEFAULT_IDLE_STOP_MS = 5_000;
/** Default of {@link ExecutionFeedOptions.followerBufferLimit}. */
const DEFAULT_FOLLOWER_BUFFER = 256;

export interface FeedLogger {
  warn(obj: object, msg: string): void;
}

export interface ExecutionFeedOptions extends StreamOptions {
  /** Stop the shared consumer after this long without any listener (it starts again with the next one). Default 5 s. */
  readonly idleStopMs?: number;
  /**
   * Live entries a follower holds for a reader that has not taken them yet. Past it the follower
   * drops its buffer and, when the reader comes back, reads the log from its position again: a slow
   * reader costs log reads, never unbounded memory, and never holds up the feed or other readers.
   * Default 256.
   */
  readonly followerBufferLimit?: number;
  /** Bytes of recent executions' logs kept to answer history without a read (default 32 MiB; 0: none). */
  readonly recentLogBytes?: number;
  readonly logger?: FeedLogger;
}

/** Receives one execution's entries from the feed. Called synchronously from the feed's message handler. */
export interface FeedListener {
  /** The next entry of the execution, in stream order, each once (the object is shared with other listeners: do not mutate). */
  onEntry(entry: StoredEntry): void;
  /** The feed may have missed entries (it resumed past sequences it never saw): read the log again from your position. */
  onGap(): void;
  /** The feed was stopped for good: no entry will come any more. */
  onEnd(): void;
}

export interface FeedSubscription {
  /**
   * Resolves once the feed's position is fixed, with the sequence `L` it had processed when the
   * listener was registered or positioned: every entry with a sequence above `L` reaches the
   * listener. Read the log (up to at least `L`) only after it resolved.
   */
  readonly ready: Promise<number>;
  /** Removes the listener. Idempotent. */
  close(): void;
}

/**
 * One live subscription per process to every new entry of the EXECUTIONS stream (both subjects of
 * every execution), routed by execution id to the registered listeners. A message nobody listens to
 * is never JSON-decoded; one that several listeners share is decoded once.
 *
 * The subscription is one ordered consumer on the whole stream, started from the stream's last
 * sequence + 1 when the first listener arrives and stopped (consumer deleted) after `idleStopMs`
 * without listeners. The client re-creates an ordered consumer that was lost (nats-server restart,
 * missed heartbeats, a delivery gap) from the last stream sequence it delivered; if the consumer
 * ends for good, the feed starts a new one from its own last sequence + 1. The stream holds
 * nothing but execution subjects, so its sequences reach the feed contiguously: a jump means the
 * feed missed entries (deleted or expired before it saw them) and every listener is told to read the
 * log again (`onGap`).
 *
 * `follow()` builds the gap-free per-reader view on top: history from the log, then live entries.
 */
export class ExecutionFeed {
  private readonly js: JetStreamClient;
  private readonly streamName: string;
  /** The log this feed follows (point reads: history, last entry). */
  readonly store: EventStore;
  private readonly listeners = new Map<string, FeedListener[]>();
  private listenerCount = 0;
  private run?: FeedRun;
  private idleTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Counters since construction: log reads by followers, histories served from memory, buffer overflows, sequence jumps seen. */
  private readonly counters = { logReads: 0, recentReads: 0, overflows: 0, gaps: 0 };
  private readonly recent?: RecentLogs;
  readonly idleStopMs: number;
  readonly followerBufferLimit: number;

  constructor(
    readonly nc: NatsConnection,
    private readonly opts: ExecutionFeedOptions = {},
  ) {
    this.js = jetstream(nc);
    this.streamName = streamNames(opts).executions;
    this.store = new EventStore(nc, opts);
    this.idleStopMs = opts.idleStopMs ?? DEFAULT_IDLE_STOP_MS;
    this.followerBufferLimit = Math.max(1, opts.followerBufferLimit ?? DEFAULT_FOLLOWER_BUFFER);
    if (opts.recentLogBytes !== 0) this.recent = new RecentLogs({ maxBytes: opts.recentLogBytes });
  }

  /**
   * @internal History from memory when the feed saw the execution's whole log (`from..upTo`), else
   * undefined (read the stream).
   */
  recentHistory(executionId: string, from: number, upTo: number): StoredEntry[] | undefined {
    const entries = this.recent?.read(executionId, from, upTo);
    if (entries) this.counters.recentReads++;
    return entries;
  }

  /**
   * History from `fromSeq` (both subjects), then live entries: in stream order, no gap, no
   * duplicate. No consumer of its own: the listener is registered first, the log is read (cheaply,
   * see `EventStore.history`) and live entries buffered meanwhile are passed on after it, those
   * already read dropped. Iteration ends after `stop()` (or when the feed stops).
   */
  follow(executionId: string, fromSeq = 1): LogFollower {
    return new FeedFollower(this, this.store, executionId, Math.max(1, fromSeq));
  }

  /** Registers `listener` for `executionId`'s new entries; starts the shared consumer if needed. */
  subscribe(executionId: string, listener: FeedListener): FeedSubscription {
    if (this.stopped) throw new Error('execution feed stopped');
    const list = this.listeners.get(executionId);
    if (list) list.push(listener);
    else this.listeners.set(executionId, [listener]);
    this.listenerCount++;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (!this.run) {
      // A new run starts at the stream's end: what came before it was not seen.
      this.recent?.clear();
      this.run = new FeedRun(this, this.js, this.streamName, this.opts.logger);
    }
    const run = this.run;
    let active = true;
    return {
      ready: run.ready,
      close: () => {
        if (!active) return;
        active = false;
        this.removeListener(executionId, listener);
      },
    };
  }

  /** Last stream sequence the feed processed (entries above it still reach current listeners); 0 before it is positioned. */
  get position(): number {
    return this.run?.lastSeq ?? 0;
  }

  /** Listeners, executions with at least one listener, and counters (for metrics and tests). */
  stats(): { listeners: number; executions: number; running: boolean; position: number; logReads: number; recentReads: number; overflows: number; gaps: number } {
    return { listeners: this.listenerCount, executions: this.listeners.size, running: this.run !== undefined, position: this.position, ...this.counters };
  }

  /** @internal */
  count(what: 'logReads' | 'recentReads' | 'overflows' | 'gaps'): void {
    this.counters[what]++;
  }

  /** Stops the shared consumer (deleting it) and ends every listener. The feed cannot be used afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const run = this.run;
    this.run = undefined;
    const all = [...this.listeners.values()].flat();
    this.listeners.clear();
    this.listenerCount = 0;
    for (const l of all) safely(() => l.onEnd());
    await run?.stop();
  }

  /** @internal Routes one message of the shared consumer. */
  route(m: JsMsg): void {
    const subject = m.subject;
    const dot = subject.lastIndexOf('.');
    if (dot <= SUBJECT_PREFIX.length || !subject.startsWith(SUBJECT_PREFIX)) return;
    const executionId = subject.slice(SUBJECT_PREFIX.length, dot);
    this.recent?.add(executionId, subject.endsWith('.deltas') ? 'deltas' : 'events', m.seq, m.data, m.time);
    const list = this.listeners.get(executionId);
    if (!list) return;
    let entry: StoredEntry;
    try {
      entry = {
        seq: m.seq,
        kind: subject.endsWith('.deltas') ? 'deltas' : 'events',
        events: JSON.parse(decoder.decode(m.data)) as (ExecutionEvent | StreamEvent)[],
        time: m.time.toISOString(),
      };
    } catch (err) {
      this.opts.logger?.warn({ err, subject, seq: m.seq }, 'execution feed: undecodable entry skipped');
      return;
    }
    // A listener may remove itself (or another) while being called: iterate over a snapshot.
    for (const l of list.length === 1 ? list : [...list]) {
      try {
        l.onEntry(entry);
      } catch {
        // A listener's failure is its own; the feed and the other listeners go on.
      }
    }
  }

  /** @internal The feed skipped sequences: every listener reads the log again from its position. */
  signalGap(): void {
    this.counters.gaps++;
    this.recent?.clear();
    for (const list of [...this.listeners.values()]) for (const l of [...list]) safely(() => l.onGap());
  }

  private removeListener(executionId: string, listener: FeedListener): void {
    const list = this.listeners.get(executionId);
    const i = list ? list.indexOf(listener) : -1;
    if (!list || i < 0) return;
    if (list.length === 1) this.listeners.delete(executionId);
    else list.splice(i, 1);
    this.listenerCount--;
    if (this.listenerCount === 0 && this.run && !this.stopped) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        if (this.listenerCount > 0 || !this.run) return;
        const run = this.run;
        this.run = undefined;
        void run.stop();
      }, this.idleStopMs);
      this.idleTimer.unref();
    }
  }
}

/** One incarnation of the shared consumer: positioned once, then kept going until stopped. */
class FeedRun {
  lastSeq = 0;
  readonly ready: Promise<number>;
  private resolveReady!: (seq: number) => void;
  private stopped = false;
  private consumer?: Consumer;
  private messages?: ConsumerMessages;
  private wakeSleep?: () => void;
  private readonly done: Promise<void>;

  constructor(
    private readonly feed: ExecutionFeed,
    private readonly js: JetStreamClient,
    private readonly streamName: string,
    private readonly logger?: FeedLogger,
  ) {
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Nobody waits on a stopped run's position, but never leave a follower hanging on it.
    this.resolveReady(this.lastSeq);
    this.messages?.stop();
    this.wakeSleep?.();
    await this.done;
  }

  private async loop(): Promise<void> {
    let positioned = false;
    let failures = 0;
    while (!this.stopped && !this.feed.nc.isClosed()) {
      let consumer: Consumer | undefined;
      try {
        if (!positioned) {
          const jsm = await this.js.jetstreamManager(false);
          this.lastSeq = (await jsm.streams.info(this.streamName)).state.last_seq;
          positioned = true;
          this.resolveReady(this.lastSeq);
        }
        // Ordered consumer on the whole stream (no filter: every sequence is delivered, so a jump is
        // visible). It re-creates itself after a loss from the last sequence it delivered.
        consumer = await this.js.consumers.get(this.streamName, { opt_start_seq: this.lastSeq + 1, inactive_threshold: FEED_INACTIVE_MS });
        this.consumer = consumer;
        if (this.stopped) break;
        const messages = await consumer.consume({ max_messages: FEED_BATCH, expires: FEED_PULL_EXPIRES_MS, callback: (m) => this.onMessage(m) });
        this.messages = messages;
        if (this.stopped) messages.stop();
        failures = 0;
        const err = await messages.closed();
        if (this.stopped) break;
        this.logger?.warn({ err, lastSeq: this.lastSeq }, 'execution feed: consumer ended; starting again from the last sequence');
      } catch (err) {
        if (this.stopped) break;
        failures++;
        this.logger?.warn({ err, lastSeq: this.lastSeq, failures }, 'execution feed: cannot start the consumer; retrying');
      } finally {
        if (consumer) await deleteQuietly(consumer);
        this.consumer = undefined;
        this.messages = undefined;
      }
      await this.sleep(Math.min(2_000, 100 * 2 ** Math.min(failures, 5)));
    }
    if (this.consumer) await deleteQuietly(this.consumer);
  }

  private onMessage(m: JsMsg): void {
    if (this.stopped) return;
    const seq = m.seq;
    if (seq <= this.lastSeq) return;
    if (seq !== this.lastSeq + 1) {
      this.logger?.warn({ expected: this.lastSeq + 1, got: seq }, 'execution feed: sequences skipped; listeners read the log again');
      this.feed.signalGap();
    }
    this.lastSeq = seq;
    this.feed.route(m);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeSleep = done;
    });
  }
}

/**
 * One reader's view (see `ExecutionFeed.follow`). States: `resync` (read the log from `lastSeq + 1`
 * before trusting the buffer: at the start, after a buffer overflow, after a feed gap), otherwise
 * pass on buffered live entries. `buffering` is false only between an overflow and the next resync,
 * when nothing needs keeping (the resync re-reads it all).
 */
class FeedFollower implements LogFollower, FeedListener {
  readonly entries: AsyncIterable<StoredEntry>;
  private readonly sub: FeedSubscription;
  private buffer: StoredEntry[] = [];
  private head = 0;
  private buffering = true;
  private resync = true;
  private stopped = false;
  private wake?: () => void;
  /** Last sequence handed to the reader. */
  private lastSeq: number;

  constructor(
    private readonly feed: ExecutionFeed,
    private readonly store: EventStore,
    private readonly executionId: string,
    fromSeq: number,
  ) {
    this.lastSeq = fromSeq - 1;
    // Registered before anything is read: whatever the log read misses arrives here.
    this.sub = feed.subscribe(executionId, this);
    this.entries = this.iterate();
  }

  onEntry(entry: StoredEntry): void {
    if (!this.buffering || entry.seq <= this.lastSeq) return;
    if (this.buffer.length - this.head >= this.feed.followerBufferLimit) {
      // The reader is behind: drop what is held and re-read from the log when it comes back.
      this.buffer = [];
      this.head = 0;
      this.buffering = false;
      this.resync = true;
      this.feed.count('overflows');
    } else {
      this.buffer.push(entry);
    }
    this.notify();
  }

  onGap(): void {
    this.resync = true;
    this.notify();
  }

  onEnd(): void {
    this.stopped = true;
    this.notify();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.sub.close();
    this.buffer = [];
    this.head = 0;
    this.notify();
    return Promise.resolve();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async *iterate(): AsyncGenerator<StoredEntry> {
    try {
      await this.sub.ready;
      while (!this.stopped) {
        if (this.resync) {
          this.resync = false;
          this.buffer = [];
          this.head = 0;
          this.buffering = true;
          // Everything above `covered` reaches onEntry from now on; the log is needed only below it.
          const covered = this.feed.position;
          if (this.lastSeq < covered) {
            const recent = this.feed.recentHistory(this.executionId, this.lastSeq + 1, covered);
            if (!recent) this.feed.count('logReads');
            for await (const entry of recent ?? this.store.history(this.executionId, this.lastSeq + 1, covered)) {
              if (this.stopped) return;
              if (entry.seq <= this.lastSeq) continue;
              this.lastSeq = entry.seq;
              yield entry;
              // Overflowed or told about a gap while the reader held this entry: read again from here.
              if (this.resync || this.stopped) break;
            }
          }
          continue;
        }
        if (this.head < this.buffer.length) {
          const entry = this.buffer[this.head]!;
          this.buffer[this.head++] = undefined as unknown as StoredEntry;
          if (this.head === this.buffer.length) {
            this.buffer = [];
            this.head = 0;
          }
          if (entry.seq <= this.lastSeq) continue;
          this.lastSeq = entry.seq;
          yield entry;
          continue;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.stopped = true;
      this.sub.close();
    }
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's failure is its own; the feed and the other listeners go on.
  }
}

async function deleteQuietly(consumer: Consumer): Promise<void> {
  try {
    await consumer.delete();
  } catch {
    // Already gone (inactive threshold, server restart) or the connection is closing.
  }
}
