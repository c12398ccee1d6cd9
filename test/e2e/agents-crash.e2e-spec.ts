import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from '../support/eventually';
import { FakeOpenAi } from '../support/fake-openai.server';
import { http, readSse } from '../support/http-client';
import { InProcessSystem, JetflowProcess } from '../support/jetflow-system';

/**
 * An agent step whose steps worker is SIGKILLed between two model turns (after the first turn's
 * tool result is in the log, while the second model call is in flight). The task is redelivered to
 * a new steps process, which resumes from the journal: the tool is not called again, the model
 * sees the recorded result, and the streamed deltas still add up to the final response.
 */
describe('agent_execution survives kill -9 of the steps worker between turns', () => {
  let sys: InProcessSystem;
  let llm: FakeOpenAi;
  let orders: Server;
  let steps: JetflowProcess | undefined;
  const orderCalls: unknown[] = [];

  beforeAll(async () => {
    JetflowProcess.assertBuilt();
    llm = await FakeOpenAi.start();
    orders = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        orderCalls.push(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'delivered' }));
      });
    });
    await new Promise<void>((r) => orders.listen(0, '127.0.0.1', r));
    // Everything but the steps service in this process; steps run as a killable child process.
    sys = await InProcessSystem.start({ SERVICES: 'gateway,workflows,executions,approvals', API_CALL_ALLOW_PRIVATE: 'true' });
  });
  afterAll(async () => {
    await steps?.kill();
    await sys?.stop();
    await llm?.stop();
    await new Promise((r) => orders?.close(r));
  });

  const stepsProcess = () =>
    new JetflowProcess({ NATS_URL: sys.nats.url, DATABASE_URL: sys.db.url, OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'sk-test', API_CALL_ALLOW_PRIVATE: 'true' }, 'steps');

  it('resumes from the last completed turn without repeating the tool call', async () => {
    const api = (method: string, path: string, body?: unknown) => http(sys.baseUrl, method, path, body);
    const tool = await api('POST', '/api/tools', {
      name: 'get_order',
      description: 'Looks an order up by id',
      input_schema: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
      endpoint: { url: `http://127.0.0.1:${(orders.address() as AddressInfo).port}/orders`, method: 'POST' },
    });
    expect(tool.status).toBe(201);
    llm.script('crashy', [
      { content: 'Checking your order. ', tool_calls: [{ name: 'get_order', arguments: { order_id: '7' } }] },
      { stall: true },
      { content: 'Order 7 was delivered.' },
    ]);
    const agent = await api('POST', '/api/agents', { name: 'Crashy', model: 'crashy', tools: ['get_order'] });
    expect(agent.status).toBe(201);
    const wf = await api('POST', '/api/workflows', {
      name: 'crashy',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['agent'] },
        { step_id: 'agent', step_type: 'agent_execution', parameters: { agent_id: agent.body.id }, next_steps: [] },
      ],
    });
    expect(wf.status).toBe(201);

    steps = stepsProcess();
    await steps.start();
    const started = await api('POST', `/api/workflows/${wf.body.id}/execute`, { trigger: { kind: 'chat', current_message: 'Where is order 7?' } });
    expect(started.status).toBe(202);

    // Turn 0 finished (its tool result is appended before the next model call); turn 1 is in flight.
    await eventually(() => llm.requestsFor('crashy').length === 2, { timeoutMs: 20_000 });
    expect(orderCalls).toHaveLength(1);
    await steps.kill('SIGKILL');

    steps = stepsProcess();
    await steps.start();
    // Redelivery waits for the task's ack deadline (30 s) to pass.
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`, { timeoutMs: 90_000 });
    expect(messages.at(-1)?.event).toBe('complete');
    const exec = (await api('GET', `/api/executions/${started.body.execution_id}`)).body;
    expect(exec.status).toBe('completed');
    const response = 'Checking your order. Order 7 was delivered.';
    expect(exec.result.response).toBe(response);
    expect(exec.result.tool_calls).toMatchObject([{ tool: 'get_order', result: { status: 'delivered' } }]);

    expect(orderCalls).toHaveLength(1);
    expect(messages.filter((m) => m.event === 'tool_call')).toHaveLength(1);
    expect(messages.filter((m) => m.event === 'tool_result')).toHaveLength(1);
    expect(messages.filter((m) => m.event === 'delta').map((m) => m.data.content).join('')).toBe(response);
    // The resumed call carried the recorded tool result; the first model call was not repeated.
    const requests = llm.requestsFor('crashy');
    expect(requests).toHaveLength(3);
    expect(requests[2].messages.at(-1)).toMatchObject({ role: 'tool' });
    expect(JSON.parse(requests[2].messages.at(-1).content)).toEqual({ status: 'delivered' });
  }, 120_000);
});
