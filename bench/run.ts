/**
 * `npm run bench [-- --quick] [-- --skip-peer] [-- --cpu-prof]`: Jetflow side by side with raw
 * JetStream, a no-op Fastify route and Restate, on this machine, in one run.
 * Starts everything it needs, warms up, measures, verifies (exactly one ExecutionCompleted per
 * execution), prints one table, writes bench/results/<timestamp>.{json,md,svg}.
 */
import '../apps/all-in-one/src/register-aliases';
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { STREAMS } from '@jetflow/contracts';
import type { ApproveAllJob, ApproveAllResult, ExecuteManyJob, ExecuteManyResult, HttpJob, JetflowJob, Job, LoadResult, SseCatchUpJob, SseCatchUpResult } from './loadgen';
import { CpuMeter, killTracked, NatsServer, REPO, Stack, track, type CpuSample } from './lib/stack';
import { cpuMs, freePort, median, p99RangeNote, peakRssMiB, round, sleep, summarize, summarizeRuns, waitForPort } from './lib/util';
import { catchUpLog, w0, w7, type W0Result, type W7Result } from './jetstream';
import type { RestateRow } from './restate-peer';
import { renderChart, type Series } from './chart';
import { api, HEADERS, mergeVerifications, probeRun, verificationText, verify, type Verification } from './lib/api';
import { w6ManyClients, w7Recovery, type ScenarioDeps, type W6ClientsResult, type W7RecoveryResult } from './scenarios';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const SKIP_PEER = argv.includes('--skip-peer');
const CPU_PROF = argv.includes('--cpu-prof');
const P = QUICK
  ? { dur: 1500, warm: 700, runs: 1, conc: 64, w5: 1000, restateConc: [64], distributed: false, w2a: false, w6Clients: 1000, w6TimeoutMs: 90_000, w7Executions: 200, w7DelayS: 3, w7TimeoutMs: 90_000 }
  : { dur: 5000, warm: 2000, runs: 3, conc: 64, w5: 10_000, restateConc: [64, 128], distributed: true, w2a: true, w6Clients: 10_000, w6TimeoutMs: 300_000, w7Executions: 1000, w7DelayS: 5, w7TimeoutMs: 180_000 };
const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (arg('w6-clients')) P.w6Clients = Number(arg('w6-clients'));
if (arg('w7-executions')) P.w7Executions = Number(arg('w7-executions'));
/** `--only=w0,allinone,distributed,w6,recovery,peer`: run just these sections (for working on the harness). */
const ONLY = arg('only')?.split(',');
const section = (name: string) => !ONLY || ONLY.includes(name);
/** Gateway heartbeat for the W6 stack, so heartbeats happen within the window (default is 30 s). */
const W6_HEARTBEAT_MS = 2000;

const STREAM = STREAMS.executions;
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------- load generator (separate process) ----------
let loadgen: ChildProcess;
let reqId = 0;
function load(job: JetflowJob | HttpJob): Promise<LoadResult>;
function load(job: ExecuteManyJob): Promise<ExecuteManyResult>;
function load(job: ApproveAllJob): Promise<ApproveAllResult>;
function load(job: SseCatchUpJob): Promise<SseCatchUpResult>;
function load(job: Job): Promise<unknown> {
  const id = ++reqId;
  return new Promise((res, rej) => {
    const on = (m: { id: number; result?: unknown; error?: string }) => {
      if (m.id !== id) return;
      loadgen.off('message', on);
      if (m.error) rej(new Error(m.error));
      else res(m.result!);
    };
    loadgen.on('message', on);
    loadgen.send({ id, job });
  });
}

// ---------- workflows ----------
const trig = (next: string[]) => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });
const chain = (mk: (id: string) => Record<string, unknown>) => [
  trig(['s1']),
  { step_id: 's1', ...mk('s1'), next_steps: ['s2'] },
  { step_id: 's2', ...mk('s2'), next_steps: ['s3'] },
  { step_id: 's3', ...mk('s3'), next_steps: [] },
];
const WORKFLOWS: Record<string, unknown[]> = {
  w1a: chain((id) => ({ step_type: 'data_transform', parameters: { mapping: { step: id, n: '{{input.n}}' } } })),
  w1b: chain((id) => ({ step_type: 'tool_call', parameters: { tool: 'noop', arguments: { step: id, n: '{{input.n}}' } } })),
  w3: [
    trig(['fan']),
    { step_id: 'fan', step_type: 'parallel', parameters: {}, next_steps: Array.from({ length: 10 }, (_, i) => `b${i}`) },
    ...Array.from({ length: 10 }, (_, i) => ({ step_id: `b${i}`, step_type: 'data_transform', parameters: { mapping: { b: i } }, next_steps: ['join'] })),
    { step_id: 'join', step_type: 'data_transform', parameters: { mapping: { joined: true } }, next_steps: [] },
  ],
  w4: chain(() => ({ step_type: 'data_transform', parameters: { mapping: { blob: '{{input.blob}}' } } })),
  w7: [
    trig(['each']),
    { step_id: 'each', step_type: 'loop', parameters: { items: '{{input.items}}', body: ['work'], max_iterations: 10000 }, next_steps: [] },
    { step_id: 'work', step_type: 'data_transform', parameters: { mapping: { i: '{{loop.index}}' } }, next_steps: [] },
  ],
};

async function createWorkflow(base: string, name: string, steps: unknown[]): Promise<{ id?: string; error?: string }> {
  const r = await api(base, 'POST', '/api/workflows', { name: `bench-${name}`, description: 'bench', steps });
  if (r.status !== 201 && r.status !== 200) return { error: `${r.status} ${r.text.slice(0, 400)}` };
  return { id: r.json.id };
}

/** Runs `f` with a JetStream manager on a connection of its own to the stack's nats-server. */
async function withJsm<T>(natsUrl: string, f: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: natsUrl });
  try {
    return await f(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Sum of the last sequences of Jetflow's streams (Δ over a run = JetStream messages written). */
function streamSeqs(natsUrl: string): Promise<number> {
  return withJsm(natsUrl, async (jsm) => {
    let total = 0;
    for (const s of Object.values(STREAMS)) total += (await jsm.streams.info(s)).state.last_seq;
    return total;
  });
}

/**
 * Waits (up to `timeoutMs`) until every durable consumer of the stack's streams (the projections,
 * the step and timer workers) has nothing pending or unacknowledged: the previous workload's tail
 * (a projection catching up after a closed loop) must not be measured as part of the next one.
 */
function settle(natsUrl: string, timeoutMs = 30_000): Promise<void> {
  return withJsm(natsUrl, async (jsm) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let backlog = 0;
      for (const s of Object.values(STREAMS)) {
        // A consumer deleted while the list is read (an SSE history read's) comes back as null.
        for await (const c of jsm.consumers.list(s)) if (c?.config?.durable_name) backlog += c.num_pending + c.num_ack_pending;
      }
      if (backlog === 0) return;
      if (Date.now() > deadline) {
        log(`settle: ${backlog} entries still pending after ${timeoutMs} ms; measuring anyway`);
        return;
      }
      await sleep(100);
    }
  });
}

/** A load-generator job against `stack`'s Jetflow (completion observed on the log unless `shape` says otherwise). */
function jetflowJob(stack: Stack, workflowId: string, trigger: Record<string, unknown>, shape: Pick<JetflowJob, 'mode' | 'durationMs'> & Partial<JetflowJob>): JetflowJob {
  return { kind: 'jetflow', baseUrl: stack.baseUrl, workflowId, headers: HEADERS, trigger, observe: 'log', natsUrl: stack.nats.url, stream: STREAM, ...shape };
}

