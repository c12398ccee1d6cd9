import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { ExecutionFeed } from '@jetflow/event-store';
import { EXECUTION_FEED } from '../executions/execution-stream.tokens';
import { ExecutionStreamer } from '../executions/execution-streamer';
import { scrapedCounter, scrapedGauge } from './scraped-metrics';

interface StreamSource {
  readonly streamer: Pick<ExecutionStreamer, 'openStreams'>;
  readonly feed: Pick<ExecutionFeed, 'stats'>;
}

/** Gateways of this process (tests start several): the metrics sum over them. */
const sources = new Set<StreamSource>();

const sum = (read: (s: StreamSource) => number) => [...sources].reduce((n, s) => n + read(s), 0);

/**
 * SSE metrics, read from the streamer and the shared feed when scraped (nothing counted per
 * message): open streams, where histories came from, and the feed's overflows and gaps.
 */
@Injectable()
export class StreamMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly source: StreamSource;

  constructor(streamer: ExecutionStreamer, @Inject(EXECUTION_FEED) feed: ExecutionFeed) {
    this.source = { streamer, feed };
  }

  onModuleInit(): void {
    ensureMetrics();
    sources.add(this.source);
  }

  onModuleDestroy(): void {
    sources.delete(this.source);
  }
}

function ensureMetrics(): void {
  scrapedGauge('jetflow_sse_streams_open', 'SSE streams open on this gateway', () => [[{}, sum((s) => s.streamer.openStreams)]]);
  scrapedCounter('jetflow_sse_histories_total', "Stream histories served, by source: the feed's memory of recently started runs, or a read of the log", () => [
    [{ source: 'memory' }, sum((s) => s.feed.stats().recentReads)],
    [{ source: 'log' }, sum((s) => s.feed.stats().logReads)],
  ]);
  scrapedCounter('jetflow_sse_slow_client_resyncs_total', 'Times a stream fell behind its buffer and was read again from the log (the client lost nothing)', () => [[{}, sum((s) => s.feed.stats().overflows)]]);
  scrapedCounter('jetflow_sse_feed_gaps_total', 'Sequence gaps the shared feed saw (every stream then re-read the log)', () => [[{}, sum((s) => s.feed.stats().gaps)]]);
}
