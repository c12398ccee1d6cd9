import type { ExecutionEvent, StreamEvent } from '@jetflow/contracts';
import type { StoredEntry } from './stored-entry';

const decoder = new TextDecoder();
/** How the first append of every execution begins (`JSON.stringify` of the start decision). */
const STARTED_PREFIX = new TextEncoder().encode('[{"type":"ExecutionStarted"');

interface RawEntry {
  readonly seq: number;
  readonly kind: 'events' | 'deltas';
  readonly data: Uint8Array;
  readonly time: string;
}

interface RecentLog {
  readonly entries: RawEntry[];
  bytes: number;
}

export interface RecentLogsOptions {
  /** Bytes of entry data kept over all executions (default 32 MiB). */
  readonly maxBytes?: number;
  /** Largest log kept whole, in bytes (default 256 KiB); a longer one is dropped and read from the stream. */
  readonly maxBytesPerExecution?: number;
}

/**
 * The whole logs of recently started executions, as the live feed saw them: an SSE client that
 * connects right after `execute` (the common case) gets its history from memory, with no request to
 * JetStream. A log is kept only if the feed saw its first entry (the `ExecutionStarted` append) and
 * every entry since without a gap; `clear()` on any doubt (feed restarted, sequence jump). Raw bytes
 * are kept (decoded on read), oldest execution dropped first past the byte budget.
 */
export class RecentLogs {
  private readonly logs = new Map<string, RecentLog>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxPerExecution: number;

  constructor(opts: RecentLogsOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
    this.maxPerExecution = opts.maxBytesPerExecution ?? 256 * 1024;
  }

  /** Records one message of the stream (called for every message, in sequence order). */
  add(executionId: string, kind: 'events' | 'deltas', seq: number, data: Uint8Array, time: Date): void {
    let log = this.logs.get(executionId);
    if (!log) {
      if (kind !== 'events' || !startsExecution(data)) return;
      log = { entries: [], bytes: 0 };
      this.logs.set(executionId, log);
    }
    // A copy: the message's bytes are a view into the client's read buffer.
    log.entries.push({ seq, kind, data: data.slice(), time: time.toISOString() });
    log.bytes += data.length;
    this.bytes += data.length;
    if (log.bytes > this.maxPerExecution) this.drop(executionId);
    while (this.bytes > this.maxBytes) {
      const oldest = this.logs.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
  }

  /**
   * The execution's entries with `from <= seq <= upTo`, or undefined when this cache does not hold
   * its whole log (then read the stream).
   */
  read(executionId: string, from: number, upTo: number): StoredEntry[] | undefined {
    const log = this.logs.get(executionId);
    if (!log) return undefined;
    const out: StoredEntry[] = [];
    for (const e of log.entries) {
      if (e.seq < from) continue;
      if (e.seq > upTo) break;
      out.push({ seq: e.seq, kind: e.kind, events: JSON.parse(decoder.decode(e.data)) as (ExecutionEvent | StreamEvent)[], time: e.time });
    }
    return out;
  }

  clear(): void {
    this.logs.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.logs.size;
  }

  private drop(executionId: string): void {
    const log = this.logs.get(executionId);
    if (!log) return;
    this.bytes -= log.bytes;
    this.logs.delete(executionId);
  }
}

function startsExecution(data: Uint8Array): boolean {
  if (data.length < STARTED_PREFIX.length) return false;
  for (let i = 0; i < STARTED_PREFIX.length; i++) if (data[i] !== STARTED_PREFIX[i]) return false;
  return true;
}
