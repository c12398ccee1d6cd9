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

const chat: WorkflowDefinition = {
  name: 'chat',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['agent'] },
    { step_id: 'agent', step_type: 'agent_execution', parameters: { agent_id: 'a', wait_for_user: true }, next_steps: [] },
  ],
};
const now = () => new Date().toISOString();

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

  it('confirms a refusal against the log: a chat message is not refused because this replica\'s cache missed the step going to waiting', async () => {
    const a = new ExecutionActorHost(store, dispatcher);
    const b = new ExecutionActorHost(store, dispatcher);
    const id = randomUUID();
    expect((await a.handle(id, startCommand(id, chat, { kind: 'chat', current_message: 'hi' }), { assumeNew: true })).state.status).toBe('running');
    // Another replica records the agent's answer: the step waits for the user; A's cache still says running.
    expect((await b.handle(id, { type: 'CompleteStep', step_id: 'agent', attempt: 1, output: { response: 'hello' }, now: now() })).state.status).toBe('waiting');
    expect(a.peek(id)?.status).toBe('running');
    const sent = await a.handle(id, { type: 'AddUserMessage', message_id: 'm1', content: 'order 1?', now: now() });
    expect(sent.events.map((e) => e.type)).toContain('UserMessageAdded');
    expect(sent.state.status).toBe('running');
    // A real refusal still is one (after the same check): no step waits now.
    await expect(a.handle(id, { type: 'AddUserMessage', message_id: 'm2', content: 'again', now: now() })).rejects.toMatchObject({ code: 'CONFLICT' });
    // And `end: true` sent twice with one message id ends the chat once, without a refusal.
    await b.handle(id, { type: 'CompleteStep', step_id: 'agent', attempt: 1, chat_turn: 1, output: { response: 'shipped' }, now: now() });
    const ended = await b.handle(id, { type: 'AddUserMessage', message_id: 'end-1', content: '', end: true, now: now() });
    expect(ended.state.status).toBe('completed');
    const repeat = await a.handle(id, { type: 'AddUserMessage', message_id: 'end-1', content: '', end: true, now: now() });
    expect(repeat.events).toEqual([]);
    expect(repeat.state.status).toBe('completed');
  });
});
