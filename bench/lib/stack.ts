import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { cpuMs, freePort, peakRssMiB, sleep, waitForPort } from './util';
import { HEADERS } from './api';
import { TestDatabase } from '../../test/support/postgres';

const NATS_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';
const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REPO = resolve(__dirname, '../../..');
const MAIN = join(REPO, 'dist/apps/all-in-one/src/main.js');

/**
 * Every child process the harness starts, so that an interrupted run (SIGINT, SIGTERM) does not
 * leave nats-servers, Jetflow processes or load generators running: a leaked nats-server kept
 * about a tenth of a core busy and skewed the next run. Normal exits stop them one by one.
 */
const children = new Map<ChildProcess, { group: boolean }>();
let signalsHooked = false;

/**
 * Registers `child` to be SIGKILLed if the harness is interrupted; returns it. `group`: the child
 * was spawned `detached` and leads a process group that is killed whole (e.g. the Restate peer).
 */
export function track<C extends ChildProcess>(child: C, opts: { group?: boolean } = {}): C {
  children.set(child, { group: opts.group ?? false });
  child.once('exit', () => children.delete(child));
  if (!signalsHooked) {
    signalsHooked = true;
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        killTracked();
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
    }
  }
  return child;
}

/** SIGKILLs every tracked child still running (interrupt, or the harness crashing: no orphans left). */
export function killTracked(): void {
  for (const [c, { group }] of children) {
    try {
      if (group && c.pid) process.kill(-c.pid, 'SIGKILL');
      else c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export interface Proc {
  name: string;
  pid: number;
  child?: ChildProcess;
}

export class NatsServer {
  proc!: ChildProcess;
  private constructor(readonly port: number, readonly storeDir: string) {}
  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }
  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), mkdtempSync(join(tmpdir(), 'jetflow-bench-nats-')));
    s.proc = track(spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(s.port), '-js', '-sd', s.storeDir], { stdio: 'ignore' }));
    await waitForPort(s.port, 30_000);
    return s;
  }
  async stop() {
    if (this.proc.exitCode === null) {
      await new Promise<void>((r) => {
        this.proc.once('exit', () => r());
        this.proc.kill('SIGKILL');
      });
    }
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** The bench's database: a fresh one per run (test/support's TestDatabase) plus its backends' pids. */
export class Database {
  private constructor(private readonly db: TestDatabase) {}
  static async create(): Promise<Database> {
    return new Database(await TestDatabase.create('jf_bench', ADMIN_URL));
  }
  get name(): string {
    return this.db.name;
  }
  get url(): string {
    return this.db.url;
  }
  /** pids of the PostgreSQL backends serving this database. */
  async backendPids(): Promise<number[]> {
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      const r = await admin.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [this.name]);
      return r.rows.map((x: { pid: number }) => x.pid);
    } finally {
      await admin.end();
    }
  }
  drop(): Promise<void> {
    return this.db.drop();
  }
}

/**
 * The node flags `npm start` runs Jetflow with (package.json): V8's GC helper threads sized for a
 * small machine (`V8_POOL_SIZE`, default 1). The bench measures what users run.
 */
export const JETFLOW_NODE_FLAGS = [`--v8-pool-size=${process.env.V8_POOL_SIZE || '1'}`];

