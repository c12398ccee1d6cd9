import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/eventually';
import { http } from '../support/http-client';
import { freePort, JetflowProcess } from '../support/jetflow-system';
import { waitForPort } from '../support/ports';
import { TestDatabase } from '../support/postgres';

/**
 * Scale-out with real processes: one gateway+workflows process, two `executions` processes and two
 * `steps` processes, each its own OS process from dist/, all on one nats-server and one database.
 * 200 runs started at once must each complete exactly once. The nats-server runs with its
 * monitoring port so the test can see, per connection, that both replicas of each service worked.
 */

const RUNS = 200;

const WORKFLOW = {
  name: 'scale-out',
  description: 'trigger -> tool -> transform -> tool',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['first'] },
    { step_id: 'first', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { n: '{{input.n}}' } }, next_steps: ['shape'] },
    { step_id: 'shape', step_type: 'data_transform', parameters: { mapping: { n: '{{steps.first.output.n}}' } }, next_steps: ['second'] },
    { step_id: 'second', step_type: 'tool_call', parameters: { tool: 'noop', arguments: { n: '{{steps.shape.output.n}}', last: true } }, next_steps: [] },
  ],
};
const STEP_IDS = WORKFLOW.steps.map((s) => s.step_id);

const NATS_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';

/** A nats-server with JetStream and the HTTP monitoring endpoint (connz) on free ports. */
class MonitoredNatsServer {
  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
    readonly monitorPort: number,
    private readonly storeDir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<MonitoredNatsServer> {
    const port = await freePort();
    const monitorPort = await freePort();
    const storeDir = mkdtempSync(join(tmpdir(), 'jetflow-nats-'));
    const proc = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', storeDir], { stdio: 'ignore' });
    await waitForPort(port);
    await waitForPort(monitorPort);
    return new MonitoredNatsServer(proc, port, monitorPort, storeDir);
  }

  /** Client connections by name with their subscriptions' delivery counts. */
  connections(): Promise<NonNullable<Connz['connections']>> {
    return new Promise((resolve, reject) => {
      get(`http://127.0.0.1:${this.monitorPort}/connz?subs=detail&limit=1024`, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          try {
            resolve((JSON.parse(text) as Connz).connections ?? []);
          } catch (err) {
            reject(err);
          }
        });
      }).on('error', reject);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      await new Promise<void>((r) => {
        this.proc.once('exit', () => r());
        this.proc.kill('SIGKILL');
      });
    }
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

interface Connz {
  connections?: {
    cid: number;
    name?: string;
    out_msgs: number;
    subscriptions_list_detail?: { subject: string; qgroup?: string; msgs: number }[];
  }[];
}

/** Per executions connection: commands (step results, timers) it answered. */
async function commandsByExecutionsConnection(nats: MonitoredNatsServer): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const c of await nats.connections()) {
    if (c.name !== 'jetflow-executions') continue;
    const sub = (c.subscriptions_list_detail ?? []).find((s) => s.subject === 'jetflow.rpc.executions.command');
    out.set(c.cid, sub?.msgs ?? 0);
  }
  return out;
}

/** Per steps connection: messages the server delivered to it (tasks pulled, result replies). */
async function deliveriesBySteps(nats: MonitoredNatsServer): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const c of await nats.connections()) if (c.name === 'jetflow-steps') out.set(c.cid, c.out_msgs);
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inBatches<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

