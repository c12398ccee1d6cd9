import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@jetflow/config';
import type { HostResolver } from '@jetflow/tools';
import { startJetflow, type RunningJetflow } from '../../apps/all-in-one/src/jetflow.boot';
import { TestNatsServer } from './nats-server';
import { TestDatabase } from './postgres';
import { freePort, waitForPort } from './ports';

export const SCOPE_HEADERS = {
  'X-elevAIte-OrganizationId': 'org-e2e',
  'X-elevAIte-ProjectId': 'proj-e2e',
  'X-elevAIte-UserId': 'user-e2e',
};

/** A whole Jetflow in this test process on its own nats-server and database. */
export class InProcessSystem {
  private constructor(
    readonly nats: TestNatsServer,
    readonly db: TestDatabase,
    readonly jetflow: RunningJetflow,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.jetflow.port}`;
  }

  /** `resolver`: DNS for outbound calls (api_call, HTTP tools), e.g. to make a name point at 169.254.169.254. */
  static async start(env: Record<string, string> = {}, opts: { resolver?: HostResolver } = {}): Promise<InProcessSystem> {
    const nats = await TestNatsServer.start();
    const db = await TestDatabase.create('jf_e2e');
    const config = loadConfig({ NATS_URL: nats.url, DATABASE_URL: db.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', HEARTBEAT_MS: '1000', ...env });
    const jetflow = await startJetflow(config, { logger: pino({ level: 'silent' }), sweepIntervalMs: 500, ...(opts.resolver ? { resolver: opts.resolver } : {}) });
    return new InProcessSystem(nats, db, jetflow);
  }

  async stop(): Promise<void> {
    await this.jetflow.stop();
    await this.nats.stop();
    await this.db.drop();
  }
}

const MAIN = resolve(__dirname, '../../dist/apps/all-in-one/src/main.js');

/** One Jetflow OS process (from the build in dist/), killable with SIGKILL for fault tests. */
export class JetflowProcess {
  private proc?: ChildProcess;
  output = '';
  constructor(
    readonly env: Record<string, string>,
    readonly services = 'all',
  ) {}

  static assertBuilt(): void {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npm run build\` (npm test does it in pretest)`);
  }

  async start(): Promise<void> {
    JetflowProcess.assertBuilt();
    this.output = '';
    this.proc = spawn(process.execPath, [`--v8-pool-size=${process.env.V8_POOL_SIZE || '1'}`, MAIN, `--services=${this.services}`], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d) => (this.output += d));
    this.proc.stderr!.on('data', (d) => (this.output += d));
    if (this.services.includes('gateway') || this.services === 'all') await waitForPort(Number(this.env['PORT']), 30_000);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill(signal);
    });
  }
}

export { freePort, join };
