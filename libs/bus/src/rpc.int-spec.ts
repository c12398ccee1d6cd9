import type { NatsConnection } from '@nats-io/transport-node';
import { JetflowError } from '@jetflow/contracts';
import { TestNatsServer } from '../../../test/support/nats-server';
import { connectNats, RpcClient, RpcServer, type RpcLogger } from './index';

describe('rpc over NATS request/reply', () => {
  let server: TestNatsServer;
  let serverConn: NatsConnection;
  let serverConn2: NatsConnection;
  let clientConn: NatsConnection;
  const logged: string[] = [];
  const logger: RpcLogger = { error: (message) => logged.push(message) };

  beforeAll(async () => {
    server = await TestNatsServer.start();
    serverConn = await connectNats({ servers: server.url, name: 'rpc-server-1' });
    serverConn2 = await connectNats({ servers: server.url, name: 'rpc-server-2' });
    clientConn = await connectNats({ servers: server.url, name: 'rpc-client' });
  });

  afterAll(async () => {
    await Promise.all([serverConn, serverConn2, clientConn].map((c) => c?.close()));
    await server?.stop();
  });

  it('answers requests across connections and passes error codes through', async () => {
    const rpc = new RpcServer(serverConn, 'workflows', { logger });
    rpc.handle<{ a: number; b: number }, { sum: number }>('add', async ({ a, b }) => ({ sum: a + b }));
    rpc.handle('missing', async () => {
      throw new JetflowError('NOT_FOUND', 'workflow w1 not found', [{ message: 'no such id', path: 'id' }]);
    });
    rpc.handle('bug', async () => {
      throw new TypeError('cannot read x of undefined');
    });
    await serverConn.flush();
    const client = new RpcClient(clientConn, { timeoutMs: 2_000 });

    await expect(client.request('workflows', 'add', { a: 2, b: 3 })).resolves.toEqual({ sum: 5 });
    await expect(client.request('workflows', 'missing', {})).rejects.toMatchObject({
      name: 'JetflowError',
      code: 'NOT_FOUND',
      message: 'workflow w1 not found',
      details: [{ message: 'no such id', path: 'id' }],
    });
    const bug = await client.request('workflows', 'bug', {}).catch((e: unknown) => e);
    expect(bug).toBeInstanceOf(JetflowError);
    expect(bug).toMatchObject({ code: 'INTERNAL', message: 'cannot read x of undefined' });
    expect(logged.some((m) => m.includes('jetflow.rpc.workflows.bug'))).toBe(true);
    await rpc.close();
  });

  it('a request or a reply larger than the server max_payload is PAYLOAD_TOO_LARGE, not a timeout or UNAVAILABLE', async () => {
    const rpc = new RpcServer(serverConn, 'tools', { logger });
    rpc.handle<{ n: number }, { text: string }>('echo', async ({ n }) => ({ text: 'x'.repeat(n) }));
    await serverConn.flush();
    const client = new RpcClient(clientConn, { timeoutMs: 2_000 });
    const max = clientConn.info!.max_payload;
    await expect(client.request('tools', 'echo', { n: 10, pad: 'y'.repeat(max) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('tools.echo request') });
    await expect(client.request('tools', 'echo', { n: max })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('the reply of jetflow.rpc.tools.echo') });
    await expect(client.request('tools', 'echo', { n: 3 })).resolves.toEqual({ text: 'xxx' });
    await rpc.close();
  });

  it('handles requests concurrently', async () => {
    const rpc = new RpcServer(serverConn, 'executions');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let waiting = 0;
    rpc.handle('wait', async () => {
      waiting++;
      if (waiting === 3) release();
      await gate;
      return waiting;
    });
    await serverConn.flush();
    const client = new RpcClient(clientConn, { timeoutMs: 3_000 });
    const replies = await Promise.all([1, 2, 3].map(() => client.request<number>('executions', 'wait', {})));
    expect(replies).toEqual([3, 3, 3]);
    await rpc.close();
  });

  it('load-balances a queue group over two servers', async () => {
    const a = new RpcServer(serverConn, 'approvals');
    const b = new RpcServer(serverConn2, 'approvals');
    a.handle('who', async () => 'a');
    b.handle('who', async () => 'b');
    await Promise.all([serverConn.flush(), serverConn2.flush()]);
    const client = new RpcClient(clientConn);
    const answers = await Promise.all(Array.from({ length: 200 }, () => client.request<string>('approvals', 'who', null)));
    const countA = answers.filter((x) => x === 'a').length;
    const countB = answers.filter((x) => x === 'b').length;
    expect(countA + countB).toBe(200);
    expect(countA).toBeGreaterThan(20);
    expect(countB).toBeGreaterThan(20);
    await Promise.all([a.close(), b.close()]);
  });

  it('maps no responders and timeouts to UNAVAILABLE', async () => {
    const client = new RpcClient(clientConn, { timeoutMs: 300 });
    await expect(client.request('workflows', 'nobody-home', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });

    const rpc = new RpcServer(serverConn, 'workflows');
    rpc.handle('slow', () => new Promise((r) => setTimeout(() => r('late'), 600)));
    await serverConn.flush();
    await expect(client.request('workflows', 'slow', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await rpc.close();
  });

  it('answers invalid JSON with VALIDATION_ERROR', async () => {
    const rpc = new RpcServer(serverConn, 'workflows');
    rpc.handle('echo', async (req) => req);
    await serverConn.flush();
    const msg = await clientConn.request('jetflow.rpc.workflows.echo', new TextEncoder().encode('{nope'), { timeout: 2_000 });
    expect(msg.json()).toEqual({ ok: false, error: { code: 'VALIDATION_ERROR', message: 'request body is not valid JSON' } });
    await rpc.close();
  });
});