describe('scale-out (separate gateway, 2 executions and 2 steps processes on one nats-server and database)', () => {
  let nats: MonitoredNatsServer;
  let db: TestDatabase;
  let baseUrl: string;
  const procs: JetflowProcess[] = [];

  beforeAll(async () => {
    JetflowProcess.assertBuilt();
    nats = await MonitoredNatsServer.start();
    db = await TestDatabase.create('jf_e2e_scale');
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const common = { NATS_URL: nats.url, DATABASE_URL: db.url, HOST: '127.0.0.1' };
    const gateway = new JetflowProcess({ ...common, PORT: String(port), LOG_LEVEL: 'warn' }, 'gateway,workflows');
    const workers = [
      new JetflowProcess({ ...common, LOG_LEVEL: 'info' }, 'executions'),
      new JetflowProcess({ ...common, LOG_LEVEL: 'info' }, 'executions'),
      new JetflowProcess({ ...common, LOG_LEVEL: 'info' }, 'steps'),
      new JetflowProcess({ ...common, LOG_LEVEL: 'info' }, 'steps'),
    ];
    procs.push(gateway, ...workers);
    // All replicas boot at once, as in a rollout: concurrent stream/consumer creation and migrations.
    await Promise.all(procs.map((p) => p.start()));
    for (const w of workers) await eventually(() => w.output.includes('jetflow started'), { timeoutMs: 30_000, intervalMs: 50 });
    await eventually(async () => (await http(baseUrl, 'GET', '/health')).status === 200, { timeoutMs: 10_000 });
    await eventually(
      async () => {
        const conns = await nats.connections();
        expect(conns.filter((c) => c.name === 'jetflow-executions')).toHaveLength(2);
        expect(conns.filter((c) => c.name === 'jetflow-steps')).toHaveLength(2);
        return true;
      },
      { timeoutMs: 5_000 },
    );
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) await p.kill();
    await nats?.stop();
    await db?.drop();
  });

  it(`runs ${RUNS} concurrent executions to completion, each step exactly once, on both replicas of each service`, async () => {
    const wf = await http(baseUrl, 'POST', '/api/workflows', WORKFLOW);
    expect(wf.status).toBe(201);
    const workflowId: string = wf.body.id;
    const commandsBefore = await commandsByExecutionsConnection(nats);
    const deliveriesBefore = await deliveriesBySteps(nats);

    const started = await Promise.all(
      Array.from({ length: RUNS }, (_, n) => http(baseUrl, 'POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'api', n } })),
    );
    expect(started.map((r) => r.status)).toEqual(new Array(RUNS).fill(202));
    const ids: string[] = started.map((r) => r.body.execution_id);
    expect(new Set(ids).size).toBe(RUNS);

    // Completion from the logs themselves (GET /executions/{id} folds the log), not the read model.
    let pending = [...ids];
    await eventually(
      async () => {
        const views = await inBatches(pending, 25, (id) => http(baseUrl, 'GET', `/api/executions/${id}`));
        for (const v of views) expect(['running', 'completed']).toContain(v.body.status);
        pending = pending.filter((_, i) => views[i]!.body.status !== 'completed');
        if (pending.length) throw new Error(`${pending.length} of ${RUNS} not completed yet`);
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    await inBatches(ids, 20, async (id, n) => {
      const view = await http(baseUrl, 'GET', `/api/executions/${id}`);
      expect(view.body).toMatchObject({ status: 'completed', result: { n, last: true } });
      const log = await http(baseUrl, 'GET', `/api/executions/${id}/events`);
      expect(log.status).toBe(200);
      const events: { type: string; step_id?: string }[] = log.body.items;
      const completedSteps = events.filter((e) => e.type === 'StepCompleted').map((e) => e.step_id!);
      expect([...completedSteps].sort()).toEqual([...STEP_IDS].sort());
      expect(events.filter((e) => e.type === 'StepStarted').map((e) => e.step_id!).sort()).toEqual([...STEP_IDS].sort());
      expect(events.filter((e) => e.type === 'ExecutionCompleted')).toHaveLength(1);
      expect(events.at(-1)!.type).toBe('ExecutionCompleted');
    });

    // The read model catches up too.
    await eventually(
      async () => {
        const list = await http(baseUrl, 'GET', `/api/executions?workflow_id=${workflowId}&status=completed&limit=500`);
        expect(list.status).toBe(200);
        expect(new Set(list.body.items.map((i: { id: string }) => i.id))).toEqual(new Set(ids));
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );

    // Both executions replicas decided step results (queue group on jetflow.rpc.executions.command):
    // 2 tool_call results per run, shared between them.
    const commandsAfter = await commandsByExecutionsConnection(nats);
    const commandCounts = [...commandsAfter].map(([cid, msgs]) => msgs - (commandsBefore.get(cid) ?? 0));
    expect(commandCounts).toHaveLength(2);
    expect(commandCounts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2 * RUNS);
    for (const count of commandCounts) expect(count).toBeGreaterThan(0);

    // Both steps replicas pulled tasks from the shared durable consumer (a task delivery plus the
    // command's reply per task; an idle worker only sees a heartbeat now and then).
    const deliveriesAfter = await deliveriesBySteps(nats);
    const deliveryCounts = [...deliveriesAfter].map(([cid, msgs]) => msgs - (deliveriesBefore.get(cid) ?? 0));
    expect(deliveryCounts).toHaveLength(2);
    for (const count of deliveryCounts) expect(count).toBeGreaterThanOrEqual(20);

    for (const p of procs) expect(p.output).not.toMatch(/jetflow failed to start|uncaught|unhandled/i);
  });
});
