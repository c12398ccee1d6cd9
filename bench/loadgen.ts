/**
 * Load generator: a separate Node process (forked by run.ts) that drives load over loopback with
 * keep-alive agents, at a fixed arrival rate (open loop: latency is measured from the *scheduled*
 * start, so queueing is not hidden) or with N callers (closed loop). Jobs arrive over IPC.
 */
import http from 'node:http';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';

export interface JetflowJob {
  kind: 'jetflow';
  baseUrl: string;
  workflowId: string;
  headers: Record<string, string>;
  trigger: Record<string, unknown>;
  mode: 'open' | 'closed';
  rate?: number;
  concurrency?: number;
  durationMs: number;
  /**
   * 'log': completion seen on the JetStream log (one ordered consumer; step-to-step gaps from the
   * logged StepCompleted times); 'sse': per-execution SSE stream (also the first event's arrival).
   */
  observe: 'log' | 'sse';
  natsUrl: string;
  stream: string;
  /** Open loop: give up on executions not complete this long after the window. */
  drainTimeoutMs?: number;
}

export interface HttpJob {
  kind: 'http';
  url: string;
  method: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  mode: 'open' | 'closed';
  rate?: number;
  concurrency?: number;
  durationMs: number;
}

/** Starts `count` executions as fast as `concurrency` callers can (no waiting for completion). */
export interface ExecuteManyJob {
  kind: 'execute-many';
  baseUrl: string;
  workflowId: string;
  headers: Record<string, string>;
  trigger: Record<string, unknown>;
  count: number;
  concurrency: number;
}
export interface ExecuteManyResult {
  ids: string[];
  errors: number;
  errorSamples: string[];
  ms: number;
}

/** Approves pending approvals of the scope (pages of `GET /api/approvals?status=pending`) until `expected` are approved or the time is up. */
export interface ApproveAllJob {
  kind: 'approve-all';
  baseUrl: string;
  headers: Record<string, string>;
  expected: number;
  concurrency: number;
  timeoutMs: number;
}
export interface ApproveAllResult {
  approved: number;
  errors: number;
  errorSamples: string[];
  ms: number;
}

/** Opens `runs` SSE streams one after the other on a finished execution, each from the start, and times the replay. */
export interface SseCatchUpJob {
  kind: 'sse-catchup';
  url: string;
  headers: Record<string, string>;
  runs: number;
  timeoutMs: number;
}
export interface SseCatchUpResult {
  /** Request → `complete` (the last event of the log), per run. */
  ms: number[];
  /** Request → first event of the log, per run. */
  firstMs: number[];
  /** Messages with an id received, per run; distinct ids. */
  events: number[];
  distinct: number[];
  errors: string[];
}

export type Job = JetflowJob | HttpJob | ExecuteManyJob | ApproveAllJob | SseCatchUpJob;