/** Restate's open-loop measurement at 50% of its own maximum. */
const restateAt50 = (r: RestateRow | undefined) => r?.latency.find((l) => l.fraction === 0.5);

interface Row {
  id: string;
  workload: string;
  layout: string;
  metric: string;
  value: number;
  unit: string;
  range?: [number, number];
  p50?: number;
  p99?: number;
  p999?: number;
  cpuMsPerExec?: number;
  peakRssMiB?: number;
  verified?: string;
  note?: string;
}
const rows: Row[] = [];
const raw: Record<string, unknown> = {};
/** Lost or duplicated executions: the only findings that make the harness exit non-zero (besides crashing). */
const problems: string[] = [];
/** Runs that ended but not `completed` (the workload did not run the shape it names): reported, rows marked INVALID. */
const warnings: string[] = [];
function record(what: string, v: Verification): Verification {
  if (v.lost || v.duplicated || v.duplicatedSteps) problems.push(`${what}: lost ${v.lost}, duplicated ${v.duplicated}, duplicated step results ${v.duplicatedSteps} (of ${v.checked})`);
  if (v.failed) warnings.push(`${what}: ${v.failed}/${v.checked} executions ended not completed, e.g. ${v.failedSamples.join('; ')}`);
  return v;
}
const addRow = (r: Row) => {
  rows.push(r);
  log(`${r.id} ${r.workload}: ${round(r.value, 1)} ${r.unit}${r.p99 !== undefined ? ` p50=${round(r.p50!)} p99=${round(r.p99)}` : ''}${r.verified ? ` [${r.verified}]` : ''}`);
};

interface ThroughputOut {
  tps: number[];
  median: number;
  cpu: CpuSample[];
  cpuMsPerExec: number;
  lat: number[];
  verified: string;
  results: LoadResult[];
  msgsPerExec?: number;
}

async function throughput(what: string, stack: Stack, workflowId: string, trigger: Record<string, unknown>, conc: number, countMsgs = false): Promise<ThroughputOut> {
  const job = jetflowJob(stack, workflowId, trigger, { mode: 'closed', concurrency: conc, durationMs: P.warm });
  await load(job); // warm-up (not measured)
  const meter = new CpuMeter(() => stack.processes());
  const tps: number[] = [];
  const cpu: CpuSample[] = [];
  const results: LoadResult[] = [];
  let msgs = 0,
    completed = 0;
  for (let r = 0; r < P.runs; r++) {
    await settle(stack.nats.url);
    const s0 = countMsgs ? await streamSeqs(stack.nats.url) : 0;
    await meter.start();
    const res = await load({ ...job, durationMs: P.dur });
    const c = await meter.stop();
    if (countMsgs) {
      msgs += (await streamSeqs(stack.nats.url)) - s0;
      completed += res.completed;
    }
    tps.push(res.throughput);
    cpu.push({ ...c, totalMs: c.totalMs / Math.max(1, res.completed) });
    results.push(res);
  }
  const ids = results.flatMap((r) => r.ids);
  const started = results.reduce((a, r) => a + r.started, 0);
  const v = record(what, await verify(stack.baseUrl, ids, started));
  const dupOnLog = results.reduce((a, r) => a + Object.values(r.completedCounts ?? {}).filter((n) => n > 1).length, 0);
  if (dupOnLog) problems.push(`${what}: ${dupOnLog} executions with 2+ ExecutionCompleted seen on the log`);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  const verified = verificationText({ ...v, duplicated: v.duplicated + dupOnLog }, errors);
  if (errors) log('errors:', results.flatMap((r) => r.errorSamples).slice(0, 3));
  return {
    tps,
    median: median(tps),
    cpu,
    cpuMsPerExec: median(cpu.map((c) => c.totalMs)),
    lat: results.flatMap((r) => r.latencyMs),
    verified,
    results,
    msgsPerExec: countMsgs ? msgs / Math.max(1, completed) : undefined,
  };
}

interface OpenLoopOut {
  /** One result per run (P.runs of them). */
  readonly runs: LoadResult[];
  /** Median achieved rate over the runs. */
  readonly throughput: number;
  /** Completions by status, summed over the runs. */
  readonly statuses: string;
  readonly completed: number;
  readonly shortStreams: number;
  readonly verified: string;
}

/**
 * P.runs windows at a fixed arrival rate (each after a settle, each verified). A tail percentile of
 * one 5 s window moves a lot between identical runs on this VM, so the rows report the median of
 * the runs' own percentiles and the range of their p99 (see `summarizeRuns`).
 */
async function openLoop(what: string, stack: Stack, workflowId: string, trigger: Record<string, unknown>, rate: number, durationMs: number, observe: 'log' | 'sse'): Promise<OpenLoopOut> {
  const runs: LoadResult[] = [];
  const vs: Verification[] = [];
  for (let r = 0; r < P.runs; r++) {
    await settle(stack.nats.url);
    const res = await load(jetflowJob(stack, workflowId, trigger, { mode: 'open', rate, durationMs, observe }));
    vs.push(record(P.runs > 1 ? `${what} run ${r + 1}` : what, await verify(stack.baseUrl, res.ids, res.started)));
    if (res.errors) log('errors:', res.errorSamples.slice(0, 3));
    runs.push(res);
  }
  const statuses: Record<string, number> = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.completeStatuses)) statuses[k] = (statuses[k] ?? 0) + n;
  return {
    runs,
    throughput: median(runs.map((r) => r.throughput)),
    statuses: Object.entries(statuses).map(([k, n]) => `${k} ${n}`).join(', ') || 'none',
    completed: runs.reduce((a, r) => a + r.completed, 0),
    shortStreams: runs.reduce((a, r) => a + r.shortStreams, 0),
    verified: verificationText(mergeVerifications(vs), runs.reduce((a, r) => a + r.errors, 0)),
  };
}

const peakRss = (c: CpuSample[]) => Math.max(...c.flatMap((x) => Object.entries(x.peakRssMiB).filter(([k]) => k.startsWith('jetflow')).map(([, v]) => v)));

function machine() {
  const ver = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0]!;
    } catch {
      return 'unknown';
    }
  };
  return {
    date: new Date().toISOString(),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memGiB: round(totalmem() / 2 ** 30, 1),
    kernel: ver('uname', ['-r']),
    node: process.version,
    natsServer: ver('nats-server', ['--version']),
    postgres: ver('psql', ['--version']),
    jetflowCommit: ver('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']),
    natsClient: JSON.parse(readFileSync(join(REPO, 'node_modules/@nats-io/jetstream/package.json'), 'utf8')).version,
    quick: QUICK,
    loadavgAtStart: loadavg().map((x) => round(x, 1)),
    params: P,
  };
}

