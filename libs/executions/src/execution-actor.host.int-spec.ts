import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@jetflow/bus';
import type { WorkflowDefinition } from '@jetflow/contracts';
import { EventStore, ensureStreams, type StreamOptions } from '@jetflow/event-store';
import { TestNatsServer } from '../../../test/support/nats-server';
import { ExecutionActorHost } from './execution-actor.host';
import { TaskDispatcher } from './task-dispatcher';
import { startCommand } from '../../engine/src/testing/start-command.fixture';

const inline: WorkflowDefinition = {
  name: 'inline',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['double'] },
    { step_id: 'double', step_type: 'data_transform', parameters: { expression: 'input.n * 2' }, next_steps: [] },
  ],
};
const waiting: WorkflowDefinition = {
  name: 'waiting',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['pause'] },
    { step_id: 'pause', step_type: 'delay', parameters: { seconds: 3600 }, next_steps: [] },
  ],
};

const start = (id: string, definition: WorkflowDefinition, n = 1) => startCommand(id, definition, { kind: 'api', n });

describe('ExecutionActorHost caches', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let store: EventStore;
  let dispatcher: TaskDispatcher;
  const streams: StreamOptions = { prefix: `H${Date.now().toString(36)}_` };

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'actor-host-test' });
    await ensureStreams(nc, streams);
    store = new EventStore(nc, streams);
    dispatcher = new TaskDispatcher(nc);
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('keeps finished actors in their own small LRU (running ones stay cached) and folds an evicted one again on read', async () => {
    const host = new ExecutionActorHost(store, dispatcher, { cacheSize: 100, finishedCacheSize: 2 });
    const running = randomUUID();
    expect((await host.handle(running, start(running, waiting), { assumeNew: true })).state.status).toBe('running');
    const done = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, id] of done.entries()) {
      const { state } = await host.handle(id, start(id, inline, i + 1), { assumeNew: true });
      expect(state.status).toBe('completed');
    }
    // Three finished runs through a cache of two: the oldest is gone, the running one is not.
    expect(host.peek(done[0]!)).toBeUndefined();
    expect(host.peek(done[1]!)?.status).toBe('completed');
    expect(host.peek(done[2]!)?.result).toBe(6);
    expect(host.peek(running)?.status).toBe('running');
    // An evicted run is still whole: one read folds its log.
    const again = await host.load(done[0]!);
    expect(again.state.status).toBe('completed');
    expect(again.state.result).toBe(2);
    expect(host.peek(done[0]!)?.result).toBe(2);
  });
});