export interface LoadResult {
  started: number;
  completedInWindow: number;
  completed: number;
  errors: number;
  errorSamples: string[];
  windowMs: number;
  throughput: number;
  latencyMs: number[];
  firstEventMs: number[];
  /** SSE runs: the execute response's share of `firstEventMs` (scheduled start → 202 read), per run. */
  executeMs: number[];
  /** step_complete → next step_complete (server event times), from SSE or from the log. */
  stepGapMs: number[];
  /** Executions that completed with fewer than 2 non-trigger step completions (no step-to-step sample). */
  shortStreams: number;
  /** `complete` status (sse) or ExecutionCompleted status (log) → count. */
  completeStatuses: Record<string, number>;
  ids: string[];
  /** ExecutionCompleted count per id seen on the log (observe=log only). */
  completedCounts?: Record<string, number>;
  loadgenCpuMs: number;
  /** ms from the window start to the last completion. */
  lastDoneMs: number;
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function request(agent: http.Agent, url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

interface SseTimes {
  firstEvent?: number;
  stepCompletes: number[];
  complete?: number;
  status?: string;
}

/** Follows /stream until `complete` (or error); resolves with arrival times. */
function followSse(agent: http.Agent, url: string, headers: Record<string, string>): Promise<SseTimes> {
  return new Promise((resolve, reject) => {
    const times: SseTimes = { stepCompletes: [] };
    const req = http.get(url, { agent, headers: { ...headers, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`SSE status ${res.statusCode}`));
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const t = now();
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const m = /^event: ?(.*)$/m.exec(block);
          const ev = m ? m[1]!.trim() : 'message';
          if (ev === 'connected' || ev === 'heartbeat') continue;
          times.firstEvent ??= t;
          if (ev === 'step_complete') {
            // Server-side event time (the actor's clock), so a late subscriber replaying history still measures the gaps.
            const d = /^data: ?(.*)$/m.exec(block);
            try {
              const data = JSON.parse(d ? d[1]! : '{}') as { timestamp?: string; step?: string };
              if (data.step !== 'trigger' && data.timestamp) times.stepCompletes.push(Date.parse(data.timestamp));
            } catch {
              /* ignore */
            }
          }
          if (ev === 'complete') {
            times.complete = t;
            try {
              const d = /^data: ?(.*)$/m.exec(block);
              times.status = (JSON.parse(d ? d[1]! : '{}') as { status?: string }).status ?? 'unknown';
            } catch {
              times.status = 'unparsable';
            }
            // The server ends the response after `complete`: the connection then goes back to the
            // keep-alive pool for the next stream, as a browser's would. One that does not end is cut.
            resolve(times);
            const cut = setTimeout(() => req.destroy(), 5_000);
            res.once('end', () => clearTimeout(cut));
            res.once('close', () => clearTimeout(cut));
            return;
          }
        }
      });
      res.on('end', () => resolve(times));
      res.on('error', () => resolve(times));
    });
    req.on('error', (e) => (times.complete ? resolve(times) : reject(e)));
    req.setTimeout(120_000, () => req.destroy(new Error('sse timeout')));
  });
}

