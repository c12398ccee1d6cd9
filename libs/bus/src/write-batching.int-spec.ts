import type { NatsConnection } from '@nats-io/transport-node';
import { TestNatsServer } from '../../../test/support/nats-server';
import { batchSocketWrites, connectNats } from './index';

describe('batched socket writes (NATS client)', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let peer: NatsConnection;

  beforeAll(async () => {
    server = await TestNatsServer.start();
    [nc, peer] = await Promise.all([connectNats({ servers: server.url, name: 'batched' }), connectNats({ servers: server.url, name: 'peer' })]);
  });
  afterAll(async () => {
    await Promise.all([nc?.close(), peer?.close()]);
    await server?.stop();
  });

  it('is active on every connection Jetflow opens (a client upgrade that breaks it fails here)', () => {
    expect(batchSocketWrites(nc)).toBe(true);
    expect(batchSocketWrites(peer)).toBe(true);
  });

  it('delivers everything in publish order, one socket write per event-loop turn rather than per callback', async () => {
    const got: number[] = [];
    const done = new Promise<void>((resolve) => {
      peer.subscribe('batch.order', { callback: (_e, m) => {
          got.push(Number(new TextDecoder().decode(m.data)));
          if (got.length === 5_000) resolve();
        },
      });
    });
    await peer.flush();
    const transport = (nc as unknown as { protocol: { transport: { socket: { write: (...a: unknown[]) => boolean } } } }).protocol.transport.socket;
    const write = transport.write.bind(transport);
    let writes = 0;
    transport.write = (...a: unknown[]) => (writes++, write(...a));
    try {
      // 5,000 timer callbacks due in the same turn, like message callbacks handled in one turn: the
      // stock client flushes after each one (a microtask), so this would be ~5,000 writes.
      await new Promise<void>((resolve) => {
        for (let i = 0; i < 5_000; i++) setTimeout(() => (nc.publish('batch.order', String(i)), i === 4_999 && resolve()), 0);
      });
      await done;
    } finally {
      transport.write = write;
    }
    expect(got).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
    expect(writes).toBeLessThan(50);
  });

  it('keeps request/reply working (replies flushed without waiting for more traffic)', async () => {
    const sub = peer.subscribe('batch.echo', { callback: (_e, m) => void m.respond(m.data) });
    await peer.flush();
    for (let i = 0; i < 50; i++) expect(new TextDecoder().decode((await nc.request('batch.echo', `r${i}`, { timeout: 1000 })).data)).toBe(`r${i}`);
    sub.unsubscribe();
  });
});
