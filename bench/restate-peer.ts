/**
 * Restate peer driver. run.ts starts it inside `unshare --net` (loopback only: restate-server
 * phones home for updates at start). Here: restate-server (fresh base dir), the SDK service
 * (bench/peers/restate/service.js), registration, then the same load shapes as Jetflow's W1(b)/W2
 * from the same load generator. argv[2]: JSON options; result JSON written to argv[3].
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { HttpJob, LoadResult } from './loadgen';
import { cpuMs, peakRssMiB, sleep, summarize, summarizeRuns, waitForPort, median } from './lib/util';

const PEER = resolve(__dirname, '../../bench/peers/restate');
const BIN = join(PEER, 'node_modules/@restatedev/restate-server-linux-x64/bin/restate-server');

interface Opts {
  durationMs: number;
  runs: number;
  concurrency: number[];
  latencyFractions: number[];
}

export interface RestateRow {
  fsync: 'on' | 'off';
  throughput: number[];
  throughputMedian: number;
  bestConcurrency: number;
  cpuMsPerExec: number;
  cpuByProcess: Record<string, number>;
  peakRssMiB: Record<string, number>;
  /** Per fraction of the maximum: `runs` windows, each percentile the median of the windows' own, and the range of their p99. */
  latency: { fraction: number; rate: number; achieved: number; p50: number; p99: number; p999: number; errors: number; runs: number; p99Range: [number, number] }[];
  serial: { p50: number; p99: number; p999: number };
  errors: number;
}

let loadgen: ChildProcess;
let seq = 0;
function load(job: HttpJob): Promise<LoadResult> {
  const id = ++seq;
  return new Promise((res, rej) => {
    const on = (m: { id: number; result?: LoadResult; error?: string }) => {
      if (m.id !== id) return;
      loadgen.off('message', on);
      if (m.error) rej(new Error(m.error));
      else res(m.result!);
    };
    loadgen.on('message', on);
    loadgen.send({ id, job });
  });
}

async function one(fsync: 'on' | 'off', o: Opts): Promise<RestateRow> {
  const dir = mkdtempSync(join(tmpdir(), 'jetflow-bench-restate-'));
  writeFileSync(join(dir, 'restate.toml'), `rocksdb-disable-wal-fsync = ${fsync === 'off'}\n`);
  const server = spawn(BIN, ['--base-dir', dir, '--node-name', 'bench', '--config-file', join(dir, 'restate.toml')], {
    stdio: 'ignore',
    env: { ...process.env, RESTATE_LOG_FILTER: 'warn' },
  });
  const svc = spawn(process.execPath, [join(PEER, 'service.js')], { stdio: 'ignore', env: { ...process.env, PORT: '9080', RESTATE_LOGGING: 'WARN' } });
  try {
    await waitForPort(9070, 30_000);
    await waitForPort(9080, 30_000);
    for (let i = 0; ; i++) {
      const r = await fetch('http://127.0.0.1:9070/deployments', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: 'http://127.0.0.1:9080' }) }).catch(() => undefined);
      if (r && r.status < 300) break;
      if (i > 50) throw new Error(`restate registration failed: ${r?.status}`);
      await sleep(200);
    }
    await waitForPort(8080, 30_000);
    const job = (extra: Partial<HttpJob>): HttpJob => ({ kind: 'http', url: 'http://127.0.0.1:8080/Bench/run', method: 'POST', body: JSON.stringify({ n: 1 }), mode: 'closed', durationMs: o.durationMs, ...extra });
    // warm-up
    for (let i = 0; i < 50; i++) {
      const r = await fetch('http://127.0.0.1:8080/Bench/run', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      if (r.status === 200) break;
      await sleep(200);
    }
    await load(job({ concurrency: 32, durationMs: Math.min(1000, o.durationMs) }));
    // closed loop: pick the best concurrency, then repeat for the median
    let best = { c: o.concurrency[0]!, tp: 0 };
    for (const c of o.concurrency) {
      const r = await load(job({ concurrency: c }));
      if (r.throughput > best.tp) best = { c, tp: r.throughput };
    }
    const pids = { 'restate-server': server.pid!, 'restate-service(node)': svc.pid! };
    const tps: number[] = [];
    let cpuPerExec = 0;
    const cpuBy: Record<string, number> = {};
    let errors = 0;
    for (let r = 0; r < o.runs; r++) {
      const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMs(p) ?? 0]));
      const res = await load(job({ concurrency: best.c }));
      let total = 0;
      for (const [k, p] of Object.entries(pids)) {
        const d = (cpuMs(p) ?? 0) - before[k]!;
        cpuBy[k] = d / Math.max(1, res.completed);
        total += d;
      }
      cpuPerExec = total / Math.max(1, res.completed);
      tps.push(res.throughput);
      errors += res.errors;
    }
    const max = median(tps);
    const latency: RestateRow['latency'] = [];
    for (const f of o.latencyFractions) {
      const rate = Math.max(1, Math.round(max * f));
      // As on Jetflow's side: several windows, the median of their percentiles.
      const windows: LoadResult[] = [];
      for (let r = 0; r < o.runs; r++) windows.push(await load(job({ mode: 'open', rate })));
      const s = summarizeRuns(windows.map((w) => w.latencyMs));
      const errs = windows.reduce((a, w) => a + w.errors, 0);
      latency.push({ fraction: f, rate, achieved: median(windows.map((w) => w.throughput)), p50: s.p50, p99: s.p99, p999: s.p999, errors: errs, runs: s.runs, p99Range: s.p99Range });
      errors += errs;
    }
    const serial = summarize((await load(job({ concurrency: 1, durationMs: Math.min(2000, o.durationMs) }))).latencyMs);
    return {
      fsync,
      throughput: tps,
      throughputMedian: max,
      bestConcurrency: best.c,
      cpuMsPerExec: cpuPerExec,
      cpuByProcess: cpuBy,
      peakRssMiB: Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, peakRssMiB(p) ?? NaN])),
      latency,
      serial: { p50: serial.p50, p99: serial.p99, p999: serial.p999 },
      errors,
    };
  } finally {
    server.kill('SIGKILL');
    svc.kill('SIGKILL');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const o = JSON.parse(process.argv[2]!) as Opts;
  loadgen = fork(join(__dirname, 'loadgen.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const rows: RestateRow[] = [];
  for (const fsync of ['on', 'off'] as const) rows.push(await one(fsync, o));
  writeFileSync(process.argv[3]!, JSON.stringify(rows));
  loadgen.kill();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