/** One ordered consumer over every execution's events subject, from "now": completion from the log. */
class LogWatcher {
  private waiters = new Map<string, () => void>();
  private early = new Set<string>();
  counts: Record<string, number> = {};
  statuses: Record<string, number> = {};
  /** Server times (ms) of each execution's non-trigger StepCompleted, in log order, until it completes. */
  private stepTimes = new Map<string, number[]>();
  /** step_complete → next step_complete of one execution, from the actor's event times. */
  stepGaps: number[] = [];
  /** Completed executions with fewer than 2 non-trigger StepCompleted (no gap sample). */
  shortRuns = 0;
  private stop?: () => void;
  static async open(nc: NatsConnection, stream: string, withGaps: boolean): Promise<LogWatcher> {
    const w = new LogWatcher();
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, { filter_subjects: 'jetflow.exec.*.events', deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    w.stop = () => messages.stop();
    const dec = new TextDecoder();
    void (async () => {
      for await (const m of messages) {
        const text = dec.decode(m.data);
        const completed = text.includes('"ExecutionCompleted"');
        if (!completed && !(withGaps && text.includes('"StepCompleted"'))) continue;
        const id = m.subject.split('.')[2]!;
        if (completed) w.counts[id] = (w.counts[id] ?? 0) + ((text.match(/"type":"ExecutionCompleted"/g) ?? []).length || 1);
        try {
          const parsed = JSON.parse(text) as unknown;
          const events = (Array.isArray(parsed) ? parsed : ((parsed as { events?: unknown[] }).events ?? [])) as { type?: string; status?: string; step_id?: string; at?: string }[];
          for (const e of events) {
            if (e.type === 'ExecutionCompleted') w.statuses[e.status ?? 'unknown'] = (w.statuses[e.status ?? 'unknown'] ?? 0) + 1;
            if (withGaps && e.type === 'StepCompleted' && e.step_id !== 'trigger' && e.at) {
              const times = w.stepTimes.get(id) ?? [];
              times.push(Date.parse(e.at));
              w.stepTimes.set(id, times);
            }
          }
        } catch {
          /* not an array of events: counted above */
        }
        if (!completed) continue;
        if (withGaps) {
          const times = w.stepTimes.get(id) ?? [];
          w.stepTimes.delete(id);
          for (let i = 1; i < times.length; i++) w.stepGaps.push(times[i]! - times[i - 1]!);
          if (times.length < 2) w.shortRuns++;
        }
        const fn = w.waiters.get(id);
        if (fn) {
          w.waiters.delete(id);
          fn();
        } else w.early.add(id);
      }
    })();
    return w;
  }
  wait(id: string): Promise<void> {
    if (this.early.delete(id)) return Promise.resolve();
    return new Promise((r) => this.waiters.set(id, r));
  }
  close() {
    this.stop?.();
  }
}

/**
 * Calls `one(scheduled)` until `tEnd`: closed loop (`concurrency` callers, each starting again when
 * its call ends) or open loop (`rate` per second from `t0`, `scheduled` = the planned start, so
 * queueing counts), then waits up to `drainMs` for the calls still going.
 */
async function drive(job: { mode: 'closed' | 'open'; concurrency?: number; rate?: number }, t0: number, tEnd: number, one: (scheduled: number) => Promise<void>, drainMs: number): Promise<void> {
  if (job.mode === 'closed') {
    await Promise.all(
      Array.from({ length: job.concurrency ?? 1 }, async () => {
        while (now() < tEnd) await one(now());
      }),
    );
    return;
  }
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / job.rate!;
  let next = t0;
  while (next < tEnd) {
    const t = now();
    while (next <= t && next < tEnd) {
      const p = one(next);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      next += interval;
    }
    await sleep(Math.max(0, Math.min(5, next - now())));
  }
  await Promise.race([Promise.all([...inflight]), sleep(drainMs)]);
}

async function runJetflow(job: JetflowJob): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.mode === 'closed' ? (job.concurrency ?? 1) : 512 });
  const sseAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let nc: NatsConnection | undefined;
  let watcher: LogWatcher | undefined;
  if (job.observe === 'log') {
    nc = await connect({ servers: job.natsUrl });
    watcher = await LogWatcher.open(nc, job.stream, job.mode === 'open');
  }
  const res: LoadResult = { started: 0, completedInWindow: 0, completed: 0, errors: 0, errorSamples: [], windowMs: job.durationMs, throughput: 0, latencyMs: [], firstEventMs: [], executeMs: [], stepGapMs: [], shortStreams: 0, completeStatuses: {}, ids: [], loadgenCpuMs: 0, lastDoneMs: 0 };
  const body = JSON.stringify({ trigger: job.trigger });
  const t0 = now();
  const tEnd = t0 + job.durationMs;
  const fail = (e: unknown) => {
    res.errors++;
    if (res.errorSamples.length < 5) res.errorSamples.push(String(e instanceof Error ? e.message : e).slice(0, 300));
  };

  const one = async (scheduled: number): Promise<void> => {
    res.started++;
    try {
      const r = await request(agent, `${job.baseUrl}/api/workflows/${job.workflowId}/execute`, 'POST', body, job.headers);
      if (r.status !== 202 && r.status !== 201 && r.status !== 200) throw new Error(`execute ${r.status} ${r.body.slice(0, 200)}`);
      const executed = now();
      const id = (JSON.parse(r.body) as { execution_id: string }).execution_id;
      res.ids.push(id);
      let done: number;
      if (job.observe === 'log') {
        await watcher!.wait(id);
        done = now();
      } else {
        const times = await followSse(sseAgent, `${job.baseUrl}/api/executions/${id}/stream`, job.headers);
        if (times.complete === undefined) throw new Error('SSE ended without complete');
        done = times.complete;
        if (times.firstEvent !== undefined) {
          res.firstEventMs.push(times.firstEvent - scheduled);
          res.executeMs.push(executed - scheduled);
        }
        for (let i = 1; i < times.stepCompletes.length; i++) res.stepGapMs.push(times.stepCompletes[i]! - times.stepCompletes[i - 1]!);
        if (times.stepCompletes.length < 2) res.shortStreams++;
        res.completeStatuses[times.status!] = (res.completeStatuses[times.status!] ?? 0) + 1;
      }
      res.completed++;
      if (done <= tEnd) res.completedInWindow++;
      res.latencyMs.push(done - scheduled);
      res.lastDoneMs = Math.max(res.lastDoneMs, done - t0);
    } catch (e) {
      fail(e);
    }
  };

  await drive(job, t0, tEnd, one, job.drainTimeoutMs ?? 60_000);
  res.windowMs = job.durationMs;
  res.throughput = (res.completedInWindow / job.durationMs) * 1000;
  if (watcher) {
    await sleep(200);
    res.completedCounts = watcher.counts;
    res.completeStatuses = watcher.statuses;
    res.stepGapMs = watcher.stepGaps;
    res.shortStreams = watcher.shortRuns;
    watcher.close();
  }
  await nc?.close();
  agent.destroy();
  sseAgent.destroy();
  const c = process.cpuUsage(cpu0);
  res.loadgenCpuMs = (c.user + c.system) / 1000;
  return res;
}

