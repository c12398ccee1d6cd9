import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, encodeJson } from '@jetflow/bus';
import { SUBJECTS, type WorkflowDefinition } from '@jetflow/contracts';
import { EventStore, ensureStreams, streamNames, type StreamOptions } from '@jetflow/event-store';
import { TestNatsServer } from '../../../test/support/nats-server';
import { ExecutionActorHost } from './execution-actor.host';
import { RecoverySweeper, type ActivePageRequest, type ActiveRun } from './recovery.sweeper';
import { TaskDispatcher } from './task-dispatcher';
import { startCommand } from '../../engine/src/testing/start-command.fixture';

const toolStep: WorkflowDefinition = {
  name: 'tool',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['call'] },
    { step_id: 'call', step_type: 'tool_call', parameters: { tool: 'noop', arguments: {} }, next_steps: [] },
  ],
};

const approval: WorkflowDefinition = {
  name: 'waiting',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['ask'] },
    { step_id: 'ask', step_type: 'human_approval', parameters: {}, next_steps: [] },
  ],
};

const start = (id: string, definition: WorkflowDefinition = toolStep) => startCommand(id, definition);

describe('RecoverySweeper', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let host: ExecutionActorHost;
  let dispatcher: TaskDispatcher;
  const streams: StreamOptions = { prefix: `R${Date.now().toString(36)}_` };
  const names = streamNames(streams);

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'sweeper-test' });
    await ensureStreams(nc, streams);
    dispatcher = new TaskDispatcher(nc);
    host = new ExecutionActorHost(new EventStore(nc, streams), dispatcher);
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  const tasksOf = async (id: string) => (await (await jetstreamManager(nc)).streams.info(names.tasks, { subjects_filter: `jetflow.tasks.${id}.>` })).state.subjects ?? {};

  it('publishes again a task the log says is outstanding but its work queue lost, and only that', async () => {
    const lost = randomUUID();
    const kept = randomUUID();
    for (const id of [lost, kept]) await host.handle(id, start(id), { assumeNew: true });
    expect(Object.values(await tasksOf(lost))).toEqual([1]);
    // The crash between append and publish, as the work queue sees it: the task is not there.
    await (await jetstreamManager(nc)).streams.purge(names.tasks, { filter: `jetflow.tasks.${lost}.>` });
    expect(await tasksOf(lost)).toEqual({});

    const runs: ActiveRun[] = [lost, kept].map((id, i) => ({ id, updated_at: `2026-01-01 00:00:0${i}+00`, last_seq: host.peekActor(id)!.seq }));
    const sweeper = new RecoverySweeper(nc, host, dispatcher, { tasksStream: names.tasks, timersStream: names.timers, listActive: async () => runs });
    const dispatched = dispatcher.stats();
    // The first pass only notes it (missing, held by no worker, at this log position); a second
    // pass finding the same publishes it.
    expect(await sweeper.sweepOnce()).toBe(0);
    expect(await tasksOf(lost)).toEqual({});
    expect(await sweeper.sweepOnce()).toBe(1);
    expect(Object.values(await tasksOf(lost))).toEqual([1]);
    expect(Object.values(await tasksOf(kept))).toEqual([1]);
    // Queued again: the next pass finds nothing to do.
    expect(await sweeper.sweepOnce()).toBe(0);
    // What the metrics read: one task published again, through the queue, by the sweep.
    expect(sweeper.stats()).toEqual({ passes: 3, failures: 0 });
    expect(dispatcher.stats().redispatched - dispatched.redispatched).toBe(1);
    expect(dispatcher.stats().local).toBe(dispatched.local);
  });

  it('leaves alone a task a live worker holds outside the queue, and publishes nothing when the workers cannot be asked', async () => {
    const id = randomUUID();
    await host.handle(id, start(id), { assumeNew: true });
    // As if a worker of this process had taken it: on no queue.
    await (await jetstreamManager(nc)).streams.purge(names.tasks, { filter: `jetflow.tasks.${id}.>` });
    const key = `${id}:call:1`;
    let answer: 'held' | 'garbage' = 'held';
    const worker = nc.subscribe(SUBJECTS.taskHeld, { callback: (_e, m) => void m.respond(answer === 'held' ? encodeJson([key]) : new TextEncoder().encode('not json')) });
    await nc.flush();
    const asking = new TaskDispatcher(nc, { heldWaitMs: 200 });
    const sweeper = new RecoverySweeper(nc, new ExecutionActorHost(new EventStore(nc, streams), asking), asking, {
      tasksStream: names.tasks,
      timersStream: names.timers,
      listActive: async () => [{ id, updated_at: '2026-01-01 00:00:00+00', last_seq: host.peekActor(id)!.seq }],
    });
    try {
      for (let pass = 0; pass < 3; pass++) expect(await sweeper.sweepOnce()).toBe(0);
      answer = 'garbage';
      for (let pass = 0; pass < 3; pass++) expect(await sweeper.sweepOnce()).toBe(0);
      expect(await tasksOf(id)).toEqual({});
    } finally {
      worker.unsubscribe();
    }
    // Its worker is gone (no one answers): published again on the second pass that finds it so.
    await nc.flush();
    expect(await sweeper.sweepOnce()).toBe(0);
    expect(await sweeper.sweepOnce()).toBe(1);
    expect(Object.values(await tasksOf(id))).toEqual([1]);
  });

  it('takes a run from the cache without I/O when the read model has seen nothing newer, else from the log', async () => {
    const id = randomUUID();
    await host.handle(id, start(id, approval), { assumeNew: true });
    const seq = host.peekActor(id)!.seq;
    const api: string[] = [];
    const sub = nc.subscribe('$JS.API.>', { callback: (_e, m) => void api.push(m.subject) });
    await nc.flush();
    const sweep = (last_seq: number) =>
      new RecoverySweeper(nc, host, dispatcher, { tasksStream: names.tasks, timersStream: names.timers, listActive: async () => [{ id, updated_at: '2026-01-01 00:00:00+00', last_seq }] }).sweepOnce();
    expect(await sweep(seq)).toBe(0);
    await nc.flush();
    expect(api).toEqual([]);
    // The read model has seen a later entry (another replica's): the log is asked.
    expect(await sweep(seq + 1)).toBe(0);
    await nc.flush();
    expect(api.some((s) => s.startsWith('$JS.API.DIRECT.GET'))).toBe(true);
    sub.unsubscribe();
  });

  it('reads at most maxLogReadsPerPass runs from the log per pass and goes on from there next time', async () => {
    // Runs this host has not cached (another replica ran them): each costs a log read.
    const other = new ExecutionActorHost(new EventStore(nc, streams), dispatcher);
    const runs: ActiveRun[] = [];
    for (const i of [1, 2, 3]) {
      const id = randomUUID();
      const { seq } = await other.handle(id, start(id, approval), { assumeNew: true });
      runs.push({ id, updated_at: `2026-01-01 00:00:0${i}+00`, last_seq: seq });
    }
    const asked: ActivePageRequest[] = [];
    const sweeper = new RecoverySweeper(nc, host, dispatcher, {
      tasksStream: names.tasks,
      timersStream: names.timers,
      maxLogReadsPerPass: 2,
      listActive: async (page) => {
        asked.push(page);
        const from = page.after ? runs.findIndex((r) => r.id === page.after!.id) + 1 : 0;
        return runs.slice(from, from + page.limit);
      },
    });
    const t0 = Date.parse('2026-06-01T00:00:00Z');
    await sweeper.sweepOnce(t0);
    await sweeper.sweepOnce(t0 + 5_000);
    await sweeper.sweepOnce(t0 + 10_000);
    // Pass 1 (full) reads two runs and stops; pass 2 finishes the full pass from the second run;
    // pass 3 is a recent one from the start (the three are cached now: no reads).
    expect(asked.map((p) => [p.since?.toISOString(), p.after?.id])).toEqual([
      [undefined, undefined],
      [undefined, runs[1]!.id],
      [new Date(t0 + 10_000 - 600_000).toISOString(), undefined],
    ]);
    expect(runs.every((r) => host.peekActor(r.id) !== undefined)).toBe(true);
  });

  it('looks at recently updated runs between full passes, and pages until a short page', async () => {
    const asked: ActivePageRequest[] = [];
    const sweeper = new RecoverySweeper(nc, host, dispatcher, {
      tasksStream: names.tasks,
      timersStream: names.timers,
      recentWindowMs: 60_000,
      fullPassEveryMs: 600_000,
      pageSize: 2,
      listActive: async (page) => {
        asked.push(page);
        // Two full pages of unknown runs (nothing to fold), then a short one.
        return asked.length % 3 === 0
          ? []
          : [
              { id: randomUUID(), updated_at: `2026-01-01 00:00:0${asked.length}+00`, last_seq: 1 },
              { id: randomUUID(), updated_at: `2026-01-01 00:00:0${asked.length}.5+00`, last_seq: 1 },
            ];
      },
    });
    const t0 = Date.parse('2026-06-01T00:00:00Z');
    await sweeper.sweepOnce(t0);
    expect(asked.map((p) => [p.since, p.after?.updated_at, p.limit])).toEqual([
      [undefined, undefined, 2],
      [undefined, '2026-01-01 00:00:01.5+00', 2],
      [undefined, '2026-01-01 00:00:02.5+00', 2],
    ]);
    asked.length = 0;
    await sweeper.sweepOnce(t0 + 5_000);
    expect(asked[0]).toEqual({ since: new Date(t0 + 5_000 - 60_000), limit: 2 });
    asked.length = 0;
    await sweeper.sweepOnce(t0 + 600_000);
    expect(asked[0]).toEqual({ limit: 2 });
  });
});
