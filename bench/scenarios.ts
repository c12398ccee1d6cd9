/**
 * W6 many SSE clients and W7 SIGKILL recovery: multi-phase scenarios on a distributed stack
 * (gateway | workflows,approvals | executions | steps). run.ts turns their results into rows.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { ApproveAllJob, ApproveAllResult, ExecuteManyJob, ExecuteManyResult } from './loadgen';
import type { ConnectedMsg, OpenMsg, SseReport } from './sse-clients';
import { CpuMeter, track, type CpuSample, type Stack } from './lib/stack';
import { api, HEADERS, readEvents, verify, type Verification } from './lib/api';
import { peakRssMiB, rssMiB, sleep } from './lib/util';

export interface ScenarioDeps {
  executeMany(job: ExecuteManyJob): Promise<ExecuteManyResult>;
  approveAll(job: ApproveAllJob): Promise<ApproveAllResult>;
  log(...a: unknown[]): void;
}

const trig = (next: string[]) => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });

async function createWorkflow(base: string, name: string, steps: unknown[]): Promise<string> {
  const r = await api(base, 'POST', '/api/workflows', { name: `bench-${name}`, description: 'bench', steps });
  if (r.status !== 201 && r.status !== 200) throw new Error(`workflow ${name} rejected: ${r.status} ${r.text.slice(0, 300)}`);
  return r.json.id as string;
}

/** The soft limit on open files that children of this process get. */
export function fdLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

// ---------------------------------------------------------------- W6: many SSE clients

export interface W6ClientsOptions {
  clients: number;
  heartbeatMs: number;
  connectTimeoutMs: number;
  finishTimeoutMs: number;
}

export interface W6ClientsResult {
  clients: number;
  processes: number;
  fdLimit: number;
  started: number;
  startErrors: string[];
  startMs: number;
  connected: number;
  connectFailed: number;
  connectMs: number;
  approved: number;
  approveMs: number;
  approveErrors: string[];
  /** First approval sent → last `complete` received by any client. */
  releaseToLastCompleteMs: number;
  /** Summed over the client processes (heartbeat gap p50/p99: the worst process's). */
  report?: Omit<SseReport, 'type'>;
  /** Some client process did not report in time (then `report` covers the others). */
  missingReports: number;
  gatewayRssConnectedMiB?: number;
  gatewayPeakRssMiB?: number;
  gatewayCpuMs?: number;
  cpu?: CpuSample;
  windowMs: number;
  error?: string;
}

/**
 * N executions of trigger → human_approval → data_transform, one SSE client per execution in
 * separate client processes, all connected while the runs wait; heartbeats during a hold of three
 * intervals; then every approval is granted over HTTP and every client must receive every event
 * of its execution's log up to `complete`.
 */