async function runHttp(job: HttpJob): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.mode === 'closed' ? (job.concurrency ?? 1) : 512 });
  const res: LoadResult = { started: 0, completedInWindow: 0, completed: 0, errors: 0, errorSamples: [], windowMs: job.durationMs, throughput: 0, latencyMs: [], firstEventMs: [], executeMs: [], stepGapMs: [], shortStreams: 0, completeStatuses: {}, ids: [], loadgenCpuMs: 0, lastDoneMs: 0 };
  const t0 = now();
  const tEnd = t0 + job.durationMs;
  const one = async (scheduled: number) => {
    res.started++;
    try {
      const r = await request(agent, job.url, job.method, job.body, job.headers ?? {});
      if (r.status >= 300) throw new Error(`status ${r.status} ${r.body.slice(0, 200)}`);
      const done = now();
      res.completed++;
      if (done <= tEnd) res.completedInWindow++;
      res.latencyMs.push(done - scheduled);
    } catch (e) {
      res.errors++;
      if (res.errorSamples.length < 5) res.errorSamples.push(String(e instanceof Error ? e.message : e).slice(0, 300));
    }
  };
  await drive(job, t0, tEnd, one, 60_000);
  res.throughput = (res.completedInWindow / job.durationMs) * 1000;
  agent.destroy();
  const c = process.cpuUsage(cpu0);
  res.loadgenCpuMs = (c.user + c.system) / 1000;
  return res;
}

async function executeMany(job: ExecuteManyJob): Promise<ExecuteManyResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const out: ExecuteManyResult = { ids: [], errors: 0, errorSamples: [], ms: 0 };
  const body = JSON.stringify({ trigger: job.trigger });
  const t0 = now();
  let left = job.count;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (left > 0) {
        left--;
        try {
          const r = await request(agent, `${job.baseUrl}/api/workflows/${job.workflowId}/execute`, 'POST', body, job.headers);
          if (r.status !== 202 && r.status !== 201 && r.status !== 200) throw new Error(`execute ${r.status} ${r.body.slice(0, 200)}`);
          out.ids.push((JSON.parse(r.body) as { execution_id: string }).execution_id);
        } catch (e) {
          out.errors++;
          if (out.errorSamples.length < 5) out.errorSamples.push(String(e instanceof Error ? e.message : e).slice(0, 300));
        }
      }
    }),
  );
  out.ms = now() - t0;
  agent.destroy();
  return out;
}