export class JetflowProc {
  child!: ChildProcess;
  output = '';
  constructor(readonly services: string, readonly env: Record<string, string>) {}
  get pid() {
    return this.child.pid!;
  }
  async start(waitPort?: number, extraNodeArgs: string[] = []) {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run npm run build`);
    this.child = track(
      spawn(process.execPath, [...JETFLOW_NODE_FLAGS, ...extraNodeArgs, MAIN, `--services=${this.services}`], {
        env: { ...process.env, LOG_LEVEL: 'warn', ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: REPO,
      }),
    );
    const keep = (d: Buffer) => {
      this.output += d;
      if (this.output.length > 20_000) this.output = this.output.slice(-10_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    if (waitPort) await waitForPort(waitPort, 60_000);
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM') {
    const p = this.child;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      p.once('exit', () => (clearTimeout(t), r()));
      p.kill(signal);
    });
  }
}

/** A whole Jetflow stack: its own nats-server, its own database, one or several service processes. */
export class Stack {
  nats!: NatsServer;
  db!: Database;
  procs: JetflowProc[] = [];
  port = 0;
  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }
  static async start(layout: 'all-in-one' | 'distributed', opts: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<Stack> {
    const s = new Stack();
    s.nats = await NatsServer.start();
    s.db = await Database.create();
    s.port = await freePort();
    const env = { ...opts.env, NATS_URL: s.nats.url, DATABASE_URL: s.db.url, HOST: '127.0.0.1', PORT: String(s.port) };
    if (layout === 'all-in-one') {
      const p = new JetflowProc('all', env);
      s.procs.push(p);
      await p.start(s.port, opts.nodeArgs);
    } else {
      // Back-end services first (they run migrations), the gateway last.
      const backends = ['workflows,approvals', 'executions', 'steps'].map((svc) => new JetflowProc(svc, { ...env, PORT: '0' }));
      s.procs.push(...backends);
      await backends[0]!.start(undefined, opts.nodeArgs);
      await sleep(1500);
      await Promise.all(backends.slice(1).map((b) => b.start(undefined, opts.nodeArgs)));
      const gw = new JetflowProc('gateway', env);
      s.procs.push(gw);
      await gw.start(s.port, opts.nodeArgs);
    }
    await s.waitHealthy();
    await s.waitServices();
    return s;
  }
  /** The gateway answers /health before the back-end services subscribe: wait until each answers an RPC. */
  async waitServices(timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (const path of ['/api/workflows?limit=1', '/api/executions?limit=1', '/api/approvals?status=pending&limit=1']) {
      for (;;) {
        const status = await fetch(this.baseUrl + path, { headers: HEADERS }).then((r) => (r.body?.cancel(), r.status), () => 0);
        if (status === 200) break;
        if (Date.now() > deadline) throw new Error(`jetflow: ${path} still ${status} after ${timeoutMs} ms:\n${this.procs.map((p) => p.output).join('\n')}`);
        await sleep(100);
      }
    }
  }
  /** The process running exactly these services (`gateway`, `executions`, ...). */
  proc(services: string): JetflowProc {
    const p = this.procs.find((x) => x.services === services);
    if (!p) throw new Error(`no process for ${services}`);
    return p;
  }
  /** SIGKILLs these processes (no shutdown hooks run) and waits until they are gone. */
  async kill(services: string[]): Promise<void> {
    await Promise.all(services.map((svc) => this.proc(svc).stop('SIGKILL')));
  }
  /** Starts fresh processes for these services with the same environment (after `kill`). */
  async restart(services: string[]): Promise<void> {
    for (const svc of services) {
      const old = this.proc(svc);
      const p = new JetflowProc(svc, old.env);
      this.procs[this.procs.indexOf(old)] = p;
      await p.start();
    }
  }
  async waitHealthy() {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const r = await fetch(`${this.baseUrl}/health`);
        if (r.status === 200) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`jetflow not healthy:\n${this.procs.map((p) => p.output).join('\n')}`);
      await sleep(100);
    }
  }
  /** Every OS process of the stack, with a name: nats-server, jetflow processes, PostgreSQL backends of its database. */
  async processes(): Promise<Proc[]> {
    const out: Proc[] = [{ name: 'nats-server', pid: this.nats.proc.pid! }];
    for (const p of this.procs) out.push({ name: `jetflow[${p.services}]`, pid: p.pid });
    for (const pid of await this.db.backendPids().catch(() => [])) out.push({ name: 'postgres-backend', pid });
    return out;
  }
  async stop() {
    for (const p of [...this.procs].reverse()) await p.stop();
    await this.nats.stop();
    await this.db.drop().catch(() => undefined);
  }
}

export interface CpuSample {
  /** CPU-ms used by the stack during the window, per process group. */
  byGroup: Record<string, number>;
  totalMs: number;
  /** Peak RSS (VmHWM, MiB) per process at the end of the window. */
  peakRssMiB: Record<string, number>;
}

/** Measures CPU time over a window for a set of processes (processes appearing mid-window count from 0). */
export class CpuMeter {
  private before = new Map<number, number>();
  constructor(private readonly list: () => Promise<Proc[]>) {}
  async start() {
    this.before.clear();
    for (const p of await this.list()) {
      const c = cpuMs(p.pid);
      if (c !== undefined) this.before.set(p.pid, c);
    }
  }
  async stop(): Promise<CpuSample> {
    const byGroup: Record<string, number> = {};
    const rss: Record<string, number> = {};
    let total = 0;
    for (const p of await this.list()) {
      const c = cpuMs(p.pid);
      if (c === undefined) continue;
      const d = c - (this.before.get(p.pid) ?? 0);
      byGroup[p.name] = (byGroup[p.name] ?? 0) + d;
      total += d;
      const r = peakRssMiB(p.pid);
      if (r !== undefined && p.name !== 'postgres-backend') rss[p.name] = Math.max(rss[p.name] ?? 0, r);
    }
    return { byGroup, totalMs: total, peakRssMiB: rss };
  }
}
