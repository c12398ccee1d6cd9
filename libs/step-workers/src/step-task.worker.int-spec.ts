import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, decodeJson, encodeJson, localTasks, RpcServer } from '@jetflow/bus';
import { SUBJECTS, type ExecutionCommand, type StepTask } from '@jetflow/contracts';
import { ensureStreams, streamNames, type StreamOptions } from '@jetflow/event-store';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import { StepTaskWorker } from './step-task.worker';

const task = (key: string): StepTask => ({
  execution_id: '00000000-0000-4000-8000-000000000001',
  step_id: 'call',
  attempt: 1,
  step_type: 'tool_call',
  parameters: { tool: 'noop', arguments: {} },
  scope: { organization_id: 'o', project_id: 'p' },
  input: {},
  idempotency_key: key,
});

describe('StepTaskWorker taking tasks from a host in its own process', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let worker: StepTaskWorker;
  const streams: StreamOptions = { prefix: `W${Date.now().toString(36)}_` };
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const runs: string[] = [];

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'worker-test' });
    await ensureStreams(nc, streams);
    worker = new StepTaskWorker(nc, { tool_call: async (t) => (runs.push(t.idempotency_key), t.idempotency_key.startsWith('slow') ? gate.then(() => ({ ok: true, output: 1 })) : { ok: true, output: 1 }) }, { tasksStream: streamNames(streams).tasks, concurrency: 2 });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await nc?.close();
    await server?.stop();
  });

  it('registers as the connection\'s local runner, reports the result to the actor, and never touches the queue', async () => {
    expect(localTasks.find(nc)).toBe(worker);
    const seen: ExecutionCommand[] = [];
    const rpc = new RpcServer(nc, 'executions');
    rpc.handle<{ execution_id: string; command: ExecutionCommand }, unknown>('command', async (r) => (seen.push(r.command), { ok: true }));
    try {
      const requeued: string[] = [];
      expect(worker.tryRun(task('fast-1'), async () => void requeued.push('fast-1'))).toBe('started');
      await eventually(() => seen.length === 1);
      expect(seen[0]).toMatchObject({ type: 'CompleteStep', step_id: 'call', attempt: 1, output: 1 });
      expect(requeued).toEqual([]);
      expect((await (await jetstreamManager(nc)).streams.info(streamNames(streams).tasks)).state.last_seq).toBe(0);
    } finally {
      await rpc.close();
    }
  });

  it('hands a task back to the queue when the actor does not record its result', async () => {
    // No executions service on this connection or server: the report fails (UNAVAILABLE).
    const requeued: string[] = [];
    expect(worker.tryRun(task('fast-2'), async () => void requeued.push('fast-2'))).toBe('started');
    await eventually(() => requeued.length === 1, { timeoutMs: 15_000 });
    expect(requeued).toEqual(['fast-2']);
  });

  it('answers "held" while it runs a task, declines when full, runs a repeat once, and lets go only after handing it on', async () => {
    const heldOf = async (keys: string[]) => {
      const out: string[] = [];
      for await (const m of await nc.requestMany(SUBJECTS.taskHeld, encodeJson(keys), { strategy: 'timer', maxWait: 300 })) if (m.data.length) out.push(...decodeJson<string[]>(m.data));
      return out.sort();
    };
    const requeued: string[] = [];
    const requeue = (key: string) => async () => void requeued.push(key);
    expect(worker.tryRun(task('slow-1'), requeue('slow-1'))).toBe('started');
    expect(worker.tryRun(task('slow-1'), requeue('slow-1'))).toBe('running'); // a repeat: not run twice, not queued
    expect(worker.tryRun(task('slow-2'), requeue('slow-2'))).toBe('started');
    expect(worker.tryRun(task('slow-3'), requeue('slow-3'))).toBe(false); // concurrency 2: the caller queues it
    expect(await heldOf(['slow-1', 'slow-2', 'slow-3', 'other'])).toEqual(['slow-1', 'slow-2']);
    release();
    // Not recorded (no executions service here): each goes back to the queue once, then is no longer held.
    await eventually(() => requeued.length === 2, { timeoutMs: 15_000 });
    expect(requeued.sort()).toEqual(['slow-1', 'slow-2']);
    expect(runs.filter((k) => k.startsWith('slow')).sort()).toEqual(['slow-1', 'slow-2']);
    expect(await heldOf(['slow-1', 'slow-2'])).toEqual([]);
  });
});