async function main() {
  const t0 = Date.now();
  const meta = machine();
  log('machine', meta.cpu, meta.node, meta.natsServer);
  loadgen = track(fork(join(__dirname, 'loadgen.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));

  // ---------- W0 ceilings ----------
  if (section('w0')) {
    const nats = await NatsServer.start();
    const n0 = cpuMs(nats.proc.pid!)!;
    const r: W0Result = await w0(nats.url, { durationMs: Math.min(P.dur, 3000), runs: P.runs });
    raw['w0'] = { ...r, natsCpuMs: cpuMs(nats.proc.pid!)! - n0 };
    await nats.stop();
    const spread = (xs: number[]): [number, number] | undefined => (xs.length > 1 ? [Math.min(...xs), Math.max(...xs)] : undefined);
    addRow({ id: 'W0', workload: 'JetStream acked append, one at a time (256 B)', layout: 'raw', metric: 'rate', value: r.appendOneAtATime.rate, unit: 'msg/s', range: spread(r.appendOneAtATime.rates), p50: r.appendOneAtATime.latency.p50, p99: r.appendOneAtATime.latency.p99, p999: r.appendOneAtATime.latency.p999 });
    addRow({ id: 'W0', workload: `JetStream acked append, window ${r.appendWindowed.window} (256 B)`, layout: 'raw', metric: 'rate', value: r.appendWindowed.rate, unit: 'msg/s', range: spread(r.appendWindowed.rates) });
    addRow({ id: 'W0', workload: 'JetStream replay of 10k msgs (ordered consumer)', layout: 'raw', metric: 'time', value: r.replay10k.medianMs, unit: 'ms', range: [Math.min(...r.replay10k.ms), Math.max(...r.replay10k.ms)], note: `${round(r.replay10k.msgsPerSec, 0)} msg/s` });

    const port = await freePort();
    const srv = track(spawn(process.execPath, [join(__dirname, 'noop-server.js')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' }));
    await waitForPort(port, 30_000);
    const job: HttpJob = { kind: 'http', url: `http://127.0.0.1:${port}/api/noop`, method: 'GET', mode: 'closed', concurrency: P.conc, durationMs: P.warm };
    await load(job);
    const c0 = cpuMs(srv.pid!)!;
    const hs: LoadResult[] = [];
    for (let i = 0; i < P.runs; i++) hs.push(await load({ ...job, durationMs: Math.min(P.dur, 4000) }));
    const cpu = (cpuMs(srv.pid!)! - c0) / hs.reduce((a, h) => a + h.completed, 0);
    const s = summarizeRuns(hs.map((h) => h.latencyMs));
    const tps = hs.map((h) => h.throughput);
    addRow({ id: 'W0', workload: `no-op HTTP route, Nest 12 + Fastify, closed loop c=${P.conc}`, layout: 'raw', metric: 'rate', value: median(tps), unit: 'req/s', range: spread(tps), p50: s.p50, p99: s.p99, p999: s.p999, cpuMsPerExec: cpu, peakRssMiB: peakRssMiB(srv.pid!) });
    srv.kill('SIGKILL');
  }

  // ---------- Jetflow, all-in-one ----------
  const chart: Series[] = [];
  let w1bMax = 0;
  if (section('allinone')) {
    log('starting Jetflow all-in-one');
    const stack = await Stack.start('all-in-one', { nodeArgs: CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(REPO, 'bench/results/profiles')}`] : [] });
    const ids: Record<string, string> = {};
    const unsupported: Record<string, string> = {};
    for (const [k, steps] of Object.entries(WORKFLOWS)) {
      const r = await createWorkflow(stack.baseUrl, k, steps);
      if (r.id) ids[k] = r.id;
      else unsupported[k] = r.error!;
    }
    if (Object.keys(unsupported).length) log('rejected workflows:', unsupported);
    raw['rejected'] = unsupported;
    // One run of each shape before measuring: a shape that ends `failed` (e.g. a tool the build
    // lacks) would otherwise be timed and counted as if it had done its steps.
    const invalid = await probeShapes(stack.baseUrl, ids);
    const inv = (key: string) => (invalid[key] ? `INVALID: a probe run ${invalid[key]}; ` : '');

    const w1 = async (key: 'w1a' | 'w1b', label: string) => {
      const out = await throughput(`${key} all-in-one`, stack, ids[key]!, { kind: 'api', n: 1 }, P.conc, true);
      const s = summarize(out.lat);
      addRow({ id: key === 'w1a' ? 'W1a' : 'W1b', workload: label, layout: 'all-in-one', metric: 'throughput', value: out.median, unit: 'exec/s', range: [Math.min(...out.tps), Math.max(...out.tps)], p50: s.p50, p99: s.p99, p999: s.p999, cpuMsPerExec: out.cpuMsPerExec, peakRssMiB: peakRss(out.cpu), verified: out.verified, note: `${inv(key)}c=${P.conc} closed loop; ${round(out.msgsPerExec ?? NaN, 2)} JetStream msgs/exec` });
      raw[key] = { tps: out.tps, cpu: out.cpu, msgsPerExec: out.msgsPerExec, latency: s };
      return out;
    };
    const a = await w1('w1a', 'trigger → 3 × data_transform (inline)');
    const b = await w1('w1b', 'trigger → 3 × tool_call noop (steps workers)');
    w1bMax = b.median;

    // ---------- W2 latency (open loop) + W6 first SSE event ----------
    // Each rate runs twice. From the log, as W1 observed its maximum: execute → ExecutionCompleted on
    // the log and step-to-step from the logged event times (the W2 rows and targets). Over SSE, as a
    // UI client sees it: one stream per execution (execute → `complete`, and execute → first event
    // for W6). A stream costs the gateway about as much as the run, so the SSE run at "50% of W1
    // max" carries far more than 50% of W1's load; it is reported beside the log figures, not
    // instead of them.
    for (const [key, max, label] of ([['w1b', b.median, 'W1b shape'], ['w1a', a.median, 'W1a shape']] as const).filter(([k]) => P.w2a || k === 'w1b')) {
      const pts: Series['points'] = [];
      for (const f of [0.1, 0.5]) {
        const rate = Math.max(1, Math.round(max * f));
        const pct = `${f * 100}%`;
        const log = await openLoop(`W2 ${key} at ${pct} (log)`, stack, ids[key]!, { kind: 'api', n: 1 }, rate, P.dur, 'log');
        const s = summarizeRuns(log.runs.map((r) => r.latencyMs));
        const gap = summarizeRuns(log.runs.map((r) => r.stepGapMs));
        addRow({ id: 'W2', workload: `${label}: execute → complete (log) at ${pct} of W1 max`, layout: 'all-in-one', metric: 'achieved', value: log.throughput, unit: 'exec/s', p50: s.p50, p99: s.p99, p999: s.p999, verified: log.verified, note: `${inv(key)}offered ${rate}/s; ExecutionCompleted: ${log.statuses}${p99RangeNote(s)}` });
        // Gaps need two worker-step results in one run: none means the runs did not get that far
        // (a run that fails at its first tool call has one), which the note says instead of a bare N/A.
        const why = gap.n === 0 ? `no samples: ${log.shortStreams} of ${log.completed} runs had < 2 StepCompleted after the trigger (${log.statuses})` : `${gap.n} gaps${p99RangeNote(gap)}`;
        if (key === 'w1b') addRow({ id: 'W2', workload: `${label}: step-to-step (StepCompleted → next StepCompleted, server event times) at ${pct}`, layout: 'all-in-one', metric: 'p50', value: gap.p50, unit: 'ms', p50: gap.p50, p99: gap.p99, p999: gap.p999, note: `${inv(key)}${why}` });

        const sse = await openLoop(`W2 ${key} at ${pct} (SSE)`, stack, ids[key]!, { kind: 'api', n: 1 }, rate, P.dur, 'sse');
        const ss = summarizeRuns(sse.runs.map((r) => r.latencyMs));
        const fe = summarizeRuns(sse.runs.map((r) => r.firstEventMs));
        // Where the first event's time goes: the execute request (its 202), then the stream's GET until the first event.
        const feExecute = summarizeRuns(sse.runs.map((r) => r.executeMs));
        const feStream = summarizeRuns(sse.runs.map((r) => r.firstEventMs.map((t, i) => t - (r.executeMs[i] ?? 0))));
        const feParts = `execute → 202 p50/p99 ${round(feExecute.p50)}/${round(feExecute.p99)} ms, then GET /stream → first event ${round(feStream.p50)}/${round(feStream.p99)} ms`;
        const sseGap = summarizeRuns(sse.runs.map((r) => r.stepGapMs));
        addRow({ id: 'W2', workload: `${label}: execute → complete over SSE (one stream per run) at ${pct} of W1 max`, layout: 'all-in-one', metric: 'achieved', value: sse.throughput, unit: 'exec/s', p50: ss.p50, p99: ss.p99, p999: ss.p999, verified: sse.verified, note: `${inv(key)}offered ${rate}/s + ${rate} SSE streams/s; complete: ${sse.statuses}${key === 'w1b' ? `; step-to-step p50/p99 ${round(sseGap.p50)}/${round(sseGap.p99)} ms` : ''}${p99RangeNote(ss)}` });
        addRow({ id: 'W6', workload: `${label}: execute → first SSE event at ${pct}`, layout: 'all-in-one', metric: 'p50', value: fe.p50, unit: 'ms', p50: fe.p50, p99: fe.p99, p999: fe.p999, note: `${feParts}${p99RangeNote(fe)}` });
        pts.push({ x: log.throughput, p50: s.p50, p99: s.p99 });
        raw[`w2_${key}_${f}`] = { latency: s, stepGap: gap, offered: rate, achieved: log.throughput, perRun: log.runs.map((r) => ({ achieved: r.throughput, latency: summarize(r.latencyMs), stepGap: summarize(r.stepGapMs) })), sse: { latency: ss, firstEvent: fe, firstEventExecute: feExecute, firstEventStream: feStream, stepGap: sseGap, achieved: sse.throughput, perRun: sse.runs.map((r) => ({ achieved: r.throughput, latency: summarize(r.latencyMs), firstEvent: summarize(r.firstEventMs) })) } };
      }
      const closed = summarize((key === 'w1b' ? b : a).lat);
      pts.push({ x: max, p50: closed.p50, p99: closed.p99 });
      chart.push({ name: `Jetflow ${key === 'w1b' ? 'W1(b) 3×tool_call' : 'W1(a) 3×data_transform'}`, points: pts });
    }

    // ---------- W3 fan-out ----------
    if (ids['w3']) {
      const out = await throughput('W3', stack, ids['w3'], { kind: 'api' }, 32);
      const s = summarize(out.lat);
      addRow({ id: 'W3', workload: 'parallel of 10 data_transform branches → join', layout: 'all-in-one', metric: 'throughput', value: out.median, unit: 'exec/s', range: [Math.min(...out.tps), Math.max(...out.tps)], p50: s.p50, p99: s.p99, p999: s.p999, cpuMsPerExec: out.cpuMsPerExec, verified: out.verified, note: `${inv('w3')}c=32 closed loop` });
    } else addRow({ id: 'W3', workload: 'parallel of 10 branches → join', layout: 'all-in-one', metric: 'N/A', value: NaN, unit: '', note: `engine rejected the workflow: ${unsupported['w3']?.slice(0, 120)}` });

    // ---------- W4 payloads ----------
    for (const size of [100, 4096, 65536]) {
      const out = await throughput(`W4 ${size} B`, stack, ids['w4']!, { kind: 'api', blob: 'x'.repeat(size) }, 32);
      const s = summarize(out.lat);
      addRow({ id: 'W4', workload: `3 × data_transform, ${size >= 1024 ? size / 1024 + ' KB' : size + ' B'} output per step`, layout: 'all-in-one', metric: 'throughput', value: out.median, unit: 'exec/s', range: [Math.min(...out.tps), Math.max(...out.tps)], p50: s.p50, p99: s.p99, p999: s.p999, cpuMsPerExec: out.cpuMsPerExec, verified: out.verified, note: `${inv('w4')}c=32 closed loop` });
    }

    // ---------- W5 burst ----------
    {
      const job = jetflowJob(stack, ids['w1b']!, { kind: 'api', n: 1 }, { mode: 'open', rate: P.w5, durationMs: 1000, drainTimeoutMs: 120_000 });
      const meter = new CpuMeter(() => stack.processes());
      await meter.start();
      const res = await load(job);
      const c = await meter.stop();
      const v = record('W5', await verify(stack.baseUrl, res.ids, res.started));
      const s = summarize(res.latencyMs);
      addRow({ id: 'W5', workload: `burst: ${P.w5} executes (W1b shape) offered in 1 s`, layout: 'all-in-one', metric: 'time to drain', value: res.lastDoneMs, unit: 'ms', p50: s.p50, p99: s.p99, p999: s.p999, cpuMsPerExec: c.totalMs / Math.max(1, res.completed), verified: verificationText(v, res.errors), note: `${inv('w1b')}${res.completed}/${res.started} completed; ${round(res.completed / (res.lastDoneMs / 1000), 0)} exec/s` });
      if (res.errors) log('W5 errors:', res.errorSamples);
    }

    // ---------- W7 actor rebuild ----------
    if (ids['w7']) {
      const st = await api(stack.baseUrl, 'POST', `/api/workflows/${ids['w7']}/execute`, { trigger: { kind: 'api', items: [1, 2] } });
      await sleep(1000);
      const ev = await api(stack.baseUrl, 'GET', `/api/executions/${st.json.execution_id}/events`);
      const all: any[] = JSON.stringify(ev.json).includes('ExecutionStarted') ? findEvents(ev.json) : [];
      // The events endpoint adds `id` and `seq` (positions, not event fields).
      const bare = (e: any) => (e ? Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'id' && k !== 'seq')) : e);
      const started = bare(all.find((e) => e.type === 'ExecutionStarted'));
      const loopStart = bare(all.find((e) => e.type === 'StepStarted' && e.step_id === 'each'));
      if (started && loopStart) {
        const items = Array.from({ length: 4999 }, (_, i) => i);
        const r: W7Result = await w7(stack.nats.url, [started, { ...loopStart, items }], 'work', P.runs);
        raw['w7'] = r;
        addRow({ id: 'W7', workload: `actor rebuild (read + fold) from a ${r.events}-event log (1 event/msg)`, layout: 'in-process', metric: 'time', value: r.rebuildMedianMs, unit: 'ms', range: [Math.min(...r.rebuildMs), Math.max(...r.rebuildMs)], note: `${round(r.ratioToRawReplay, 2)}× raw replay of the same log (${round(r.rawReplayMedianMs, 1)} ms)` });

        // ---------- W6 late subscriber: SSE catch-up on a 10,000-event log ----------
        const id = randomUUID();
        const n = await catchUpLog(stack.nats.url, [started, { ...loopStart, items }], id, 'work', 10_000);
        const c = await load({ kind: 'sse-catchup', url: `${stack.baseUrl}/api/executions/${id}/stream`, headers: HEADERS, runs: Math.max(3, P.runs), timeoutMs: 120_000 });
        raw['w6CatchUp'] = { logEvents: n, ...c };
        const ok = c.ms.filter(Number.isFinite);
        const short = c.distinct.filter((d) => d !== n).length;
        if (short) problems.push(`W6 catch-up: ${short} of ${c.ms.length} replays did not deliver all ${n} events exactly once (${c.distinct.join(', ')} distinct of ${c.events.join(', ')})`);
        const m = median(ok);
        addRow({
          id: 'W6',
          workload: `late subscriber: SSE from the start of a finished ${n}-event log (1 event/msg) until complete`,
          layout: 'all-in-one',
          metric: 'time',
          value: ok.length ? m : NaN,
          unit: 'ms',
          range: ok.length ? [Math.min(...ok), Math.max(...ok)] : undefined,
          verified: `events ${c.distinct.join(', ')}/${n} per replay${c.errors.length ? `, errors: ${c.errors.slice(0, 2).join('; ')}` : ''}`,
          note: `${round(n / (m / 1000), 0)} events/s; first event after ${round(median(c.firstMs), 1)} ms; ${c.ms.length} replays`,
        });
      } else addRow({ id: 'W7', workload: 'actor rebuild', layout: 'in-process', metric: 'N/A', value: NaN, unit: '', note: `could not read ExecutionStarted from events endpoint (${ev.status})` });
    }
    await stack.stop();
    if (CPU_PROF) log('CPU profiles in bench/results/profiles');
  }

  // ---------- distributed: W1 rows (full run), W6 many SSE clients, W7 SIGKILL recovery, on one stack ----------
  const wantW1Dist = P.distributed && section('distributed');
  if (wantW1Dist || section('w6') || section('recovery')) {
    // The heartbeat only matters to W6's SSE streams (default 30 s: none would fall in its window).
    log(`starting Jetflow distributed (gateway | workflows+approvals | executions | steps), HEARTBEAT_MS=${W6_HEARTBEAT_MS}`);
    const stack = await Stack.start('distributed', { env: { HEARTBEAT_MS: String(W6_HEARTBEAT_MS) } });
    try {
      if (wantW1Dist) {
        const a = await createWorkflow(stack.baseUrl, 'w1a', WORKFLOWS['w1a']!);
        const b = await createWorkflow(stack.baseUrl, 'w1b', WORKFLOWS['w1b']!);
        for (const [key, id, label] of [['W1a', a.id!, 'trigger → 3 × data_transform'], ['W1b', b.id!, 'trigger → 3 × tool_call noop']] as const) {
          const out = await throughput(`${key} distributed`, stack, id, { kind: 'api', n: 1 }, P.conc);
          const s = summarize(out.lat);
          addRow({ id: key, workload: label, layout: 'distributed (4 procs)', metric: 'throughput', value: out.median, unit: 'exec/s', range: [Math.min(...out.tps), Math.max(...out.tps)], p50: s.p50, p99: s.p99, p999: s.p999, cpuMsPerExec: out.cpuMsPerExec, peakRssMiB: peakRss(out.cpu), verified: out.verified, note: `c=${P.conc}; CPU by process (ms/exec): ${Object.entries(out.cpu[0]!.byGroup).map(([k, v]) => `${k} ${round(v / Math.max(1, out.results[0]!.completed), 2)}`).join(', ')}` });
        }
      }

      // ---------- W6 many SSE clients on one gateway process ----------
      if (section('w6')) {
        log(`W6: ${P.w6Clients} SSE clients`);
        try {
          const w = await w6ManyClients(stack, { clients: P.w6Clients, heartbeatMs: W6_HEARTBEAT_MS, connectTimeoutMs: P.w6TimeoutMs, finishTimeoutMs: P.w6TimeoutMs }, scenarioDeps);
          raw['w6Clients'] = w;
          w6Rows(w);
        } catch (e) {
          log('W6 failed:', e);
          addRow({ id: 'W6', workload: `${P.w6Clients} concurrent SSE clients on one gateway process`, layout: 'distributed (4 procs)', metric: 'N/A', value: NaN, unit: '', note: `harness error: ${String(e).slice(0, 200)}` });
        }
      }

      // ---------- W7 SIGKILL recovery (last: it replaces the executions and steps processes) ----------
      if (section('recovery')) {
        log(`W7: SIGKILL recovery with ${P.w7Executions} executions in flight`);
        try {
          const w = await w7Recovery(stack, { executions: P.w7Executions, delaySeconds: P.w7DelayS, timeoutMs: P.w7TimeoutMs }, scenarioDeps);
          raw['w7Recovery'] = w;
          w7RecoveryRow(w);
        } catch (e) {
          log('W7 recovery failed:', e);
          addRow({ id: 'W7', workload: 'SIGKILL recovery', layout: 'distributed (4 procs)', metric: 'N/A', value: NaN, unit: '', note: `harness error: ${String(e).slice(0, 200)}` });
        }
      }
    } finally {
      await stack.stop();
    }
  }

  // ---------- Restate peer ----------
  let restate: RestateRow[] | undefined;
  if (!SKIP_PEER && section('peer')) {
    try {
      restate = await runRestate();
      for (const r of restate) {
        addRow({ id: 'Peer', workload: `Restate 3 × ctx.run no-op (fsync ${r.fsync}), closed loop c=${r.bestConcurrency}`, layout: 'restate', metric: 'throughput', value: r.throughputMedian, unit: 'exec/s', range: [Math.min(...r.throughput), Math.max(...r.throughput)], cpuMsPerExec: r.cpuMsPerExec, peakRssMiB: Object.values(r.peakRssMiB).reduce((x, y) => x + y, 0), note: `errors ${r.errors}; serial p50 ${round(r.serial.p50)} / p99 ${round(r.serial.p99)} ms` });
        for (const l of r.latency) addRow({ id: 'Peer', workload: `Restate (fsync ${r.fsync}) invoke → response at ${l.fraction * 100}% of its max`, layout: 'restate', metric: 'achieved', value: l.achieved, unit: 'exec/s', p50: l.p50, p99: l.p99, p999: l.p999, note: `offered ${l.rate}/s${l.runs > 1 ? `; p99 per run ${round(l.p99Range[0], 1)}–${round(l.p99Range[1], 1)} ms (median of ${l.runs})` : ''}` });
        chart.push({ name: `Restate fsync ${r.fsync}`, points: [...r.latency.map((l) => ({ x: l.achieved, p50: l.p50, p99: l.p99 })), { x: r.throughputMedian, p50: NaN, p99: NaN }].filter((p) => Number.isFinite(p.p50)) });
      }
      raw['restate'] = restate;
    } catch (e) {
      // Optional: the rest of the run stands without it (CI without network, no user namespaces).
      const msg = e instanceof PeerUnavailable ? e.message : String(e);
      log(`peer unavailable: ${msg}`);
      addRow({ id: 'Peer', workload: 'Restate', layout: 'restate', metric: 'N/A', value: NaN, unit: '', note: `peer unavailable: ${msg.slice(0, 200)}` });
    }
  }

  // ---------- Jetflow at the peer's 50% rate (the same offered load) ----------
  // Each system's W2 runs at 50% of its own maximum, and Jetflow's maximum is about twice Restate's:
  // this row offers Jetflow the rate Restate (fsync on, its default) had at its 50%, on a fresh
  // all-in-one stack, for the latency comparison at equal load. Informational: no target uses it.
  const peerRate = restateAt50(restate?.find((r) => r.fsync === 'on'))?.rate;
  if (peerRate && section('allinone')) {
    log(`W2 at the peer's 50% rate (${peerRate}/s) on a fresh all-in-one stack`);
    const stack = await Stack.start('all-in-one');
    try {
      const wf = await createWorkflow(stack.baseUrl, 'w1b', WORKFLOWS['w1b']!);
      if (wf.id) {
        await load(jetflowJob(stack, wf.id, { kind: 'api', n: 1 }, { mode: 'closed', concurrency: P.conc, durationMs: P.warm }));
        const out = await openLoop(`W2 w1b at the peer's rate`, stack, wf.id, { kind: 'api', n: 1 }, peerRate, P.dur, 'log');
        const s = summarizeRuns(out.runs.map((r) => r.latencyMs));
        const gap = summarizeRuns(out.runs.map((r) => r.stepGapMs));
        addRow({ id: 'W2', workload: `W1b shape: execute → complete (log) at Restate's 50% rate (fresh stack)`, layout: 'all-in-one', metric: 'achieved', value: out.throughput, unit: 'exec/s', p50: s.p50, p99: s.p99, p999: s.p999, verified: out.verified, note: `offered ${peerRate}/s, Restate fsync on's 50%; step-to-step p50/p99 ${round(gap.p50)}/${round(gap.p99)} ms${p99RangeNote(s)}` });
        raw['w2_peer_rate'] = { offered: peerRate, latency: s, stepGap: gap, achieved: out.throughput };
      } else log(`peer-rate row skipped: ${wf.error}`);
    } finally {
      await stack.stop();
    }
  }

  // ---------- output ----------
  const stamp = meta.date.replace(/[:.]/g, '-');
  const dir = join(REPO, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${stamp}${QUICK ? '-quick' : ''}`);
  const targets = evaluateTargets(rows, raw, restate);
  const loadavgAtEnd = loadavg().map((x) => round(x, 1));
  writeFileSync(`${base}.json`, JSON.stringify({ meta: { ...meta, loadavgAtEnd }, rows, targets, problems, warnings, raw, elapsedS: (Date.now() - t0) / 1000 }, null, 1));
  writeFileSync(`${base}.svg`, renderChart(chart, `Jetflow vs Restate: throughput vs latency (${meta.date.slice(0, 10)}, ${meta.cpu})`));
  const table = markdownTable(rows);
  const findings = [...problems.map((p) => `- ❗ lost/duplicated: ${p}`), ...warnings.map((w) => `- ⚠️ ${w}`)].join('\n');
  writeFileSync(`${base}.md`, `# Bench ${meta.date}${QUICK ? ' (quick)' : ''}\n\n${machineLine(meta)} Load average (1/5/15 min) at start ${meta.loadavgAtStart.join('/')}, at end ${loadavgAtEnd.join('/')} (other processes on the machine share its 2 cores).\n\n${table}\n\n## Targets\n\n${targets.map((t) => `- ${t.met === null ? '–' : t.met ? '✅' : '❌'} ${t.target}: ${t.actual}`).join('\n')}\n${findings ? `\n## Verification findings\n\n${findings}\n` : ''}\n![chart](${stamp}${QUICK ? '-quick' : ''}.svg)\n`);
  console.log(table);
  console.log('\nTargets:\n' + targets.map((t) => `  ${t.met === null ? '-' : t.met ? 'MET   ' : 'MISSED'} ${t.target}: ${t.actual}`).join('\n'));
  if (warnings.length) console.log('\nWarnings (runs that did not end completed; rows marked INVALID):\n' + warnings.map((w) => `  ${w}`).join('\n'));
  if (problems.length) console.log('\nVERIFICATION FAILED (lost or duplicated executions):\n' + problems.map((p) => `  ${p}`).join('\n'));
  console.log(`\nwrote ${base}.{json,md,svg} in ${round((Date.now() - t0) / 1000, 0)} s`);
  loadgen.kill();
  // Thresholds never fail the run; lost or duplicated executions do (CI smoke check).
  process.exit(problems.length ? 1 : 0);
}

/** One run of each measured shape; the ones that do not end `completed`, with what happened. */
async function probeShapes(base: string, ids: Record<string, string>): Promise<Record<string, string>> {
  const triggers: Record<string, Record<string, unknown>> = { w1a: { kind: 'api', n: 1 }, w1b: { kind: 'api', n: 1 }, w3: { kind: 'api' }, w4: { kind: 'api', blob: 'x' } };
  const invalid: Record<string, string> = {};
  for (const [key, trigger] of Object.entries(triggers)) {
    if (!ids[key]) continue;
    const r = await probeRun(base, ids[key], trigger);
    if (!r.ok) {
      invalid[key] = r.detail.slice(0, 200);
      warnings.push(`${key}: a probe run ${r.detail}`);
      log(`probe ${key}: ${r.detail}`);
    }
  }
  raw['invalidShapes'] = invalid;
  return invalid;
}

const scenarioDeps: ScenarioDeps = { executeMany: (j) => load(j), approveAll: (j) => load(j), log };

function w7RecoveryRow(w: W7RecoveryResult) {
  const v = w.verification;
  if (v) record('W7 recovery', v);
  else problems.push(`W7 recovery: not verified (${w.error ?? 'no verification'})`);
  addRow({
    id: 'W7',
    workload: `SIGKILL executions + steps with ${w.started} runs in flight (delay ${P.w7DelayS} s → 3 × tool_call), restart: restart → all terminal`,
    layout: 'distributed (4 procs)',
    metric: 'time',
    value: w.restartToAllTerminalMs,
    unit: 'ms',
    verified: v ? verificationText(v, w.startErrorCount) : undefined,
    note: w.error
      ? `harness error: ${w.error}`
      : `${w.inFlightAtKill}/${w.started} in flight at kill; ${w.terminalSeen}/${w.started} terminal${Number.isFinite(w.killToAllTerminalMs) ? `; kill → all terminal ${round(w.killToAllTerminalMs, 0)} ms` : ` after ${P.w7TimeoutMs / 1000} s (timed out)`}; last delay timer due ${round(w.lastTimerDueAfterRestartMs / 1000, 1)} s after the restart`,
  });
}

function w6Rows(w: W6ClientsResult) {
  const label = `${w.clients} concurrent SSE clients on one gateway process (${w.processes} client process${w.processes > 1 ? 'es' : ''}), trigger → human_approval → data_transform`;
  if (w.error || !w.report) {
    addRow({ id: 'W6', workload: label, layout: 'distributed (4 procs)', metric: 'N/A', value: NaN, unit: '', note: w.error ?? `no client report (connected ${w.connected}/${w.started}, approved ${w.approved})` });
    if (!w.error) problems.push(`W6: no report from the SSE client processes (connected ${w.connected}/${w.started})`);
    return;
  }
  const r = w.report;
  const ex = r.executions;
  // Lost events on streams that reached `complete`, or executions not terminal / twice terminal: lost or duplicated data.
  if (r.lost || r.duplicates || ex.notTerminal || ex.duplicated) problems.push(`W6: ${r.lost} SSE events lost, ${r.duplicates} delivered twice, ${ex.notTerminal} executions not terminal, ${ex.duplicated} with 2+ ExecutionCompleted (of ${w.started})`);
  if (ex.notCompleted) warnings.push(`W6: ${ex.notCompleted} executions ended not completed`);
  if (r.incomplete || w.missingReports) warnings.push(`W6: ${r.incomplete} of ${r.clients} streams ended without complete (${r.errors.slice(0, 2).join('; ')}), ${w.missingReports} client processes did not report`);
  addRow({
    id: 'W6',
    workload: label,
    layout: 'distributed (4 procs)',
    metric: 'gateway peak RSS',
    value: w.gatewayPeakRssMiB ?? NaN,
    unit: 'MiB',
    peakRssMiB: w.gatewayPeakRssMiB,
    verified: `events ${r.delivered}/${r.expected} delivered, lost ${r.lost}, dup ${r.duplicates}; complete ${r.completed}/${w.clients} streams; runs ${ex.ok}/${w.started} ok, not terminal ${ex.notTerminal}, dup ${ex.duplicated}`,
    note: `started ${w.started} in ${round(w.startMs / 1000, 1)} s; connected ${w.connected}/${w.started} in ${round(w.connectMs / 1000, 1)} s; heartbeat (${W6_HEARTBEAT_MS} ms) gaps max ${round(r.heartbeatGaps.max, 0)} ms, p99 ${round(r.heartbeatGaps.p99, 0)} ms, ${r.heartbeatGaps.late} late (> 1.5×), ${r.noHeartbeat} streams without one; ${w.approved} approvals in ${round(w.approveMs / 1000, 1)} s, first approval → last complete ${round(w.releaseToLastCompleteMs / 1000, 1)} s; gateway RSS ${round(w.gatewayRssConnectedMiB ?? NaN, 0)} MiB with all connected, CPU ${round((w.gatewayCpuMs ?? NaN) / 1000, 1)} s over ${round(w.windowMs / 1000, 1)} s`,
  });
}

function findEvents(body: any): any[] {
  // The events endpoint answers entries holding events; collect every object with a `type`.
  const out: any[] = [];
  const walk = (v: any) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (typeof v.type === 'string' && (v.at || v.execution_id)) out.push(v);
      else Object.values(v).forEach(walk);
    }
  };
  walk(body);
  return out;
}

function machineLine(m: ReturnType<typeof machine>) {
  return `Machine: ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}; Node ${m.node}; ${m.natsServer}; ${m.postgres}; @nats-io/jetstream ${m.natsClient}; Jetflow ${m.jetflowCommit}.`;
}

const fmt = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '' : String(round(x, d)));
function markdownTable(rs: Row[]) {
  const head = '| # | workload | layout | value | range | p50 ms | p99 ms | p99.9 ms | CPU-ms/exec | peak RSS MiB | check | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|';
  return [head, ...rs.map((r) => `| ${r.id} | ${r.workload} | ${r.layout} | ${Number.isFinite(r.value) ? `${fmt(r.value)} ${r.unit}` : 'N/A'} | ${r.range ? `${fmt(r.range[0])}–${fmt(r.range[1])}` : ''} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.p999, 2)} | ${fmt(r.cpuMsPerExec, 2)} | ${fmt(r.peakRssMiB, 0)} | ${r.verified ?? ''} | ${r.note ?? ''} |`)].join('\n');
}

function evaluateTargets(rs: Row[], rawData: Record<string, any>, restate?: RestateRow[]) {
  const get = (id: string, layout = 'all-in-one') => rs.find((r) => r.id === id && r.layout === layout);
  const w1a = get('W1a')?.value ?? NaN;
  const w1b = get('W1b')?.value ?? NaN;
  const win = rawData['w0']?.appendWindowed?.rate ?? NaN;
  const mpe = rawData['w1b']?.msgsPerExec ?? NaN;
  const ceiling = win / mpe;
  const w2at50 = rawData['w2_w1b_0.5'];
  const w2at10 = rawData['w2_w1b_0.1'];
  const rs1 = restate?.find((r) => r.fsync === 'off');
  const rsOn = restate?.find((r) => r.fsync === 'on');
  const invalid: Record<string, string> = rawData['invalidShapes'] ?? {};
  // A shape whose runs did not complete measured something else: no verdict, say why.
  const t = (target: string, met: boolean | null, actual: string, shape?: string) => (shape && invalid[shape] ? { target, met: null, actual: `INVALID (${shape}: a probe run ${invalid[shape]}); measured ${actual}` } : { target, met, actual });
  const gapVerdict = (ok: (g: any) => boolean) => (w2at50 && w2at50.stepGap.n > 0 ? ok(w2at50.stepGap) : null);
  const w7 = rawData['w7'];
  const firstP99 = Math.max(rawData['w2_w1b_0.1']?.sse?.firstEvent?.p99 ?? NaN, rawData['w2_w1b_0.5']?.sse?.firstEvent?.p99 ?? NaN);
  return [
    t('W1(a) ≥ 3,000 exec/s', w1a >= 3000, `${round(w1a, 0)} exec/s`, 'w1a'),
    t('W1(b) ≥ 1,000 exec/s', w1b >= 1000, `${round(w1b, 0)} exec/s`, 'w1b'),
    t('W1(b) ≥ 50% of ceiling (W0 windowed append ÷ msgs/exec)', w1b >= 0.5 * ceiling, `${round(w1b, 0)} vs ceiling ${round(ceiling, 0)} (${round(win, 0)} msg/s ÷ ${round(mpe, 2)} msgs/exec) = ${round((100 * w1b) / ceiling, 0)}%`, 'w1b'),
    t('W1(b) ≥ Restate (same shape, same run)', rs1 ? w1b >= Math.max(rs1.throughputMedian, rsOn?.throughputMedian ?? 0) : null, restate ? restate.map((r) => `Restate fsync ${r.fsync} ${round(r.throughputMedian, 0)}`).join(', ') + ` vs Jetflow ${round(w1b, 0)}` : 'peer not run', 'w1b'),
    t('W2 p99 ≤ Restate p99 (50% load)', rs1 && w2at50 ? w2at50.latency.p99 <= Math.min(...restate!.map((r) => restateAt50(r)?.p99 ?? Infinity)) : null, `Jetflow ${round(w2at50?.latency?.p99)} ms vs ${restate ? restate.map((r) => `Restate fsync ${r.fsync} ${round(restateAt50(r)?.p99 ?? NaN)} ms`).join(', ') : 'peer not run'}`, 'w1b'),
    ...(rawData['w2_peer_rate']
      ? [
          t(
            'W2 p99 at the same offered load as Restate at its 50% (informational)',
            null,
            `Jetflow ${round(rawData['w2_peer_rate'].latency.p99)} ms at ${rawData['w2_peer_rate'].offered}/s (fresh stack; step-to-step p99 ${round(rawData['w2_peer_rate'].stepGap.p99)} ms) vs Restate fsync on ${round(restateAt50(rsOn)?.p99 ?? NaN)} ms`,
            'w1b',
          ),
        ]
      : []),
    t('W2 step-to-step p50 ≤ 2 ms at 50% load', gapVerdict((g) => g.p50 <= 2), w2at50?.stepGap?.n ? `${round(w2at50.stepGap.p50)} ms (10%: ${round(w2at10?.stepGap?.p50)} ms)` : 'no samples (see the W2 step-to-step row)', 'w1b'),
    t('W2 step-to-step p99 ≤ 10 ms at 50% load', gapVerdict((g) => g.p99 <= 10), w2at50?.stepGap?.n ? `${round(w2at50.stepGap.p99)} ms (10%: ${round(w2at10?.stepGap?.p99)} ms)` : 'no samples (see the W2 step-to-step row)', 'w1b'),
    t('W6 execute → first SSE event p99 ≤ 15 ms', Number.isFinite(firstP99) ? firstP99 <= 15 : null, `${round(firstP99)} ms (worst of 10%/50% load)`, 'w1b'),
    t('W7 rebuild ≤ 2 × raw replay', w7 ? w7.rebuildMedianMs <= 2 * (rawData['w0']?.replay10k?.medianMs ?? NaN) : null, w7 ? `${round(w7.rebuildMedianMs)} ms vs W0 raw replay ${round(rawData['w0']?.replay10k?.medianMs)} ms (${round(w7.rebuildMedianMs / rawData['w0']?.replay10k?.medianMs, 2)}×)` : 'not run'),
    ...w6w7Targets(rawData),
  ].map((x) => (x.met === false && /NaN|undefined/.test(x.actual) ? { ...x, met: null, actual: `not run (${x.actual})` } : x));
}

/** W6 (10,000 SSE clients: gateway RSS, lost events, catch-up) and W7 SIGKILL recovery. A smaller run (quick) can fail a target, never pass it. */
function w6w7Targets(rawData: Record<string, any>) {
  const out: { target: string; met: boolean | null; actual: string }[] = [];
  const w6: W6ClientsResult | undefined = rawData['w6Clients'];
  const full6 = !!w6 && w6.clients >= 10_000;
  const scale6 = w6 && !full6 ? ` (this run: ${w6.clients} clients, the target is for 10,000: no verdict unless it fails)` : '';
  if (!w6) out.push({ target: 'W6 10,000 SSE clients on one gateway process, RSS ≤ 1 GiB, no event lost', met: null, actual: 'not run' });
  else if (!w6.report) out.push({ target: 'W6 10,000 SSE clients on one gateway process, RSS ≤ 1 GiB, no event lost', met: full6 ? false : null, actual: `no result: ${w6.error ?? `connected ${w6.connected}/${w6.started}`}${scale6}` });
  else {
    const r = w6.report;
    const rssOk = (w6.gatewayPeakRssMiB ?? Infinity) <= 1024;
    const allConnected = w6.connected === w6.clients && r.completed === w6.clients;
    out.push({ target: 'W6 10,000 SSE clients: gateway peak RSS ≤ 1 GiB', met: !rssOk ? false : full6 && allConnected ? true : null, actual: `${round(w6.gatewayPeakRssMiB ?? NaN, 0)} MiB with ${w6.connected}/${w6.clients} connected${scale6}` });
    const lostOk = r.lost === 0 && r.duplicates === 0 && r.executions.notTerminal === 0 && r.executions.duplicated === 0;
    out.push({
      target: 'W6 10,000 SSE clients: no event lost',
      met: !lostOk || r.completed < w6.clients ? false : full6 ? true : null,
      actual: `${r.delivered}/${r.expected} events delivered, lost ${r.lost}, dup ${r.duplicates}, ${r.completed}/${w6.clients} streams reached complete; heartbeat gap max ${round(r.heartbeatGaps.max, 0)} ms (interval ${W6_HEARTBEAT_MS} ms)${scale6}`,
    });
  }
  const cu = rawData['w6CatchUp'];
  if (cu) {
    const ok = (cu.ms as number[]).filter(Number.isFinite);
    const m = median(ok);
    out.push({ target: 'W6 late subscriber catch-up on a 10,000-event log (no threshold in the issue)', met: null, actual: `${round(m, 0)} ms to complete, ${round(cu.logEvents / (m / 1000), 0)} events/s, ${(cu.distinct as number[]).join('/')} of ${cu.logEvents} events per replay` });
  }
  const w7: W7RecoveryResult | undefined = rawData['w7Recovery'];
  if (!w7) out.push({ target: 'W7 SIGKILL recovery with 1,000 in flight: zero lost, zero duplicated', met: null, actual: 'not run' });
  else {
    const v = w7.verification;
    const clean = !!v && v.lost === 0 && v.duplicated === 0 && v.duplicatedSteps === 0 && w7.terminalSeen === w7.started;
    const full7 = w7.inFlightAtKill >= 1000;
    out.push({
      target: 'W7 SIGKILL recovery with 1,000 in flight: zero lost, zero duplicated',
      met: !clean ? false : full7 ? true : null,
      actual: `${w7.inFlightAtKill} in flight at kill; ${v ? `lost ${v.lost}, dup ${v.duplicated}, dup step results ${v.duplicatedSteps}, ${v.ok}/${v.checked} completed` : `not verified (${w7.error})`}; restart → all terminal ${round(w7.restartToAllTerminalMs, 0)} ms${full7 ? '' : ' (this run has fewer than 1,000 in flight: no verdict unless it fails)'}`,
    });
  }
  return out;
}

/** Installs the Restate peer on demand; undefined when it is there, else why not (no network, no npm, ...). */
function installRestate(peer: string): string | undefined {
  if (existsSync(join(peer, 'node_modules/@restatedev/restate-server-linux-x64/bin/restate-server'))) return undefined;
  log('installing the Restate peer (npm ci --ignore-scripts in bench/peers/restate)');
  try {
    // Bounded: without a registry (CI without network) npm would otherwise retry for minutes.
    execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--fetch-retries=1', '--fetch-timeout=30000'], { cwd: peer, stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 });
  } catch (e: any) {
    const lines = String(e?.stderr ?? e?.message ?? e).trim().split('\n').filter((l: string) => l.trim());
    const err = (lines.some((l: string) => /code|errno|network/i.test(l)) ? lines.filter((l: string) => /code|errno|network/i.test(l)) : lines).slice(0, 2).join(' ') || String(e?.message ?? e);
    return `npm ci failed: ${err.slice(0, 200)}`;
  }
  return existsSync(join(peer, 'node_modules/@restatedev/restate-server-linux-x64/bin/restate-server')) ? undefined : 'restate-server binary missing after npm ci';
}

class PeerUnavailable extends Error {}

async function runRestate(): Promise<RestateRow[]> {
  const peer = join(REPO, 'bench/peers/restate');
  const why = installRestate(peer);
  if (why) throw new PeerUnavailable(why);
  const out = join(mkdtempSync(join(tmpdir(), 'jetflow-bench-')), 'restate.json');
  const opts = { durationMs: P.dur, runs: P.runs, concurrency: P.restateConc, latencyFractions: [0.1, 0.5] };
  const driver = join(__dirname, 'restate-peer.js');
  log('running the Restate peer inside unshare --net (loopback only)');
  await new Promise<void>((res, rej) => {
    const p = track(spawn('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, driver, JSON.stringify(opts), out], { stdio: ['ignore', 'inherit', 'inherit'], detached: true }), { group: true });
    // A hung peer must not hang the harness: kill its whole process group.
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, QUICK ? 240_000 : 1_200_000);
    p.on('error', (e) => (clearTimeout(timer), rej(new PeerUnavailable(`cannot start unshare: ${e.message}`))));
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res();
      else rej(new PeerUnavailable(`restate driver exited ${code ?? signal} (unshare --net needs root or user namespaces)`));
    });
  });
  return JSON.parse(readFileSync(out, 'utf8')) as RestateRow[];
}

main().catch((e) => {
  console.error(e);
  killTracked();
  process.exit(1);
});
