import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@jetflow/bus';
import type { ExecutionEvent } from '@jetflow/contracts';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import { EventStore, ensureStreams, type StoredEntry } from './index';

const AT = '2025-01-01T00:00:00.000Z';
const status = (n: number): ExecutionEvent => ({ type: 'ExecutionStatusChanged', status: 'running', step_id: `s${n}`, at: AT });

describe('EventStore.follow across a nats-server restart', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'event-store-restart-test' });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('resumes after the server comes back, with no gap and no duplicate', async () => {
    const opts = { prefix: 'RS_' };
    await ensureStreams(nc, opts);
    const store = new EventStore(nc, opts);
    const id = randomUUID();
    const a = await store.append(id, [status(1)], 0, `${id}:1`);
    const follower = store.follow(id);
    const seen: StoredEntry[] = [];
    const done = (async () => {
      for await (const e of follower.entries) seen.push(e);
    })();
    await eventually(() => seen.length === 1);

    await server.kill();
    await server.restart();
    const b = await eventually(() => store.append(id, [status(2)], a.seq, `${id}:2`), { timeoutMs: 20_000, intervalMs: 200 });
    const c = await store.append(id, [status(3)], b.seq, `${id}:3`);
    const t0 = Date.now();
    await eventually(() => seen.length === 3, { timeoutMs: 45_000, intervalMs: 100 });
    console.log(`follower caught up ${Date.now() - t0} ms after the restart`);
    expect(seen.map((e) => e.seq)).toEqual([a.seq, b.seq, c.seq]);
    await follower.stop();
    await done;
  }, 60_000);
});
