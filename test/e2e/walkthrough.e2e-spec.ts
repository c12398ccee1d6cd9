import { InProcessSystem } from '../support/jetflow-system';
import { http, readSse } from '../support/http-client';

describe('guide walk-through (HTTP + SSE, real NATS and PostgreSQL)', () => {
  let sys: InProcessSystem;
  beforeAll(async () => {
    sys = await InProcessSystem.start();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('creates the guide example, executes it, streams it and reads the execution', async () => {
    const wf = await http(sys.baseUrl, 'POST', '/api/workflows', {
      name: 'Greeter',
      description: 'transform then condition',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['shape'] },
        { step_id: 'shape', step_type: 'data_transform', parameters: { mapping: { text: 'Hello {{input.current_message}}', customer: '{{context.customer_id}}' } }, next_steps: [] },
      ],
    });
    expect(wf.status).toBe(201);
    expect(wf.body).toMatchObject({ name: 'Greeter', status: 'active', version: 1 });
    const exec = await http(sys.baseUrl, 'POST', `/api/workflows/${wf.body.id}/execute`, {
      trigger: { kind: 'chat', current_message: 'world', history: [] },
      user_id: 'user-123',
      session_id: 'session-456',
      context: { customer_id: 'cust-789' },
    });
    expect(exec.status).toBe(202);
    expect(exec.body).toMatchObject({ workflow_id: wf.body.id });
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${exec.body.execution_id}/stream`);
    expect(messages.map((m) => m.event)).toEqual(['connected', 'status', 'step_start', 'step_complete', 'step_start', 'step_complete', 'complete']);
    expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { text: 'Hello world', customer: 'cust-789' } });
    const got = await http(sys.baseUrl, 'GET', `/api/executions/${exec.body.execution_id}`);
    expect(got.body).toMatchObject({ status: 'completed', result: { text: 'Hello world' } });
    expect(got.body.steps.map((s: { step_id: string; status: string }) => [s.step_id, s.status])).toEqual([
      ['trigger', 'completed'],
      ['shape', 'completed'],
    ]);
  });
});
