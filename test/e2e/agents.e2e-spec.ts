import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAgentExecutionHandler, MockChatModel, type AgentTools, type AgentView } from '@jetflow/agents';
import type { StepTask, StreamEvent } from '@jetflow/contracts';
import { EventStore } from '@jetflow/event-store';
import { FakeOpenAi } from '../support/fake-openai.server';
import { http, readSse, type SseMessage } from '../support/http-client';
import { InProcessSystem, SCOPE_HEADERS } from '../support/jetflow-system';

const OTHER_SCOPE = { 'X-elevAIte-OrganizationId': 'org-other', 'X-elevAIte-ProjectId': 'proj-other', 'X-elevAIte-UserId': 'u2' };

describe('agents and agent_execution (HTTP + SSE, fake OpenAI-compatible provider)', () => {
  let sys: InProcessSystem;
  let llm: FakeOpenAi;
  let orders: Server;
  const orderCalls: unknown[] = [];
  const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(sys.baseUrl, method, path, body, headers);

  beforeAll(async () => {
    llm = await FakeOpenAi.start();
    orders = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const args = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        orderCalls.push(args);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ order_id: args.order_id, status: 'shipped', carrier: 'UPS' }));
      });
    });
    await new Promise<void>((r) => orders.listen(0, '127.0.0.1', r));
    sys = await InProcessSystem.start({ OPENAI_BASE_URL: llm.baseUrl, OPENAI_API_KEY: 'sk-test' });
    const tool = await api('POST', '/api/tools', {
      name: 'get_order',
      description: 'Looks an order up by id',
      input_schema: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
      endpoint: { url: `http://127.0.0.1:${(orders.address() as AddressInfo).port}/orders`, method: 'POST' },
    });
    expect(tool.status).toBe(201);
  });
  afterAll(async () => {
    await sys?.stop();
    await llm?.stop();
    await new Promise((r) => orders?.close(r));
  });

  async function createAgent(body: Record<string, unknown>): Promise<AgentView> {
    const res = await api('POST', '/api/agents', { system_prompt: 'You are a support agent.', ...body });
    expect(res.status).toBe(201);
    return res.body;
  }
  async function createWorkflow(agentId: string, agentStep: Record<string, unknown> = {}): Promise<string> {
    const res = await api('POST', '/api/workflows', {
      name: 'Customer Support Agent',
      description: 'Handle customer inquiries',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['agent'] },
        { step_id: 'agent', step_type: 'agent_execution', next_steps: [], ...agentStep, parameters: { agent_id: agentId, ...((agentStep['parameters'] as object) ?? {}) } },
      ],
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }
  async function run(workflowId: string, trigger: Record<string, unknown>): Promise<{ exec: any; messages: SseMessage[] }> {
    const started = await api('POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'chat', ...trigger } });
    expect(started.status).toBe(202);
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`, { timeoutMs: 30_000 });
    expect(messages.at(-1)?.event).toBe('complete');
    return { exec: (await api('GET', `/api/executions/${started.body.execution_id}`)).body, messages };
  }
  /** The agent's events in order, runs of deltas collapsed into one `delta…`. */
  const agentSequence = (messages: SseMessage[]) =>
    messages
      .filter((m) => m.event === 'complete' || (m.data?.step === 'agent' && ['step_start', 'delta', 'tool_call', 'tool_result', 'step_complete'].includes(m.event)))
      .map((m) => (m.event === 'delta' ? 'delta…' : m.event))
      .filter((e, i, all) => !(e === 'delta…' && all[i - 1] === 'delta…'));
  const deltasOf = (messages: SseMessage[]) => messages.filter((m) => m.event === 'delta').map((m) => m.data.content as string);

  it('manages agents per scope: create, read, list, update, delete; bad bodies are 400 with details', async () => {
    const a = await createAgent({ name: 'crud', model: 'm-crud', tools: ['get_order'], temperature: 0.2, provider: { kind: 'openai', api_key_secret: 'MY_KEY' } });
    expect(a).toMatchObject({ id: expect.any(String), name: 'crud', model: 'm-crud', tools: ['get_order'], temperature: 0.2, provider: { kind: 'openai', api_key_secret: 'MY_KEY' } });
    expect((await api('GET', `/api/agents/${a.id}`)).body).toMatchObject({ id: a.id, name: 'crud' });
    expect((await api('GET', `/api/agents/${a.id}`, undefined, OTHER_SCOPE)).status).toBe(404);
    expect((await api('GET', '/api/agents')).body.items.map((x: AgentView) => x.id)).toContain(a.id);
    expect((await api('GET', '/api/agents', undefined, OTHER_SCOPE)).body.items).toEqual([]);
    const updated = await api('PUT', `/api/agents/${a.id}`, { name: 'crud2', model: 'm-crud' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'crud2', tools: [], provider: { kind: 'openai' } });
    const bad = await api('POST', '/api/agents', { name: '', provider: { kind: 'mock' }, temperature: 9 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['mock', 'name', 'temperature']);
    expect((await api('DELETE', `/api/agents/${a.id}`)).status).toBe(200);
    expect((await api('GET', `/api/agents/${a.id}`)).status).toBe(404);
  });

  it("runs the guide's Customer Support example: step_start, delta…, tool_call, tool_result, delta…, step_complete, complete", async () => {
    llm.script('support', [
      { content: 'Let me look up your order. ', tool_calls: [{ name: 'get_order', arguments: { order_id: '12345' } }] },
      { content: 'Your order #12345 has been shipped with UPS and should arrive soon.' },
    ]);
    const agent = await createAgent({ name: 'Support', model: 'support', tools: ['get_order'] });
    const wf = await createWorkflow(agent.id);
    const before = orderCalls.length;
    const history = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello! How can I help?' },
    ];
    const { exec, messages } = await run(wf, { current_message: 'Where is my order #12345?', history });

    expect(exec.status).toBe('completed');
    expect(agentSequence(messages)).toEqual(['step_start', 'delta…', 'tool_call', 'tool_result', 'delta…', 'step_complete', 'complete']);
    const response = 'Let me look up your order. Your order #12345 has been shipped with UPS and should arrive soon.';
    expect(deltasOf(messages).join('')).toBe(response);
    // Coalesced: fewer delta events than the provider's 3-character chunks.
    expect(deltasOf(messages).length).toBeLessThan(Math.ceil(response.length / 3));
    const call = messages.find((m) => m.event === 'tool_call')!;
    expect(call.data).toMatchObject({ step: 'agent', tool: 'get_order', arguments: { order_id: '12345' } });
    expect(messages.find((m) => m.event === 'tool_result')!.data).toMatchObject({ step: 'agent', tool: 'get_order', result: { order_id: '12345', status: 'shipped' } });
    expect(orderCalls.length - before).toBe(1);

    const output = exec.steps.find((s: { step_id: string }) => s.step_id === 'agent').result;
    expect(output).toMatchObject({
      response,
      tool_calls: [{ tool: 'get_order', arguments: { order_id: '12345' }, result: { order_id: '12345', status: 'shipped' } }],
      usage: { prompt_tokens: 20, completion_tokens: expect.any(Number), total_tokens: expect.any(Number) },
    });
    expect(exec.result).toMatchObject({ response });

    // What the model saw: system prompt, history, the user's message, then its own tool call and the result.
    const [first, second] = llm.requestsFor('support');
    expect(first.stream).toBe(true);
    expect(first.messages).toEqual([
      { role: 'system', content: 'You are a support agent.' },
      ...history,
      { role: 'user', content: 'Where is my order #12345?' },
    ]);
    expect(first.tools).toEqual([expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'get_order' }) })]);
    expect(second.messages.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ function: { name: 'get_order' } }] });
    expect(second.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: second.messages.at(-2).tool_calls[0].id });
    expect(JSON.parse(second.messages.at(-1).content)).toMatchObject({ status: 'shipped' });
  });

  it('runs parallel tool calls of one turn and uses the `message` template parameter', async () => {
    llm.script('parallel', [
      { tool_calls: [{ name: 'get_order', arguments: { order_id: 'A' } }, { name: 'get_order', arguments: { order_id: 'B' } }] },
      { content: 'Both shipped.' },
    ]);
    const agent = await createAgent({ name: 'Parallel', model: 'parallel', tools: ['get_order'] });
    const wf = await createWorkflow(agent.id, { parameters: { message: 'Orders: {{input.orders}}' } });
    const { exec, messages } = await run(wf, { orders: 'A and B' });
    expect(exec.status).toBe('completed');
    expect(llm.requestsFor('parallel')[0].messages.at(-1)).toEqual({ role: 'user', content: 'Orders: A and B' });
    expect(messages.filter((m) => m.event === 'tool_call').map((m) => m.data.arguments.order_id)).toEqual(['A', 'B']);
    expect(messages.filter((m) => m.event === 'tool_result').map((m) => m.data.result.order_id).sort()).toEqual(['A', 'B']);
    expect(exec.result.tool_calls.map((c: { result: { order_id: string } }) => c.result.order_id)).toEqual(['A', 'B']);
  });

  it('fails with AGENT_ERROR after max_iterations model calls without a final answer', async () => {
    llm.script('looping', [{ tool_calls: [{ name: 'get_order', arguments: { order_id: 'L' } }] }]);
    const agent = await createAgent({ name: 'Loop', model: 'looping', tools: ['get_order'] });
    const wf = await createWorkflow(agent.id, { parameters: { max_iterations: 3 } });
    const { exec, messages } = await run(wf, { current_message: 'loop' });
    expect(exec.status).toBe('failed');
    expect(exec.error).toMatchObject({ code: 'AGENT_ERROR' });
    expect(llm.requestsFor('looping')).toHaveLength(3);
    expect(messages.filter((m) => m.event === 'tool_call')).toHaveLength(3);
    expect(messages.find((m) => m.event === 'error')?.data).toMatchObject({ step: 'agent', code: 'AGENT_ERROR' });
  });

  it('fails with TIMEOUT when the model does not answer within timeout_seconds', async () => {
    llm.script('stalling', [{ stall: true }]);
    const agent = await createAgent({ name: 'Slow', model: 'stalling' });
    const wf = await createWorkflow(agent.id, { parameters: { timeout_seconds: 1 } });
    const { exec, messages } = await run(wf, { current_message: 'hello?' });
    expect(exec.status).toBe('failed');
    expect(exec.error).toMatchObject({ code: 'TIMEOUT' });
    expect(messages.at(-1)?.data).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT' } });
  });

  it('retries a provider 500 (step retry) and succeeds; a 400 fails at once even with retries left', async () => {
    llm.script('flaky', [{ status: 500 }, { content: 'Recovered answer.' }]);
    const flaky = await createAgent({ name: 'Flaky', model: 'flaky' });
    const wf = await createWorkflow(flaky.id, { retry: { max_attempts: 3, backoff_seconds: 0.05 } });
    const { exec, messages } = await run(wf, { current_message: 'hi' });
    expect(exec.status).toBe('completed');
    expect(exec.result.response).toBe('Recovered answer.');
    expect(deltasOf(messages).join('')).toBe('Recovered answer.');
    expect(messages.filter((m) => m.event === 'step_start' && m.data.step === 'agent').map((m) => m.data.attempt)).toEqual([1, 2]);
    expect(messages.find((m) => m.event === 'step_complete' && m.data.status === 'failed')?.data.error).toMatchObject({ code: 'AGENT_ERROR' });

    llm.script('bad-request', [{ status: 400, body: { error: { message: 'bad model', type: 'invalid_request_error' } } }]);
    const bad = await createAgent({ name: 'Bad', model: 'bad-request' });
    const wf2 = await createWorkflow(bad.id, { retry: { max_attempts: 3, backoff_seconds: 0.05 } });
    const r2 = await run(wf2, { current_message: 'hi' });
    expect(r2.exec.status).toBe('failed');
    expect(r2.exec.error).toMatchObject({ code: 'AGENT_ERROR' });
    expect(llm.requestsFor('bad-request')).toHaveLength(1);
  });

  it('maps a provider 429 to RATE_LIMIT and retries after Retry-After', async () => {
    llm.script('limited', [{ status: 429, headers: { 'retry-after': '1' } }, { content: 'After the limit.' }]);
    const agent = await createAgent({ name: 'Limited', model: 'limited' });
    const wf = await createWorkflow(agent.id, { retry: { max_attempts: 2, backoff_seconds: 0.01 } });
    const { exec, messages } = await run(wf, { current_message: 'hi' });
    expect(exec.status).toBe('completed');
    const failed = messages.find((m) => m.event === 'step_complete' && m.data.status === 'failed')!;
    expect(failed.data.error).toMatchObject({ code: 'RATE_LIMIT' });
    const retried = messages.filter((m) => m.event === 'step_start' && m.data.step === 'agent')[1]!;
    // Backoff honoured Retry-After (1 s) rather than the 10 ms step backoff.
    expect(Date.parse(retried.data.timestamp) - Date.parse(failed.data.timestamp)).toBeGreaterThanOrEqual(900);
  });

  it('runs a mock-provider agent offline: scripted tool call (built-in tool) then a streamed answer', async () => {
    const agent = await createAgent({
      name: 'Demo',
      provider: { kind: 'mock' },
      tools: ['json_query'],
      mock: { script: [{ tool_calls: [{ name: 'json_query', arguments: { query: 'a + b', data: { a: 2, b: 3 } } }] }, { content: 'The answer is 5, computed offline.' }] },
    });
    const wf = await createWorkflow(agent.id);
    const { exec, messages } = await run(wf, { current_message: 'what is 2 + 3?' });
    expect(exec.status).toBe('completed');
    expect(agentSequence(messages)).toEqual(['step_start', 'tool_call', 'tool_result', 'delta…', 'step_complete', 'complete']);
    expect(deltasOf(messages).join('')).toBe('The answer is 5, computed offline.');
    expect(exec.result).toMatchObject({ response: 'The answer is 5, computed offline.', tool_calls: [{ tool: 'json_query', result: 5 }] });
  });

  it("refuses an agent's base_url at the cloud metadata address: TOOL_ERROR like api_call, not retried", async () => {
    const agent = await createAgent({ name: 'Metadata', model: 'meta', provider: { kind: 'openai', base_url: 'http://169.254.169.254/v1' } });
    const wf = await createWorkflow(agent.id, { retry: { max_attempts: 3, backoff_seconds: 0.05 } });
    const { exec, messages } = await run(wf, { current_message: 'hi' });
    expect(exec.status).toBe('failed');
    expect(exec.error).toMatchObject({ code: 'TOOL_ERROR', message: expect.stringMatching(/^outbound call refused: 169\.254\.169\.254 is a link-local/) });
    expect(messages.filter((m) => m.event === 'step_start' && m.data.step === 'agent')).toHaveLength(1);
  });

  it("runs an agent whose own base_url is the loopback fake when private ranges are allowed (the default, as for api_call)", async () => {
    llm.script('own-endpoint', [{ content: 'Served by my own endpoint.' }]);
    const agent = await createAgent({ name: 'Own', model: 'own-endpoint', provider: { kind: 'openai', base_url: llm.baseUrl } });
    const { exec, messages } = await run(await createWorkflow(agent.id), { current_message: 'hi' });
    expect(exec.status).toBe('completed');
    expect(exec.result.response).toBe('Served by my own endpoint.');
    expect(deltasOf(messages).join('')).toBe('Served by my own endpoint.');
    expect(llm.requestsFor('own-endpoint')).toHaveLength(1);
  });

  it("refuses an agent's loopback base_url when the worker disallows private ranges (API_CALL_ALLOW_PRIVATE=false)", async () => {
    llm.script('private-endpoint', [{ content: 'never' }]);
    const at = new Date().toISOString();
    const handler = createAgentExecutionHandler({
      events: new EventStore(sys.jetflow.nc, {}),
      openai: {},
      agents: { get: async () => ({ id: 'p', name: 'p', system_prompt: '', model: 'private-endpoint', tools: [], provider: { kind: 'openai', base_url: llm.baseUrl }, created_at: at, updated_at: at }) },
    });
    const executionId = `private-${Date.now()}`;
    const task: StepTask = {
      execution_id: executionId,
      step_id: 'agent',
      attempt: 1,
      step_type: 'agent_execution',
      parameters: { agent_id: 'p' },
      scope: { organization_id: SCOPE_HEADERS['X-elevAIte-OrganizationId'], project_id: SCOPE_HEADERS['X-elevAIte-ProjectId'] },
      input: { current_message: 'hi' },
      idempotency_key: `${executionId}:agent:1`,
    };
    const outcome = await handler(task, { signal: new AbortController().signal, secrets: {}, allowPrivateNetworks: false });
    expect(outcome).toMatchObject({ ok: false, retryable: false, error: { code: 'TOOL_ERROR', message: expect.stringMatching(/127\.0\.0\.1 is a private address/) } });
    expect(llm.requestsFor('private-endpoint')).toHaveLength(0);
  });

  it('resumes a redelivered attempt from its journal: recorded tool calls are not run again', async () => {
    // The log of an attempt whose worker died after turn 0's tool result: replay it into a fresh handler.
    const events = new EventStore(sys.jetflow.nc, {});
    const executionId = `journal-${Date.now()}`;
    const at = new Date().toISOString();
    const earlier: StreamEvent[] = [
      { type: 'Delta', step_id: 'agent', attempt: 1, turn: 0, content: 'Checking. ', at },
      { type: 'ToolCalled', step_id: 'agent', attempt: 1, turn: 0, tool: 'get_order', call_id: 'c1', arguments: { order_id: '9' }, at },
      { type: 'ToolResulted', step_id: 'agent', attempt: 1, turn: 0, tool: 'get_order', call_id: 'c1', result: { status: 'delivered' }, at },
      // Another attempt's entries are not this attempt's journal.
      { type: 'ToolCalled', step_id: 'agent', attempt: 2, turn: 0, tool: 'get_order', call_id: 'x', arguments: {}, at },
    ];
    await events.appendStream(executionId, earlier);
    const invoked: string[] = [];
    const tools: AgentTools = {
      describe: async () => [{ name: 'get_order', description: 'd', input_schema: { type: 'object' } }],
      invoke: async (_scope, name) => {
        invoked.push(name);
        return { ok: true, result: {} };
      },
    };
    const seen: unknown[][] = [];
    const model = new MockChatModel([{ content: 'unused' }, { content: 'It was delivered.' }]);
    const handler = createAgentExecutionHandler({
      events,
      tools,
      openai: {},
      agents: { get: async () => ({ id: 'a', name: 'j', system_prompt: '', model: 'm', tools: ['get_order'], provider: { kind: 'mock' }, created_at: at, updated_at: at }) },
      modelFor: () => ({ complete: (req, on, signal) => (seen.push([...req.messages]), model.complete(req, on, signal)) }),
    });
    const task: StepTask = {
      execution_id: executionId,
      step_id: 'agent',
      attempt: 1,
      step_type: 'agent_execution',
      parameters: { agent_id: 'a' },
      scope: { organization_id: SCOPE_HEADERS['X-elevAIte-OrganizationId'], project_id: SCOPE_HEADERS['X-elevAIte-ProjectId'] },
      input: { current_message: 'where is 9?' },
      idempotency_key: `${executionId}:agent:1`,
    };
    const outcome = await handler(task, { signal: new AbortController().signal, secrets: {}, allowPrivateNetworks: true });
    expect(outcome).toMatchObject({ ok: true, output: { response: 'Checking. It was delivered.', tool_calls: [{ id: 'c1', tool: 'get_order', result: { status: 'delivered' } }] } });
    expect(invoked).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.slice(-2)).toMatchObject([{ role: 'assistant', content: 'Checking. ', tool_calls: [{ id: 'c1' }] }, { role: 'tool', tool_call_id: 'c1' }]);
    const log = (await events.readStream(executionId)).flatMap((e) => e.events);
    expect(log.filter((e) => e.type === 'Delta' && e.attempt === 1).map((e) => (e as { content: string }).content).join('')).toBe('Checking. It was delivered.');
  });
});
