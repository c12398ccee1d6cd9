import { InProcessSystem } from '../support/jetflow-system';
import { eventually } from '../support/eventually';
import { http, readSse } from '../support/http-client';

/** A conversation is one execution with one stream: an agent step with wait_for_user takes turns. */
describe('chat continuation (POST /api/executions/{id}/messages)', () => {
  let sys: InProcessSystem;
  const api = (method: string, path: string, body?: unknown) => http(sys.baseUrl, method, path, body);
  beforeAll(async () => {
    sys = await InProcessSystem.start();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  async function chatWorkflow(): Promise<string> {
    const agent = await api('POST', '/api/agents', {
      name: 'Chatty',
      system_prompt: 'You are helpful.',
      provider: { kind: 'mock' },
      mock: { script: [{ content: 'Hello! What is your order number?' }, { content: 'Order 12345 has shipped.' }, { content: 'You are welcome, bye!' }] },
    });
    expect(agent.status).toBe(201);
    const wf = await api('POST', '/api/workflows', {
      name: 'Support chat',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['agent'] },
        { step_id: 'agent', step_type: 'agent_execution', parameters: { agent_id: agent.body.id, wait_for_user: true }, next_steps: ['wrap'] },
        { step_id: 'wrap', step_type: 'data_transform', parameters: { mapping: { last: '{{steps.agent.output.response}}' } }, next_steps: [] },
      ],
    });
    expect(wf.status).toBe(201);
    return wf.body.id;
  }

  const waitingAfterTurn = (id: string, turns: number) =>
    eventually(async () => {
      const exec = (await api('GET', `/api/executions/${id}`)).body;
      const agent = exec.steps.find((s: { step_id: string }) => s.step_id === 'agent');
      return exec.status === 'waiting' && agent?.status === 'waiting' && agent.chat_turn === turns - 1 && agent.result?.response ? exec : false;
    });

  it('runs three turns in one execution and one stream, then ends on request', async () => {
    const workflowId = await chatWorkflow();
    const started = await api('POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'chat', current_message: 'Hi', history: [] } });
    expect(started.status).toBe(202);
    const id = started.body.execution_id;

    let exec = await waitingAfterTurn(id, 1);
    expect(exec.steps.find((s: { step_id: string }) => s.step_id === 'agent').result.response).toBe('Hello! What is your order number?');

    const second = await api('POST', `/api/executions/${id}/messages`, { content: 'It is 12345' });
    expect(second.status).toBe(202);
    await eventually(async () => (await api('GET', `/api/executions/${id}`)).body.steps.find((s: { step_id: string }) => s.step_id === 'agent').result?.response === 'Order 12345 has shipped.');
    exec = await waitingAfterTurn(id, 2);

    expect((await api('POST', `/api/executions/${id}/messages`, { content: 'Thanks' })).status).toBe(202);
    await eventually(async () => (await api('GET', `/api/executions/${id}`)).body.steps.find((s: { step_id: string }) => s.step_id === 'agent').result?.response === 'You are welcome, bye!');
    await waitingAfterTurn(id, 3);

    expect((await api('POST', `/api/executions/${id}/messages`, { end: true, message_id: 'bye-1' })).status).toBe(202);
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${id}/stream`);
    const complete = messages.at(-1)!;
    expect(complete.event).toBe('complete');
    // The end request retried with its message id is a no-op, not a 409.
    const retried = await api('POST', `/api/executions/${id}/messages`, { end: true, message_id: 'bye-1' });
    expect(retried.status).toBe(202);
    expect((retried.body as { status: string }).status).toBe('completed');
    expect((await api('POST', `/api/executions/${id}/messages`, { end: true, message_id: 'bye-2' })).status).toBe(409);
    expect(complete.data).toMatchObject({ status: 'completed', result: { last: 'You are welcome, bye!' } });
    // One stream: three agent starts (turns 0, 1, 2), each answer streamed as deltas and closed by a waiting step_complete.
    const agentStarts = messages.filter((m) => m.event === 'step_start' && m.data.step === 'agent');
    expect(agentStarts.map((m) => m.data.chat_turn ?? 0)).toEqual([0, 1, 2]);
    const turnsAnswered = messages.filter((m) => m.event === 'step_complete' && m.data.step === 'agent' && m.data.status === 'waiting');
    expect(turnsAnswered.map((m) => m.data.result.response)).toEqual(['Hello! What is your order number?', 'Order 12345 has shipped.', 'You are welcome, bye!']);
    const deltas = messages.filter((m) => m.event === 'delta').map((m) => m.data.content).join('');
    expect(deltas).toBe('Hello! What is your order number?Order 12345 has shipped.You are welcome, bye!');
  });

  it('refuses a message when the execution is not waiting for one (409) and validates the body (400)', async () => {
    const workflowId = await chatWorkflow();
    const id = (await api('POST', `/api/workflows/${workflowId}/execute`, { trigger: { kind: 'chat', current_message: 'Hi' } })).body.execution_id;
    await waitingAfterTurn(id, 1);
    expect((await api('POST', `/api/executions/${id}/messages`, {})).status).toBe(400);
    expect((await api('POST', `/api/executions/${id}/messages`, { content: 42 })).status).toBe(400);
    expect((await api('POST', `/api/executions/${id}/cancel`)).status).toBe(200);
    const late = await api('POST', `/api/executions/${id}/messages`, { content: 'still there?' });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('CONFLICT');
    const other = await http(sys.baseUrl, 'POST', `/api/executions/${id}/messages`, { content: 'x' }, { 'X-elevAIte-OrganizationId': 'other', 'X-elevAIte-ProjectId': 'p', 'X-elevAIte-UserId': 'u' });
    expect(other.status).toBe(404);
  });
});
