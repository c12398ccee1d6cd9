import { InProcessSystem } from '../support/jetflow-system';
import { http, readSse, type SseMessage } from '../support/http-client';

type StepView = { step_id: string; status: string; result?: any; error?: any };

/**
 * trigger → check_priority ─true→ escalate ─┐
 *                          └false→ standard ┴→ reply (join)
 */
const triage = {
  name: 'Triage',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['check_priority'] },
    { step_id: 'check_priority', step_type: 'condition', parameters: { condition: "{{input.priority}} == 'high'" }, next_steps: ['escalate'], else_steps: ['standard'] },
    { step_id: 'escalate', step_type: 'data_transform', parameters: { mapping: { route: 'escalated' } }, next_steps: ['reply'] },
    { step_id: 'standard', step_type: 'data_transform', parameters: { mapping: { route: 'standard' } }, next_steps: ['reply'] },
    {
      step_id: 'reply',
      step_type: 'data_transform',
      parameters: { mapping: { via_escalate: '{{steps.escalate.output.route}}', via_standard: '{{steps.standard.output.route}}', priority: '{{input.priority}}' } },
      next_steps: [],
    },
  ],
};

describe('conditions, transforms and delays (HTTP + SSE)', () => {
  let sys: InProcessSystem;
  let triageId: string;
  const api = <T = any>(method: string, path: string, body?: unknown) => http<T>(sys.baseUrl, method, path, body);

  /** Creates (once per definition) and runs to the end; returns the execution and its stream. */
  async function run(workflowId: string, triggerBody: Record<string, unknown>): Promise<{ exec: any; messages: SseMessage[] }> {
    const started = await api('POST', `/api/workflows/${workflowId}/execute`, { trigger: triggerBody });
    expect(started.status).toBe(202);
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`);
    expect(messages.at(-1)?.event).toBe('complete');
    const exec = (await api('GET', `/api/executions/${started.body.execution_id}`)).body;
    return { exec, messages };
  }
  async function create(definition: unknown): Promise<string> {
    const res = await api('POST', '/api/workflows', definition);
    expect(res.status).toBe(201);
    return res.body.id;
  }
  const byId = (exec: { steps: StepView[] }) => Object.fromEntries(exec.steps.map((s) => [s.step_id, s]));
  const startsOf = (messages: SseMessage[], step: string) => messages.filter((m) => m.event === 'step_start' && m.data.step === step);

  beforeAll(async () => {
    sys = await InProcessSystem.start();
    triageId = await create(triage);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('takes next_steps when the condition is true, skips else_steps, and runs the join once', async () => {
    const { exec, messages } = await run(triageId, { priority: 'high' });
    expect(exec.status).toBe('completed');
    const steps = byId(exec);
    expect(steps['check_priority']).toMatchObject({ status: 'completed', result: { value: true } });
    expect(steps['escalate']).toMatchObject({ status: 'completed', result: { route: 'escalated' } });
    expect(steps['standard']!.status).toBe('skipped');
    expect(steps['reply']).toMatchObject({ status: 'completed', result: { via_escalate: 'escalated', priority: 'high' } });
    expect(exec.steps.filter((s: StepView) => s.step_id === 'reply')).toHaveLength(1);
    expect(startsOf(messages, 'reply')).toHaveLength(1);
    expect(startsOf(messages, 'standard')).toHaveLength(0);
    expect(exec.result).toMatchObject({ via_escalate: 'escalated' });
  });

  it('takes else_steps when the condition is false, skips next_steps, and runs the join once', async () => {
    const { exec, messages } = await run(triageId, { priority: 'low' });
    expect(exec.status).toBe('completed');
    const steps = byId(exec);
    expect(steps['check_priority']).toMatchObject({ status: 'completed', result: { value: false } });
    expect(steps['standard']).toMatchObject({ status: 'completed', result: { route: 'standard' } });
    expect(steps['escalate']!.status).toBe('skipped');
    expect(steps['reply']).toMatchObject({ status: 'completed', result: { via_standard: 'standard', priority: 'low' } });
    expect(exec.steps.filter((s: StepView) => s.step_id === 'reply')).toHaveLength(1);
    expect(startsOf(messages, 'reply')).toHaveLength(1);
    expect(startsOf(messages, 'escalate')).toHaveLength(0);
  });

  it('a value that looks like syntax is compared as a value and never changes the branch', async () => {
    for (const priority of ["x' || 'a' == 'a", "high' || 'a' == 'a", "' or true or '", 'true', "high'"]) {
      const { exec } = await run(triageId, { priority });
      expect(exec.status).toBe('completed');
      const steps = byId(exec);
      expect([priority, steps['check_priority']!.result]).toEqual([priority, { value: false }]);
      expect([priority, steps['escalate']!.status, steps['standard']!.status]).toEqual([priority, 'skipped', 'completed']);
      expect(steps['reply']!.result).toMatchObject({ priority });
    }
  });

  it('data_transform with a JSONata expression computes over the template scope', async () => {
    const id = await create({
      name: 'Totals',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['total'] },
        {
          step_id: 'total',
          step_type: 'data_transform',
          parameters: { expression: '{ "total": $sum(input.items.(price * qty)), "skus": input.items.sku, "customer": context.customer_id }' },
          next_steps: [],
        },
      ],
    });
    const started = await api('POST', `/api/workflows/${id}/execute`, {
      trigger: {
        items: [
          { sku: 'a', price: 2.5, qty: 2 },
          { sku: 'b', price: 10, qty: 3 },
        ],
      },
      context: { customer_id: 'cust-1' },
    });
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`);
    expect(messages.at(-1)!.data).toMatchObject({ status: 'completed', result: { total: 35, skus: ['a', 'b'], customer: 'cust-1' } });
    const exec = (await api('GET', `/api/executions/${started.body.execution_id}`)).body;
    expect(byId(exec)['total']).toMatchObject({ status: 'completed', result: { total: 35, skus: ['a', 'b'], customer: 'cust-1' } });
  });

  it('a JSONata regex that would backtrack for minutes fails its step with VALIDATION_ERROR; the engine keeps serving', async () => {
    // The lookahead keeps V8's linear-time engine out: on the event loop this match takes minutes
    // over 2,000 characters. It runs on the regex sandbox's thread with a budget instead.
    const id = await create({
      name: 'Slow regex',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['check'] },
        { step_id: 'check', step_type: 'data_transform', parameters: { expression: '{ "price": $match(input.text, /(?<=price=)\\d+/).match, "tail": $contains(input.text, /(?=\\s)\\s*\\s*\\s*y$/) }' }, next_steps: [] },
      ],
    });
    const started = Date.now();
    const [slow, fine] = await Promise.all([run(id, { text: `price=12 ${' '.repeat(2_000)}x` }), run(id, { text: 'price=7 y' })]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(slow.exec.status).toBe('failed');
    expect(byId(slow.exec)['check']!.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/refused: its matches took longer than \d+ ms/) });
    expect(fine.exec.status).toBe('completed');
    expect(byId(fine.exec)['check']!.result).toEqual({ price: '7', tail: true });
  });

  it('data_transform with a mapping keeps whole-template values typed and stringifies embedded ones', async () => {
    const id = await create({
      name: 'Mapping',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['map'] },
        {
          step_id: 'map',
          step_type: 'data_transform',
          parameters: { mapping: { count: '{{input.count}}', tags: '{{input.tags}}', label: 'n={{input.count}}', nested: { who: '{{input.who}}' }, literal: 7 } },
          next_steps: [],
        },
      ],
    });
    const { exec } = await run(id, { count: 3, tags: ['x', 'y'], who: 'ana' });
    expect(exec.status).toBe('completed');
    expect(byId(exec)['map']!.result).toEqual({ count: 3, tags: ['x', 'y'], label: 'n=3', nested: { who: 'ana' }, literal: 7 });
    expect(exec.result).toEqual({ count: 3, tags: ['x', 'y'], label: 'n=3', nested: { who: 'ana' }, literal: 7 });
  });

  it('a 1 s delay completes with waited_ms >= 1000 while the run reports running', async () => {
    const id = await create({
      name: 'Pause',
      steps: [
        { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['pause'] },
        { step_id: 'pause', step_type: 'delay', parameters: { seconds: 1 }, next_steps: [] },
      ],
    });
    const started = await api('POST', `/api/workflows/${id}/execute`, { trigger: {} });
    const during = await api('GET', `/api/executions/${started.body.execution_id}`);
    expect(during.body.status).toBe('running');
    const { messages } = await readSse(sys.baseUrl, `/api/executions/${started.body.execution_id}/stream`);
    expect(messages.at(-1)!.data.status).toBe('completed');
    const exec = (await api('GET', `/api/executions/${started.body.execution_id}`)).body;
    const pause = byId(exec)['pause']!;
    expect(pause.status).toBe('completed');
    expect(pause.result.waited_ms).toBeGreaterThanOrEqual(1000);
    expect(Date.parse((pause as any).completed_at) - Date.parse((pause as any).started_at)).toBeGreaterThanOrEqual(1000);
    expect(messages.find((m) => m.event === 'step_complete' && m.data.step === 'pause')!.data.result.waited_ms).toBeGreaterThanOrEqual(1000);
  });
});
