import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { NoRespondersError, type NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@jetflow/bus';
import { TestNatsServer } from '../../../test/support/nats-server';
import { JetStreamPublisher } from './jetstream-publisher';

const enc = (s: string) => new TextEncoder().encode(s);

describe('JetStreamPublisher against nats-server', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;
  let publisher: JetStreamPublisher;

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'publisher-test' });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'PUB', subjects: ['pub.>'], duplicate_window: 60_000_000_000 });
    publisher = new JetStreamPublisher(nc);
  });

  afterAll(async () => {
    publisher?.close();
    await nc?.close();
    await server?.stop();
  });

  it('returns the stream ack; a repeated message id is acked as a duplicate of the first', async () => {
    const first = await publisher.publish('pub.a', enc('one'), { msgID: 'm-1' });
    expect(first).toMatchObject({ stream: 'PUB', duplicate: false });
    expect(first.seq).toBeGreaterThan(0);
    const again = await publisher.publish('pub.a', enc('one'), { msgID: 'm-1' });
    expect(again).toMatchObject({ stream: 'PUB', seq: first.seq, duplicate: true });
    const stored = await (await jetstreamManager(nc)).streams.getMessage('PUB', { seq: first.seq });
    expect(stored?.string()).toBe('one');
  });

  it('enforces the expected last subject sequence and throws the server error code', async () => {
    const a = await publisher.publish('pub.cas', enc('1'), { expectLastSubjectSequence: 0 });
    const b = await publisher.publish('pub.cas', enc('2'), { expectLastSubjectSequence: a.seq });
    expect(b.seq).toBeGreaterThan(a.seq);
    const err = await publisher.publish('pub.cas', enc('3'), { expectLastSubjectSequence: a.seq }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JetStreamApiError);
    expect((err as JetStreamApiError).code).toBe(JetStreamApiCodes.StreamWrongLastSequence);
    // 0 means "the subject must be empty".
    const empty = await publisher.publish('pub.cas', enc('4'), { expectLastSubjectSequence: 0 }).catch((e: unknown) => e);
    expect((empty as JetStreamApiError).code).toBe(JetStreamApiCodes.StreamWrongLastSequence);
  });

  it('acks many concurrent publishes, each with its own sequence, in publish order', async () => {
    const acks = await Promise.all(Array.from({ length: 2_000 }, (_, i) => publisher.publish(`pub.many.${i % 7}`, enc(String(i)))));
    const seqs = acks.map((a) => a.seq);
    expect(new Set(seqs).size).toBe(2_000);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });

  it('fails with NoRespondersError when no stream takes the subject', async () => {
    await expect(publisher.publish('nostream.x', enc('x'))).rejects.toBeInstanceOf(NoRespondersError);
  });
});
