/**
 * W6 SSE client process (forked by run.ts, several of them for 10,000 clients): one plain
 * `http.request` per stream (no agent, no keep-alive, no fetch), a minimal SSE splitter, and per
 * stream only what the verdict needs (SSE ids seen, heartbeat times, whether `complete` came).
 *
 * IPC: parent → `open` {ids,...}; child → `connected` once every stream got its `connected` event
 * (or failed, or the connect deadline passed); parent → `finish` {timeoutMs}: wait until every
 * stream ended with `complete` (or the timeout), then compare each stream with its execution's
 * log (`GET /api/executions/{id}/events`) and answer `report`.
 */
import http from 'node:http';
import { checkLog, readEvents } from './lib/api';
import { pct } from './lib/util';

export interface OpenMsg {
  type: 'open';
  baseUrl: string;
  headers: Record<string, string>;
  ids: string[];
  /** Requests without a response yet, at most (a ramp, so the accept queue is not flooded). */
  maxPending: number;
  connectTimeoutMs: number;
  heartbeatMs: number;
}
export interface FinishMsg {
  type: 'finish';
  timeoutMs: number;
}
export interface ConnectedMsg {
  type: 'connected';
  connected: number;
  failed: number;
  pending: number;
  ms: number;
  errors: string[];
}
export interface SseReport {
  type: 'report';
  clients: number;
  connected: number;
  /** Streams that received `complete`. */
  completed: number;
  /** Streams that ended or were abandoned without `complete` (not counted in lost events). */
  incomplete: number;
  /** Messages with an id received, over all streams. */
  delivered: number;
  /** Events of the logs that map to an SSE message (streams with `complete` only). */
  expected: number;
  /** Expected but never received, on streams that got `complete`. */
  lost: number;
  /** The same id twice on one stream. */
  duplicates: number;
  /** Received ids that are not events of the log (stream-only events such as tool_call land here). */
  extra: number;
  /** Gaps between consecutive heartbeats of a stream (ms). */
  heartbeatGaps: { n: number; p50: number; p99: number; max: number; late: number };
  /** Streams connected for ≥ 2.5 heartbeat intervals that never got one. */
  noHeartbeat: number;
  /** Executions: exactly one ExecutionCompleted with status completed / none / 2+ / other status / log unreadable. */
  executions: { ok: number; notTerminal: number; duplicated: number; notCompleted: number; unreadable: number };
  /** Wall clock (epoch ms) of the last `complete` received (0: none). */
  lastCompleteAt: number;
  errors: string[];
  cpuMs: number;
}

/** Log events that the gateway maps to no SSE message (see sse-event.mapper). */
const SILENT = new Set(['TimerScheduled', 'UserMessageAdded']);

interface Stream {
  id: string;
  req?: http.ClientRequest;
  connectedAt?: number;
  ids: Set<string>;
  dup: number;
  heartbeats: number[];
  completeAt?: number;
  /** Date.now() at `complete`, comparable across processes. */
  completeWall?: number;
  ended: boolean;
  /** Connected or failed: counted once in `settled`. */
  settled: boolean;
  error?: string;
}

let streams: Stream[] = [];
let settled = 0;
let ended = 0;
const errors: string[] = [];
const noteError = (e: string) => {
  if (errors.length < 5) errors.push(e.slice(0, 200));
};
const now = () => performance.now();
let onChange: (() => void) | undefined;

function openStream(base: URL, headers: Record<string, string>, s: Stream, onResponse: () => void): void {
  const req = http.request({ host: base.hostname, port: base.port, path: `/api/executions/${s.id}/stream`, method: 'GET', agent: false, headers: { ...headers, accept: 'text/event-stream', connection: 'close' } });
  s.req = req;
  let answered = false;
  const answer = () => {
    if (!s.settled) {
      s.settled = true;
      settled++;
    }
    if (!answered) {
      answered = true;
      onResponse();
    }
  };
  const end = (err?: string) => {
    if (s.ended) return;
    s.ended = true;
    ended++;
    if (err && s.completeAt === undefined) {
      s.error = err;
      noteError(`${s.id}: ${err}`);
    }
    answer();
    onChange?.();
  };
  req.on('response', (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      end(`status ${res.statusCode}`);
      return;
    }
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk: string) => {
      const t = now();
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let id: string | undefined;
        let ev = 'message';
        for (const line of block.split('\n')) {
          if (line.startsWith('id:')) id = line.slice(3).trim();
          else if (line.startsWith('event:')) ev = line.slice(6).trim();
        }
        if (ev === 'connected') {
          s.connectedAt = t;
          answer();
          onChange?.();
        } else if (ev === 'heartbeat') s.heartbeats.push(t);
        if (id !== undefined) {
          if (s.ids.has(id)) s.dup++;
          else s.ids.add(id);
        }
        if (ev === 'complete') {
          s.completeAt = t;
          s.completeWall = Date.now();
          req.destroy();
          end();
          return;
        }
      }
    });
    res.on('end', () => end('stream ended without complete'));
    res.on('error', (e) => end(e.message));
  });
  req.on('error', (e) => end(e.message));
  req.end();
}