export async function w6ManyClients(stack: Stack, o: W6ClientsOptions, d: ScenarioDeps): Promise<W6ClientsResult> {
  const limit = fdLimit();
  // One client socket = one fd in a client process; keep each process well under its limit.
  const processes = Math.min(4, Math.max(Math.ceil(o.clients / 5000), Math.ceil(o.clients / Math.max(1, limit - 500))));
  const r: W6ClientsResult = { clients: o.clients, processes, fdLimit: limit, started: 0, startErrors: [], startMs: 0, connected: 0, connectFailed: 0, connectMs: 0, approved: 0, approveMs: 0, approveErrors: [], releaseToLastCompleteMs: NaN, missingReports: 0, windowMs: 0 };
  if (limit < o.clients + 500) d.log(`W6: open-file limit ${limit} < ${o.clients} clients + 500: the gateway may hit EMFILE`);
  const wf = await createWorkflow(stack.baseUrl, 'w6-approval', [
    trig(['approve']),
    { step_id: 'approve', step_type: 'human_approval', parameters: { approvers: [], message: 'bench' }, next_steps: ['done'] },
    { step_id: 'done', step_type: 'data_transform', parameters: { mapping: { ok: true } }, next_steps: [] },
  ]);
  const probe = await probeApproval(stack.baseUrl, wf);
  if (probe) {
    r.error = `probe run: ${probe}`;
    return r;
  }

  d.log(`W6: starting ${o.clients} executions that wait for an approval`);
  const st = await d.executeMany({ kind: 'execute-many', baseUrl: stack.baseUrl, workflowId: wf, headers: HEADERS, trigger: { kind: 'api' }, count: o.clients, concurrency: 32 });
  r.started = st.ids.length;
  r.startErrors = st.errorSamples;
  r.startMs = st.ms;
  if (st.ids.length === 0) {
    r.error = `no execution started: ${st.errorSamples.join('; ')}`;
    return r;
  }

  const gw = stack.proc('gateway');
  const meter = new CpuMeter(() => stack.processes());
  await meter.start();
  const t0 = performance.now();
  const children: ChildProcess[] = [];
  try {
    const slices = Array.from({ length: processes }, (_, k) => st.ids.filter((_, i) => i % processes === k));
    d.log(`W6: opening ${st.ids.length} SSE streams from ${processes} client process(es) (open-file limit ${limit})`);
    const connected = await Promise.all(
      slices.map((ids) => {
        const c = track(fork(join(__dirname, 'sse-clients.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
        children.push(c);
        const msg: OpenMsg = { type: 'open', baseUrl: stack.baseUrl, headers: HEADERS, ids, maxPending: 64, connectTimeoutMs: o.connectTimeoutMs, heartbeatMs: o.heartbeatMs };
        c.send(msg);
        return reply<ConnectedMsg>(c, 'connected', o.connectTimeoutMs + 30_000);
      }),
    );
    r.connectMs = performance.now() - t0;
    r.connected = connected.reduce((a, m) => a + (m?.connected ?? 0), 0);
    r.connectFailed = connected.reduce((a, m) => a + (m?.failed ?? 0), 0);
    const errs = connected.flatMap((m) => m?.errors ?? []);
    d.log(`W6: ${r.connected}/${st.ids.length} connected in ${Math.round(r.connectMs)} ms${errs.length ? `; errors: ${errs.slice(0, 3).join('; ')}` : ''}`);
    // Let heartbeats happen while every run waits.
    await sleep(3 * o.heartbeatMs + 500);
    r.gatewayRssConnectedMiB = rssMiB(gw.pid);

    d.log('W6: approving every pending approval');
    const release = Date.now();
    const ap = await d.approveAll({ kind: 'approve-all', baseUrl: stack.baseUrl, headers: HEADERS, expected: st.ids.length, concurrency: 16, timeoutMs: o.finishTimeoutMs });
    r.approved = ap.approved;
    r.approveMs = ap.ms;
    r.approveErrors = ap.errorSamples;
    for (const c of children) c.send({ type: 'finish', timeoutMs: Math.max(10_000, o.finishTimeoutMs - ap.ms) });
    // Reports include the log comparison (one events read per execution): allow for it.
    const reports = await Promise.all(children.map((c) => reply<SseReport>(c, 'report', o.finishTimeoutMs + 120_000 + st.ids.length * 30)));
    r.windowMs = performance.now() - t0;
    const cpu = await meter.stop();
    r.cpu = cpu;
    r.gatewayCpuMs = cpu.byGroup['jetflow[gateway]'];
    r.gatewayPeakRssMiB = peakRssMiB(gw.pid);
    const got = reports.filter((x): x is SseReport => !!x);
    r.missingReports = reports.length - got.length;
    if (got.length) {
      r.report = merge(got);
      if (r.report.lastCompleteAt) r.releaseToLastCompleteMs = r.report.lastCompleteAt - release;
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
  return r;
}

function merge(rs: SseReport[]): Omit<SseReport, 'type'> {
  const sum = (f: (x: SseReport) => number) => rs.reduce((a, x) => a + f(x), 0);
  const max = (xs: number[]) => xs.filter(Number.isFinite).reduce((a, b) => (Number.isFinite(a) ? Math.max(a, b) : b), NaN);
  return {
    clients: sum((x) => x.clients),
    connected: sum((x) => x.connected),
    completed: sum((x) => x.completed),
    incomplete: sum((x) => x.incomplete),
    delivered: sum((x) => x.delivered),
    expected: sum((x) => x.expected),
    lost: sum((x) => x.lost),
    duplicates: sum((x) => x.duplicates),
    extra: sum((x) => x.extra),
    heartbeatGaps: { n: sum((x) => x.heartbeatGaps.n), p50: max(rs.map((x) => x.heartbeatGaps.p50)), p99: max(rs.map((x) => x.heartbeatGaps.p99)), max: max(rs.map((x) => x.heartbeatGaps.max)), late: sum((x) => x.heartbeatGaps.late) },
    noHeartbeat: sum((x) => x.noHeartbeat),
    executions: { ok: sum((x) => x.executions.ok), notTerminal: sum((x) => x.executions.notTerminal), duplicated: sum((x) => x.executions.duplicated), notCompleted: sum((x) => x.executions.notCompleted), unreadable: sum((x) => x.executions.unreadable) },
    lastCompleteAt: rs.reduce((a, x) => Math.max(a, x.lastCompleteAt), 0),
    errors: rs.flatMap((x) => x.errors).slice(0, 5),
    cpuMs: sum((x) => x.cpuMs),
  };
}

/** The next IPC message of `type` from `c`, or undefined after `timeoutMs` or if the process exits. */
function reply<T extends { type: string }>(c: ChildProcess, type: T['type'], timeoutMs: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const done = (v: T | undefined) => {
      clearTimeout(timer);
      c.off('message', on);
      c.off('exit', onExit);
      resolve(v);
    };
    const on = (m: T) => {
      if (m?.type === type) done(m);
    };
    const onExit = () => done(undefined);
    const timer = setTimeout(() => done(undefined), timeoutMs);
    c.on('message', on);
    c.on('exit', onExit);
  });
}

/** One run through the approval: undefined when it completes, else what went wrong. */
async function probeApproval(base: string, workflowId: string): Promise<string | undefined> {
  const st = await api(base, 'POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'api' } });
  if (st.status !== 202) return `execute ${st.status} ${st.text.slice(0, 200)}`;
  const id = st.json.execution_id as string;
  const deadline = Date.now() + 30_000;
  let approved = false;
  while (Date.now() < deadline) {
    if (!approved) {
      const l = await api(base, 'GET', `/api/approvals?status=pending&execution_id=${id}`);
      const a = l.json?.items?.[0];
      if (a) {
        const d = await api(base, 'POST', `/api/approvals/${a.id}`, { decision: 'approved' });
        if (d.status !== 200) return `approve ${d.status} ${d.text.slice(0, 200)}`;
        approved = true;
      }
    }
    const items = await readEvents(base, id);
    const done = items?.find((e) => e.type === 'ExecutionCompleted');
    if (done) return done.status === 'completed' ? undefined : `ended ${done.status}: ${JSON.stringify(done.error ?? '').slice(0, 200)}`;
    await sleep(200);
  }
  return approved ? 'not complete 30 s after the approval' : 'no pending approval within 30 s';
}

// ---------------------------------------------------------------- W7: SIGKILL recovery

export interface W7RecoveryOptions {
  executions: number;
  delaySeconds: number;
  timeoutMs: number;
}

export interface W7RecoveryResult {
  executions: number;
  started: number;
  startErrors: string[];
  startErrorCount: number;
  startMs: number;
  /** Not terminal when the processes were killed (seen on the log). */
  inFlightAtKill: number;
  /** Restart (spawn of the new processes) → last ExecutionCompleted on the log. */
  restartToAllTerminalMs: number;
  killToAllTerminalMs: number;
  /** When the last delay timer was due, relative to the restart (negative: already due). */
  lastTimerDueAfterRestartMs: number;
  terminalSeen: number;
  verification?: Verification;
  error?: string;
}

/**
 * M executions of trigger → delay → 3 × tool_call noop started; as soon as every start is
 * acknowledged, the executions and steps processes are SIGKILLed and started again. Time until every
 * execution is terminal (from the log), then exactly one ExecutionCompleted (status completed) and no
 * step result twice per execution.
 */
export async function w7Recovery(stack: Stack, o: W7RecoveryOptions, d: ScenarioDeps): Promise<W7RecoveryResult> {
  const r: W7RecoveryResult = { executions: o.executions, started: 0, startErrors: [], startErrorCount: 0, startMs: 0, inFlightAtKill: 0, restartToAllTerminalMs: NaN, killToAllTerminalMs: NaN, lastTimerDueAfterRestartMs: NaN, terminalSeen: 0 };
  const wf = await createWorkflow(stack.baseUrl, 'w7-recovery', [
    trig(['wait']),
    { step_id: 'wait', step_type: 'delay', parameters: { seconds: o.delaySeconds }, next_steps: ['s1'] },
    { step_id: 's1', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { step: 1 } }, next_steps: ['s2'] },
    { step_id: 's2', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { step: 2 } }, next_steps: ['s3'] },
    { step_id: 's3', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { step: 3 } }, next_steps: [] },
  ]);
  // Completion times from the log: one ordered consumer from "now" over every execution's events.
  const nc = await connect({ servers: stack.nats.url });
  const done = new Map<string, number>();
  try {
    const consumer = await jetstream(nc).consumers.get('JETFLOW_EXECUTIONS', { filter_subjects: 'jetflow.exec.*.events', deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    const dec = new TextDecoder();
    void (async () => {
      for await (const m of messages) {
        if (!dec.decode(m.data).includes('"ExecutionCompleted"')) continue;
        const id = m.subject.split('.')[2]!;
        if (!done.has(id)) done.set(id, performance.now());
      }
    })();

    const tStart = performance.now();
    const st = await d.executeMany({ kind: 'execute-many', baseUrl: stack.baseUrl, workflowId: wf, headers: HEADERS, trigger: { kind: 'api' }, count: o.executions, concurrency: 32 });
    r.started = st.ids.length;
    r.startErrors = st.errorSamples;
    r.startErrorCount = st.errors;
    r.startMs = st.ms;
    if (!st.ids.length) throw new Error(`no execution started: ${st.errorSamples.join('; ')}`);

    r.inFlightAtKill = st.ids.filter((id) => !done.has(id)).length;
    d.log(`W7: ${r.inFlightAtKill}/${st.ids.length} in flight; SIGKILL executions + steps`);
    const tKill = performance.now();
    await stack.kill(['executions', 'steps']);
    await stack.restart(['executions', 'steps']);
    const tRestart = performance.now();
    // Each run's timer is due delaySeconds after its start; the last start ended at tStart + startMs.
    r.lastTimerDueAfterRestartMs = tStart + st.ms + o.delaySeconds * 1000 - tRestart;

    const deadline = Date.now() + o.timeoutMs;
    while (Date.now() < deadline && st.ids.some((id) => !done.has(id))) await sleep(100);
    r.terminalSeen = st.ids.filter((id) => done.has(id)).length;
    if (r.terminalSeen === st.ids.length) {
      const last = st.ids.reduce((a, id) => Math.max(a, done.get(id)!), 0);
      r.restartToAllTerminalMs = last - tRestart;
      r.killToAllTerminalMs = last - tKill;
    }
    messages.stop();
    d.log(`W7: ${r.terminalSeen}/${st.ids.length} terminal; verifying`);
    r.verification = await verify(stack.baseUrl, st.ids, o.executions, 10_000);
  } catch (e) {
    r.error = String(e instanceof Error ? e.message : e).slice(0, 300);
  } finally {
    await nc.close().catch(() => undefined);
  }
  return r;
}