async function sseCatchUp(job: SseCatchUpJob): Promise<SseCatchUpResult> {
  const out: SseCatchUpResult = { ms: [], firstMs: [], events: [], distinct: [], errors: [] };
  for (let r = 0; r < job.runs; r++) {
    const ids = new Set<string>();
    let events = 0;
    let first = NaN;
    const t0 = now();
    const done = await new Promise<number>((resolve) => {
      const req = http.get(job.url, { agent: false, headers: { ...job.headers, accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          out.errors.push(`status ${res.statusCode}`);
          resolve(NaN);
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (!block.startsWith('id:')) continue; // connected / heartbeat carry no id
            events++;
            if (events === 1) first = now() - t0;
            ids.add(block.slice(3, block.indexOf('\n')).trim());
            if (block.includes('\nevent: complete')) {
              const t = now() - t0;
              req.destroy();
              resolve(t);
              return;
            }
          }
        });
        res.on('end', () => resolve(NaN));
        res.on('error', () => resolve(NaN));
      });
      req.on('error', (e) => {
        out.errors.push(e.message);
        resolve(NaN);
      });
      req.setTimeout(job.timeoutMs, () => req.destroy(new Error('timeout')));
    });
    out.ms.push(done);
    out.firstMs.push(first);
    out.events.push(events);
    out.distinct.push(ids.size);
  }
  return out;
}

async function approveAll(job: ApproveAllJob): Promise<ApproveAllResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency + 1 });
  const out: ApproveAllResult = { approved: 0, errors: 0, errorSamples: [], ms: 0 };
  const t0 = now();
  const done = new Set<string>();
  const fail = (e: unknown) => {
    out.errors++;
    if (out.errorSamples.length < 5) out.errorSamples.push(String(e instanceof Error ? e.message : e).slice(0, 300));
  };
  while (out.approved < job.expected && now() - t0 < job.timeoutMs) {
    let page: { items: { id: string }[] };
    try {
      const r = await request(agent, `${job.baseUrl}/api/approvals?status=pending&limit=500`, 'GET', undefined, job.headers);
      if (r.status !== 200) throw new Error(`list ${r.status} ${r.body.slice(0, 200)}`);
      page = JSON.parse(r.body) as typeof page;
    } catch (e) {
      fail(e);
      await sleep(500);
      continue;
    }
    // The list is a projection: decided ones may still show as pending for a moment.
    const todo = page.items.map((a) => a.id).filter((id) => !done.has(id));
    if (todo.length === 0) {
      await sleep(200);
      continue;
    }
    await Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        for (let id = todo.pop(); id; id = todo.pop()) {
          try {
            const r = await request(agent, `${job.baseUrl}/api/approvals/${id}`, 'POST', JSON.stringify({ decision: 'approved', comment: 'bench' }), job.headers);
            if (r.status === 409) {
              done.add(id);
              continue;
            }
            if (r.status !== 200) throw new Error(`approve ${r.status} ${r.body.slice(0, 200)}`);
            done.add(id);
            out.approved++;
          } catch (e) {
            fail(e);
          }
        }
      }),
    );
  }
  out.ms = now() - t0;
  agent.destroy();
  return out;
}

process.on('message', (msg: { id: number; job: Job }) => {
  const j = msg.job;
  const run: Promise<unknown> = j.kind === 'jetflow' ? runJetflow(j) : j.kind === 'http' ? runHttp(j) : j.kind === 'execute-many' ? executeMany(j) : j.kind === 'sse-catchup' ? sseCatchUp(j) : approveAll(j);
  run.then(
    (result) => process.send!({ id: msg.id, result }),
    (err: unknown) => process.send!({ id: msg.id, error: String(err instanceof Error ? err.stack : err) }),
  );
});
