import { NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { TestNatsServer } from '../../../test/support/nats-server';
import { connectNats } from './nats-connection';
import { ReplyInbox } from './reply-inbox';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('ReplyInbox against nats-server', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let peer: NatsConnection;

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'inbox-test' });
    peer = await connectNats({ servers: server.url, name: 'inbox-peer' });
    peer.subscribe('echo.>', { callback: (_e, m) => void m.respond(enc(`${m.subject}:${dec(m.data)}:${m.headers?.get('X-Test') ?? ''}`)) });
    peer.subscribe('silent.>', { callback: () => undefined });
    await peer.flush();
  });

  afterAll(async () => {
    await peer?.close();
    await nc?.close();
    await server?.stop();
  });

  it('routes each reply to its own request, headers included, with many in flight', async () => {
    const inbox = new ReplyInbox(nc, 5_000);
    const replies = await Promise.all(Array.from({ length: 3_000 }, (_, i) => inbox.request(`echo.${i % 11}`, enc(String(i)))));
    expect(replies.map((m) => dec(m.data))).toEqual(Array.from({ length: 3_000 }, (_, i) => `echo.${i % 11}:${i}:`));
    const { headers } = await import('@nats-io/transport-node');
    const h = headers();
    h.set('X-Test', 'yes');
    expect(dec((await inbox.request('echo.h', enc('x'), h)).data)).toBe('echo.h:x:yes');
    inbox.close();
  });

  it('fails with NoRespondersError when nobody listens', async () => {
    const inbox = new ReplyInbox(nc, 5_000);
    await expect(inbox.request('nobody.here', enc('x'))).rejects.toBeInstanceOf(NoRespondersError);
    inbox.close();
  });

  it('times out a request that gets no reply, without holding up the others', async () => {
    const inbox = new ReplyInbox(nc, 300);
    const t0 = Date.now();
    const silent = inbox.request('silent.x', enc('x'));
    expect(dec((await inbox.request('echo.fast', enc('y'))).data)).toBe('echo.fast:y:');
    await expect(silent).rejects.toBeInstanceOf(TimeoutError);
    // Deadlines are swept every 250 ms: late by at most one sweep.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(dec((await inbox.request('echo.after', enc('z'))).data)).toBe('echo.after:z:');
    inbox.close();
  });

  it('fails requests still waiting when the connection closes, and refuses new ones', async () => {
    const other = await connectNats({ servers: server.url, name: 'inbox-close' });
    const inbox = new ReplyInbox(other, 5_000);
    const waiting = inbox.request('silent.y', enc('x'));
    await other.close();
    await expect(waiting).rejects.toBeInstanceOf(Error);
    await expect(inbox.request('echo.z', enc('x'))).rejects.toThrow('closed');
  });
});
