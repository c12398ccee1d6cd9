import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Config } from '@jetflow/config';
import { JetflowError } from '@jetflow/contracts';
import type { ExecutionFeed, LogFollower } from '@jetflow/event-store';
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CLOCK, GATEWAY_CONFIG, GATEWAY_LOGGER, type Clock } from '../gateway.tokens';
import { EXECUTION_FEED } from './execution-stream.tokens';
import { controlMessage, entryToSseMessages, formatSse, isFinalMessage, type SseMessage, type SsePosition } from './sse-event.mapper';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/** What the streamer keeps per open SSE response (the follower holds the rest). */
interface OpenStream {
  readonly executionId: string;
  readonly raw: ServerResponse;
  /** `complete` written (or the stream closed): nothing may follow, not even a heartbeat. */
  done: boolean;
  close(): Promise<void>;
}

/**
 * Writes an execution's log as SSE to hijacked replies: `connected`, then every entry from the
 * start (or strictly after `Last-Event-ID`) and live ones, heartbeats in between, and the end of
 * the response after `complete`.
 *
 * No stream owns a JetStream consumer: each follows the process's one shared {@link ExecutionFeed}
 * (registered first, then the log read from its position, then live entries; no gap, no
 * duplicate). A slow client never blocks the feed or other clients: while its socket is full the
 * follower buffers a bounded number of live entries, and past that bound drops them and reads the
 * log again from the client's position once the socket drains (memory stays bounded; the client
 * loses nothing and is not disconnected). One interval writes the heartbeats of every open stream.
 */
@Injectable()
export class ExecutionStreamer implements BeforeApplicationShutdown {
  private readonly open = new Set<OpenStream>();
  private heartbeat?: NodeJS.Timeout;
  private shuttingDown = false;

  constructor(
    @Inject(EXECUTION_FEED) private readonly feed: ExecutionFeed,
    @Inject(GATEWAY_CONFIG) private readonly config: Config,
    @Inject(GATEWAY_LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly now: Clock,
  ) {}

  /** Open SSE streams (for metrics and tests). */
  get openStreams(): number {
    return this.open.size;
  }

  /**
   * Where a client resuming strictly after `after` (its `Last-Event-ID`) stands, checked before any
   * SSE byte (call after the execution was authorized): `ended` when the run is finished and `after`
   * lies past its last entry (the client has seen `complete`: nothing will ever follow), else
   * `follow`. One message get in the usual case (`after` inside the log), two when it lies past the
   * last decision of a running run (streamed deltas may follow it).
   * @throws JetflowError `VALIDATION_ERROR` when `after` lies past every entry of a running run's
   *   log: no stream of this execution ever sent that id, and following from it could skip entries.
   */
  async resumeFrom(executionId: string, after: SsePosition): Promise<'follow' | 'ended'> {
    const last = await this.feed.store.lastEntry(executionId);
    // At the last decision itself, its later events (`complete` among them) may still be unseen:
    // the follower sends them and ends after `ExecutionCompleted`.
    if (!last || after.seq <= last.seq) return 'follow';
    if (last.events.some((e) => e.type === 'ExecutionCompleted')) return 'ended';
    // Running: entries past the last decision can only be stream-only ones (deltas, tool events).
    if (await this.feed.store.nextDeltaSeq(executionId, after.seq)) return 'follow';
    throw new JetflowError('VALIDATION_ERROR', 'Last-Event-ID is past the end of this execution\'s log', [
      { path: 'Last-Event-ID', message: `no event of this execution has an id at or after ${after.seq}; the log ends at ${last.seq}` },
    ]);
  }

  /**
   * Answers a client that has already seen the end of a finished run: `connected`, then the end of
   * the response (as a resume right after `complete` does), no heartbeat.
   */
  ended(executionId: string, reply: FastifyReply): void {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, SSE_HEADERS);
    if (!this.shuttingDown) write(raw, controlMessage('connected', executionId, this.now()));
    raw.end();
  }