async function open(m: OpenMsg): Promise<ConnectedMsg> {
  const t0 = now();
  const base = new URL(m.baseUrl);
  streams = m.ids.map((id) => ({ id, ids: new Set<string>(), dup: 0, heartbeats: [], ended: false, settled: false }));
  let next = 0;
  let pending = 0;
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, m.connectTimeoutMs);
    const pump = () => {
      while (pending < m.maxPending && next < streams.length) {
        pending++;
        openStream(base, m.headers, streams[next++]!, () => {
          pending--;
          setImmediate(pump);
        });
      }
      if (next >= streams.length && settled >= streams.length) {
        clearTimeout(deadline);
        resolve();
      }
    };
    pump();
  });
  const connected = streams.filter((s) => s.connectedAt !== undefined).length;
  const failed = streams.filter((s) => s.connectedAt === undefined && s.ended).length;
  return { type: 'connected', connected, failed, pending: streams.length - connected - failed, ms: now() - t0, errors: [...errors] };
}

async function finish(m: FinishMsg, heartbeatMs: number, baseUrl: string): Promise<SseReport> {
  const t0 = now();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, m.timeoutMs);
    const check = () => {
      if (ended >= streams.length) {
        clearTimeout(timer);
        resolve();
      }
    };
    onChange = check;
    check();
  });
  onChange = undefined;
  const tEnd = now();
  for (const s of streams) {
    if (s.ended) continue;
    s.ended = true;
    s.error ??= `no complete within ${m.timeoutMs} ms`;
    s.req?.destroy();
  }
  // Heartbeats: gaps between consecutive ones on each stream (from `connected` for the first is
  // not counted: the interval timer starts before the `connected` write).
  const gaps: number[] = [];
  let noHeartbeat = 0;
  for (const s of streams) {
    for (let i = 1; i < s.heartbeats.length; i++) gaps.push(s.heartbeats[i]! - s.heartbeats[i - 1]!);
    const until = s.completeAt ?? tEnd;
    if (s.connectedAt !== undefined && s.heartbeats.length === 0 && until - s.connectedAt >= 2.5 * heartbeatMs) noHeartbeat++;
  }
  // The logs, outside every measured window.
  const r: SseReport = {
    type: 'report',
    clients: streams.length,
    connected: streams.filter((s) => s.connectedAt !== undefined).length,
    completed: streams.filter((s) => s.completeAt !== undefined).length,
    incomplete: streams.filter((s) => s.completeAt === undefined).length,
    delivered: streams.reduce((a, s) => a + s.ids.size, 0),
    expected: 0,
    lost: 0,
    duplicates: streams.reduce((a, s) => a + s.dup, 0),
    extra: 0,
    heartbeatGaps: { n: gaps.length, p50: pct(gaps, 50), p99: pct(gaps, 99), max: gaps.length ? gaps.reduce((a, b) => Math.max(a, b), 0) : NaN, late: gaps.filter((g) => g > 1.5 * heartbeatMs).length },
    noHeartbeat,
    executions: { ok: 0, notTerminal: 0, duplicated: 0, notCompleted: 0, unreadable: 0 },
    lastCompleteAt: streams.reduce((a, s) => Math.max(a, s.completeWall ?? 0), 0),
    errors,
    cpuMs: 0,
  };
  const queue = [...streams];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let s = queue.pop(); s; s = queue.pop()) {
        const items = await readEvents(baseUrl, s.id).catch(() => undefined);
        if (!items) {
          r.executions.unreadable++;
          continue;
        }
        const c = checkLog(items);
        if (c.completions === 0) r.executions.notTerminal++;
        else if (c.completions > 1) r.executions.duplicated++;
        else if (c.status !== 'completed') r.executions.notCompleted++;
        else r.executions.ok++;
        if (s.completeAt === undefined) continue;
        const expected = new Set(items.filter((e) => !SILENT.has(e.type)).map((e) => e.id));
        r.expected += expected.size;
        for (const id of expected) if (!s.ids.has(id)) r.lost++;
        for (const id of s.ids) if (!expected.has(id)) r.extra++;
      }
    }),
  );
  const c = process.cpuUsage();
  r.cpuMs = (c.user + c.system) / 1000;
  return r;
}

let opened: OpenMsg | undefined;
process.on('message', (m: OpenMsg | FinishMsg) => {
  if (m.type === 'open') {
    opened = m;
    void open(m).then((r) => process.send!(r));
  } else if (m.type === 'finish') {
    void finish(m, opened!.heartbeatMs, opened!.baseUrl).then(
      (r) => process.send!(r),
      (e: unknown) => process.send!({ type: 'error', error: String(e instanceof Error ? e.stack : e) }),
    );
  }
});
