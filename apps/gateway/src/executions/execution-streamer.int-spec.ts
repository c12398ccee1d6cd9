import { randomUUID } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { connectNats, RpcServer } from '@jetflow/bus';
import { loadConfig } from '@jetflow/config';
import { STREAMS, type ExecutionEvent, type StreamEvent } from '@jetflow/contracts';
import { ensureStreams, EventStore, type ExecutionFeed } from '@jetflow/event-store';
import { pino } from 'pino';
import { eventually } from '../../../../test/support/eventually';
import { TestNatsServer } from '../../../../test/support/nats-server';
import { createGatewayApp } from '../gateway.app';
import { EXECUTION_FEED } from './execution-stream.tokens';

const SCOPE = { 'X-elevAIte-OrganizationId': 'org-1', 'X-elevAIte-ProjectId': 'proj-1', 'X-elevAIte-UserId': 'user-1' };
const AT = '2025-01-01T00:00:00.000Z';
const status = (n: number): ExecutionEvent => ({ type: 'ExecutionStatusChanged', status: 'running', step_id: `s${n}`, at: AT });
const delta = (content: string): StreamEvent => ({ type: 'Delta', step_id: 'agent', content, at: AT });
const completed = (): ExecutionEvent => ({ type: 'ExecutionCompleted', status: 'completed', at: AT });

interface Msg {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** An SSE client whose reading can be paused (a slow client: the server's socket fills up). */
function connect(base: string, id: string): Promise<{ res: IncomingMessage; messages: Msg[]; ended: Promise<void>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/executions/${id}/stream`, { headers: { accept: 'text/event-stream', ...SCOPE } }, (res) => {
      const messages: Msg[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
      });
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const m: Msg = { event: 'message', data: {} };
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) m.id = line.slice(4);
            else if (line.startsWith('event: ')) m.event = line.slice(7);
            else if (line.startsWith('data: ')) m.data = JSON.parse(line.slice(6));
          }
          messages.push(m);
        }
      });
      resolve({ res, messages, ended, close: () => req.destroy() });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.end();
  });
}

const logged = (messages: Msg[]) => messages.filter((m) => m.id !== undefined);

describe('ExecutionStreamer on the shared feed (gateway over a real nats-server)', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let servicesNc: NatsConnection;
  let app: NestFastifyApplication;
  let base: string;
  let store: EventStore;
  let rpc: RpcServer;

  beforeAll(async () => {
    nats = await TestNatsServer.start();
    nc = await connectNats({ servers: nats.url, name: 'streamer-test-gateway' });
    servicesNc = await connectNats({ servers: nats.url, name: 'streamer-test-services' });
    await ensureStreams(nc);
    store = new EventStore(servicesNc);
    rpc = new RpcServer(servicesNc, 'executions');
    rpc.handle('authorize', async (req: { id: string }) => ({ id: req.id }));
    await servicesNc.flush();
    app = await createGatewayApp({ nc, config: loadConfig({ HEARTBEAT_MS: '200' }), logger: pino({ level: 'silent' }) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await app?.close();
    await rpc?.close();
    await nc?.close();
    await servicesNc?.close();
    await nats?.stop();
  });

  const consumers = async () => (await (await jetstreamManager(nc)).streams.info(STREAMS.executions)).state.consumer_count;

  it('many clients on many executions share one consumer; each gets its own entries, heartbeats, and nothing after complete', async () => {
    const ids = Array.from({ length: 25 }, () => randomUUID());
    const last = new Map<string, number>();
    for (const id of ids) last.set(id, (await store.append(id, [status(1)], 0, `${id}:1`)).seq);
    const clients = await Promise.all(ids.flatMap((id) => [connect(base, id), connect(base, id)]));
    await eventually(() => clients.every((c) => logged(c.messages).length === 1));
    expect(await consumers()).toBe(1);
    await eventually(() => clients.every((c) => c.messages.some((m) => m.event === 'heartbeat')));

    const expected = new Map<string, string[]>();
    for (const id of ids) expected.set(id, [String(last.get(id))]);
    for (let round = 2; round <= 4; round++) {
      await Promise.all(
        ids.map(async (id) => {
          const d = await store.appendStream(id, [delta(`${id}-${round}`)]);
          const e = await store.append(id, [status(round), status(round * 10)], last.get(id)!, `${id}:${round}`);
          last.set(id, e.seq);
          expected.get(id)!.push(String(d.seq), String(e.seq), `${e.seq}.1`);
        }),
      );
    }
    await Promise.all(
      ids.map(async (id) => {
        const e = await store.append(id, [completed()], last.get(id)!, `${id}:end`);
        expected.get(id)!.push(String(e.seq));
      }),
    );
    await Promise.all(clients.map((c) => c.ended));
    for (const [i, c] of clients.entries()) {
      const id = ids[Math.floor(i / 2)]!;
      expect([id, logged(c.messages).map((m) => m.id)]).toEqual([id, expected.get(id)]);
      expect(c.messages[0]!.event).toBe('connected');
      expect(c.messages.at(-1)!.event).toBe('complete');
      for (const m of c.messages) expect(m.data.execution_id).toBe(id);
    }
    // Closed streams leave no consumer behind once the feed has been idle for a moment.
    await eventually(async () => (await consumers()) === 0);
  });

  it('a client that stops reading holds up no other client, keeps bounded memory and later gets every entry once', async () => {
    const id = randomUUID();
    let lastSeq = (await store.append(id, [status(0)], 0, `${id}:0`)).seq;
    const slow = await connect(base, id);
    const fast = await connect(base, id);
    await eventually(() => logged(slow.messages).length === 1 && logged(fast.messages).length === 1);
    slow.res.pause();

    // Far more than the socket buffers and the follower's buffer (256 entries) hold.
    const chunk = 'x'.repeat(32 * 1024);
    const expected = [String(lastSeq)];
    for (let i = 1; i <= 1200; i++) {
      if (i % 2 === 0) {
        lastSeq = (await store.append(id, [status(i)], lastSeq, `${id}:${i}`)).seq;
        expected.push(String(lastSeq));
      } else {
        expected.push(String((await store.appendStream(id, [delta(`${i}:${chunk}`)])).seq));
      }
    }
    // The reading client is not held up by the stalled one.
    await eventually(() => logged(fast.messages).length === expected.length, { timeoutMs: 20_000 });
    const feed = app.get<ExecutionFeed>(EXECUTION_FEED);
    expect(feed.stats().overflows).toBeGreaterThan(0);

    lastSeq = (await store.append(id, [completed()], lastSeq, `${id}:end`)).seq;
    expected.push(String(lastSeq));
    await fast.ended;
    slow.res.resume();
    await slow.ended;
    expect(logged(fast.messages).map((m) => m.id)).toEqual(expected);
    expect(logged(slow.messages).map((m) => m.id)).toEqual(expected);
  }, 60_000);
});