  /** Takes over `reply`; call only after the execution was authorized (errors are JSON until here). */
  stream(executionId: string, after: SsePosition | undefined, reply: FastifyReply): void {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, SSE_HEADERS);
    if (this.shuttingDown) {
      raw.end();
      return;
    }
    let follower: LogFollower = this.feed.follow(executionId, after?.seq ?? 1);
    // Where the client is: the next follower (if one ends early) resumes strictly after it.
    let position: SsePosition | undefined = after;

    let closing: Promise<void> | undefined;
    const stream: OpenStream = {
      executionId,
      raw,
      done: false,
      close: () =>
        (closing ??= (async () => {
          stream.done = true;
          this.open.delete(stream);
          if (this.open.size === 0) this.stopHeartbeat();
          if (!raw.writableEnded) raw.end();
          await follower.stop();
        })()),
    };
    this.open.add(stream);
    this.startHeartbeat();
    raw.on('close', () => void stream.close());

    write(raw, controlMessage('connected', executionId, this.now()));
    void (async () => {
      try {
        // A follower ends early only when the feed stops (shutdown): while the client is connected
        // and `complete` has not been sent, follow again from `position`.
        while (!raw.writableEnded && !raw.destroyed) {
          for await (const entry of follower.entries) {
            // One socket write per log entry (a decision holds several events), not one per message.
            let chunk = '';
            for (const message of entryToSseMessages(executionId, entry, position)) {
              chunk += formatSse(message);
              // Nothing may follow `complete`, not even a heartbeat while this write drains.
              if (isFinalMessage(message)) {
                stream.done = true;
                break;
              }
            }
            if (chunk && !writeChunk(raw, chunk) && !(await drained(raw))) return;
            if (stream.done) return;
            position = { seq: entry.seq, index: Number.MAX_SAFE_INTEGER };
            // Resumed right after `complete` (its message was filtered out): the log is over.
            if (entry.kind === 'events' && entry.events.some((e) => e.type === 'ExecutionCompleted')) return;
          }
          if (closing || this.shuttingDown) return;
          await follower.stop();
          this.logger.warn({ executionId, after: position?.seq }, 'SSE follower ended early; following again');
          follower = this.feed.follow(executionId, position ? position.seq + 1 : 1);
        }
      } catch (err) {
        // The client reconnects with Last-Event-ID and resumes without a gap.
        this.logger.warn({ err, executionId }, 'SSE follow failed');
      } finally {
        await stream.close();
      }
    })();
  }

  /** Ends every open stream, then stops the shared feed (deleting its consumer) before the server and NATS go away. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.allSettled([...this.open].map((s) => s.close()));
    this.stopHeartbeat();
    await this.feed.stop();
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => this.beat(), this.config.heartbeatMs);
  }

  private stopHeartbeat(): void {
    if (!this.heartbeat) return;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** One heartbeat to every open stream that is idle enough to take it (a full socket is not idle). */
  private beat(): void {
    const now = this.now();
    for (const s of this.open) {
      if (s.done || s.raw.writableNeedDrain) continue;
      write(s.raw, controlMessage('heartbeat', s.executionId, now));
    }
  }
}

/** Writes one message; false when the socket is full (wait for `drained`) or gone. */
function write(raw: ServerResponse, message: SseMessage): boolean {
  return writeChunk(raw, formatSse(message));
}

/** Writes formatted SSE text; false when the socket is full (wait for `drained`) or gone. */
function writeChunk(raw: ServerResponse, chunk: string): boolean {
  if (raw.writableEnded || raw.destroyed) return false;
  return raw.write(chunk);
}

/** Waits until the socket takes data again; false once the client is gone. */
async function drained(raw: ServerResponse): Promise<boolean> {
  if (raw.writableEnded || raw.destroyed) return false;
  if (raw.writableNeedDrain) {
    await new Promise<void>((resolve) => {
      const done = () => {
        raw.off('drain', done);
        raw.off('close', done);
        resolve();
      };
      raw.on('drain', done);
      raw.on('close', done);
    });
  }
  return !raw.destroyed && !raw.writableEnded;
}
