import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Config } from '@jetflow/config';
import type { EventStore } from '@jetflow/event-store';
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CLOCK, GATEWAY_CONFIG, GATEWAY_LOGGER, type Clock } from '../gateway.tokens';
import { EVENT_STORE } from './execution-stream.tokens';
import { controlMessage, entryToSseMessages, formatSse, isFinalMessage, type SseMessage, type SsePosition } from './sse-event.mapper';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * Writes an execution's log as SSE to hijacked replies: `connected`, then every entry from the
 * start (or strictly after `Last-Event-ID`) and live ones, heartbeats in between, and the end of
 * the response after `complete`. Each stream owns one follower, stopped when the client leaves or
 * the app shuts down, so no consumer outlives its connection.
 */
@Injectable()
export class ExecutionStreamer implements BeforeApplicationShutdown {
  private readonly open = new Set<() => Promise<void>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(GATEWAY_CONFIG) private readonly config: Config,
    @Inject(GATEWAY_LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly now: Clock,
  ) {}

  /** Takes over `reply`; call only after the execution was authorized (errors are JSON until here). */
  stream(executionId: string, after: SsePosition | undefined, reply: FastifyReply): void {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, SSE_HEADERS);
    let follower = this.store.follow(executionId, after?.seq ?? 1);
    // Where the client is: the next follower (if one ends early) resumes strictly after it.
    let position: SsePosition | undefined = after;
    const heartbeat = setInterval(() => void write(raw, controlMessage('heartbeat', executionId, this.now())), this.config.heartbeatMs);

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        clearInterval(heartbeat);
        this.open.delete(close);
        if (!raw.writableEnded) raw.end();
        await follower.stop();
      })());
    this.open.add(close);
    raw.on('close', () => void close());

    void write(raw, controlMessage('connected', executionId, this.now()));
    void (async () => {
      try {
        // A follower can end on its own (consumer lost with the server, missed heartbeats): while
        // the client is connected and `complete` has not been sent, follow again from `position`.
        while (!raw.writableEnded && !raw.destroyed) {
          for await (const entry of follower.entries) {
            for (const message of entryToSseMessages(executionId, entry, position)) {
              if (!(await write(raw, message))) return;
              if (isFinalMessage(message)) {
                // Nothing may follow `complete`, not even a heartbeat while the follower is torn down.
                clearInterval(heartbeat);
                return;
              }
            }
            position = { seq: entry.seq, index: Number.MAX_SAFE_INTEGER };
            // Resumed right after `complete` (its message was filtered out): the log is over.
            if (entry.kind === 'events' && entry.events.some((e) => e.type === 'ExecutionCompleted')) {
              clearInterval(heartbeat);
              return;
            }
          }
          if (closing) return;
          await follower.stop();
          this.logger.warn({ executionId, after: position?.seq }, 'SSE follower ended early; following again');
          follower = this.store.follow(executionId, position ? position.seq + 1 : 1);
        }
      } catch (err) {
        // The client reconnects with Last-Event-ID and resumes without a gap.
        this.logger.warn({ err, executionId }, 'SSE follow failed');
      } finally {
        await close();
      }
    })();
  }

  /** Ends every open stream (and deletes its consumer) before the server and NATS go away. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.open].map((close) => close()));
  }
}

/** Writes one message, waiting out backpressure; false once the client is gone. */
async function write(raw: ServerResponse, message: SseMessage): Promise<boolean> {
  if (raw.writableEnded || raw.destroyed) return false;
  if (raw.write(formatSse(message))) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
  });
  return !raw.destroyed && !raw.writableEnded;
}
