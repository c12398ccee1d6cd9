import type { ErrorDetail } from '@jetflow/contracts';
import { validateWorkflow } from './index';

const guideExample = {
  name: 'Customer Support Agent',
  description: 'Handle customer inquiries',
  steps: [
    { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'chat' }, next_steps: ['agent'] },
    { step_id: 'agent', step_type: 'agent_execution', parameters: { agent_id: 'agent-uuid-here' }, next_steps: [] },
  ],
};

type Step = Record<string, unknown>;
const trigger = (next: string[] = [], parameters: Record<string, unknown> = { kind: 'api' }): Step => ({
  step_id: 'trigger',
  step_type: 'trigger',
  parameters,
  next_steps: next,
});
const step = (step_id: string, step_type: string, parameters: Record<string, unknown> = {}, extra: Step = {}): Step => ({
  step_id,
  step_type,
  parameters,
  ...extra,
});
const tool = (id: string, next: string[] = [], parameters: Record<string, unknown> = {}): Step =>
  step(id, 'tool_call', { tool: 'echo', ...parameters }, { next_steps: next });

function problems(body: unknown): ErrorDetail[] {
  const result = validateWorkflow(body);
  if (result.ok) throw new Error('expected validation to fail');
  return result.details;
}
const workflow = (...steps: Step[]) => ({ name: 'wf', steps });
const codes = (body: unknown) => problems(body).map((d) => d.code);

describe('validateWorkflow: accepted bodies', () => {
  it("accepts the guide's example exactly as written and normalizes it", () => {
    expect(validateWorkflow(guideExample)).toEqual({ ok: true, definition: guideExample });
  });

  it('fills defaults and drops unknown fields', () => {
    const result = validateWorkflow({
      name: 'x',
      status: 'active',
      agent_id: 'ignored',
      steps: [{ step_id: 'trigger', step_type: 'trigger', next_steps: ['a'], extra: 1 }, { step_id: 'a', step_type: 'delay', parameters: { seconds: 0 } }],
    });
    expect(result).toEqual({
      ok: true,
      definition: {
        name: 'x',
        steps: [
          { step_id: 'trigger', step_type: 'trigger', parameters: {}, next_steps: ['a'] },
          { step_id: 'a', step_type: 'delay', parameters: { seconds: 0 }, next_steps: [] },
        ],
      },
    });
  });

  it('accepts a workflow using every step type', () => {
    const body = {
      name: 'everything',
      timeout_seconds: 3600,
      steps: [
        trigger(['agent'], { kind: 'schedule', cron: '*/5 * * * *', timezone: 'Europe/Paris' }),
        step('agent', 'agent_execution', { agent_id: 'a1', max_iterations: 5, timeout_seconds: 60, message: 'Hi {{input.current_message}}' }, {
          next_steps: ['check'],
          retry: { max_attempts: 3, backoff_seconds: 5, max_backoff_seconds: 60 },
          timeout_seconds: 120,
          name: 'Agent',
        }),
        step('check', 'condition', { condition: "{{input.priority}} == 'high' and {{steps.agent.output.usage.total}} > 10" }, {
          next_steps: ['approve'],
          else_steps: ['each'],
        }),
        step('approve', 'human_approval', { approvers: ['manager@example.com'], timeout_hours: 24, message: 'Please approve' }, {
          next_steps: ['fan'],
          else_steps: ['wait'],
        }),
        step('fan', 'parallel', { max_concurrency: 2, fail_fast: false }, { next_steps: ['call', 'shape'] }),
        step('call', 'api_call', {
          url: 'https://api.example.com/{{input.id}}',
          method: 'POST',
          headers: { Authorization: 'Bearer {{secrets.API_KEY}}' },
          body: { text: '{{steps.agent.output.response}}' },
          timeout_seconds: 10,
          expect_status: [200, 201],
        }),
        step('shape', 'data_transform', { expression: '$sum(steps.agent.output.items.price)' }),
        step('each', 'loop', { items: '{{steps.agent.output.items}}', body: ['per_item'], concurrency: 2, max_iterations: 10 }, { next_steps: ['wait'] }),
        step('per_item', 'tool_call', { tool: 'lookup', arguments: { id: '{{loop.item.id}}', n: '{{loop.index}}' } }, { next_steps: ['map'] }),
        step('map', 'data_transform', { mapping: { id: '{{loop.item.id}}', ctx: '{{context.customer_id}}' } }),
        step('wait', 'delay', { until: '2030-01-15T10:00:00Z' }),
      ],
    };
    const result = validateWorkflow(body);
    expect(result).toMatchObject({ ok: true });
  });
});

describe('validateWorkflow: garbage in, details out', () => {
  it.each([null, undefined, 42, 'text', true, [], [guideExample]])('rejects %p without throwing', (body) => {
    expect(problems(body)).toEqual([{ path: '', code: 'INVALID_BODY', message: expect.any(String) }]);
  });

  it('survives odd values everywhere', () => {
    const bodies: unknown[] = [
      { name: 1, steps: 'x' },
      { name: 'x', steps: [null, 1, 'a', [], {}] },
      { name: 'x', steps: [{ step_id: {}, step_type: [], parameters: 'p', next_steps: {}, else_steps: 3, retry: [], timeout_seconds: 'x' }] },
      { name: 'x', steps: [trigger([1 as unknown as string, '', 'x']), step('x', 'loop', { items: 5, body: [null, 7] })] },
      JSON.parse('{"name":"x","__proto__":{"steps":[]},"steps":[{"step_id":"constructor","step_type":"toString","__proto__":{}}]}'),
    ];
    for (const body of bodies) expect(problems(body).length).toBeGreaterThan(0);
  });

  it('survives huge and deeply nested input', () => {
    let deep: Record<string, unknown> = { v: '{{input.x}}' };
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const body = workflow(trigger(['t']), tool('t', [], { arguments: deep }));
    expect(problems(body)).toEqual([expect.objectContaining({ code: 'INVALID_PARAMETER', step_id: 't', message: expect.stringMatching(/deeper than/) })]);

    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(codes(workflow(trigger(['t']), tool('t', [], { arguments: cyclic })))).toEqual(['INVALID_PARAMETER']);

    expect(codes({ name: 'x', steps: Array.from({ length: 100_000 }, () => ({})) })).toEqual(['INVALID_FIELD']);
    expect(codes({ name: 'x'.repeat(1_000_000), steps: [trigger()] })).toEqual(['INVALID_FIELD']);
    expect(codes(workflow(trigger(['c']), step('c', 'condition', { condition: '('.repeat(100_000) })))).toEqual(['CONDITION_SYNTAX']);
  });

  it('reports every problem of a bad body at once', () => {
    const details = problems({
      name: '',
      timeout_seconds: -1,
      steps: [
        trigger(['a', 'ghost']),
        tool('a', ['b']),
        tool('a'),
        step('b', 'condition', { condition: "{{input.x}} = 'y'" }, { next_steps: ['a'] }),
        step('z', 'teleport'),
      ],
    });
    expect(details.map((d) => [d.code, d.path])).toEqual(
      expect.arrayContaining([
        ['INVALID_FIELD', 'name'],
        ['INVALID_FIELD', 'timeout_seconds'],
        ['DUPLICATE_STEP_ID', 'steps[2].step_id'],
        ['UNKNOWN_STEP_TYPE', 'steps[4].step_type'],
        ['CONDITION_SYNTAX', 'steps[3].parameters.condition'],
        ['UNKNOWN_STEP_REFERENCE', 'steps[0].next_steps[1]'],
        ['CYCLE', 'steps[1]'],
        ['UNREACHABLE_STEP', 'steps[4]'],
      ]),
    );
    expect(details.length).toBe(8);
    for (const d of details) expect(d.message).toEqual(expect.any(String));
  });
});

describe('validateWorkflow: top-level fields', () => {
  it('checks name, description, timeout_seconds and steps', () => {
    expect(problems({ steps: [trigger()] })).toEqual([{ path: 'name', code: 'MISSING_FIELD', message: 'name is required' }]);
    expect(codes({ name: 'x'.repeat(201), steps: [trigger()] })).toEqual(['INVALID_FIELD']);
    expect(codes({ name: 'x', description: 5, steps: [trigger()] })).toEqual(['INVALID_FIELD']);
    expect(codes({ name: 'x', timeout_seconds: 0, steps: [trigger()] })).toEqual(['INVALID_FIELD']);
    expect(problems({ name: 'x' })).toEqual([expect.objectContaining({ path: 'steps', code: 'MISSING_FIELD' })]);
    expect(problems({ name: 'x', steps: [] })).toEqual([expect.objectContaining({ path: 'steps', code: 'INVALID_FIELD' })]);
    expect(codes({ name: 'x', steps: Array.from({ length: 501 }, (_, i) => tool(`s${i}`)) })).toEqual(['INVALID_FIELD']);
    const chain = [trigger(['s0']), ...Array.from({ length: 499 }, (_, i) => tool(`s${i}`, i < 498 ? [`s${i + 1}`] : []))];
    expect(validateWorkflow({ name: 'x', steps: chain }).ok).toBe(true);
  });
});

describe('validateWorkflow: step fields', () => {
  const one = (s: Step) => problems(workflow(trigger(['s']), s));

  it('checks step_id', () => {
    expect(problems(workflow(trigger(), { step_type: 'delay', parameters: { seconds: 1 } }))).toEqual([
      { path: 'steps[1].step_id', code: 'MISSING_FIELD', message: 'step_id is required' },
    ]);
    expect(one(tool('bad id'))[0]).toMatchObject({ path: 'steps[1].step_id', code: 'INVALID_FIELD' });
    expect(one(tool('x'.repeat(101)))[0]).toMatchObject({ path: 'steps[1].step_id', code: 'INVALID_FIELD' });
    expect(one({ ...tool('s'), step_id: 7 })[0]).toMatchObject({ code: 'INVALID_FIELD' });
  });

  it('reports duplicate ids on each repeat', () => {
    const details = problems(workflow(trigger(['s']), tool('s'), tool('s'), tool('s')));
    expect(details.filter((d) => d.code === 'DUPLICATE_STEP_ID').map((d) => d.path)).toEqual(['steps[2].step_id', 'steps[3].step_id']);
  });

  it('checks step_type, parameters, next_steps and else_steps', () => {
    expect(one(step('s', 'script'))).toEqual([expect.objectContaining({ code: 'UNKNOWN_STEP_TYPE', step_id: 's', path: 'steps[1].step_type' })]);
    expect(one({ step_id: 's' })).toEqual([expect.objectContaining({ code: 'MISSING_FIELD', path: 'steps[1].step_type' })]);
    expect(one({ ...tool('s'), parameters: [1] })).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'INVALID_FIELD', path: 'steps[1].parameters' })]),
    );
    expect(one({ ...tool('s'), next_steps: 'x' })).toEqual([expect.objectContaining({ code: 'INVALID_FIELD', path: 'steps[1].next_steps' })]);
    expect(one({ ...tool('s'), next_steps: [3] })).toEqual([expect.objectContaining({ code: 'INVALID_FIELD', path: 'steps[1].next_steps[0]' })]);
    expect(one({ ...tool('s'), else_steps: ['trigger'] })).toEqual([expect.objectContaining({ code: 'INVALID_FIELD', path: 'steps[1].else_steps' })]);
    expect(validateWorkflow(workflow(trigger(['s']), { ...tool('s'), else_steps: [] })).ok).toBe(true);
  });

  it('checks retry and timeout_seconds', () => {
    expect(one({ ...tool('s'), retry: { max_attempts: 0 } })).toEqual([expect.objectContaining({ path: 'steps[1].retry.max_attempts', code: 'INVALID_FIELD' })]);
    expect(one({ ...tool('s'), retry: { max_attempts: 101 } })).toHaveLength(1);
    expect(one({ ...tool('s'), retry: { max_attempts: 2.5 } })).toHaveLength(1);
    expect(one({ ...tool('s'), retry: { backoff_seconds: 1 } })).toEqual([expect.objectContaining({ path: 'steps[1].retry.max_attempts', code: 'MISSING_FIELD' })]);
    expect(one({ ...tool('s'), retry: { max_attempts: 3, backoff_seconds: -1, max_backoff_seconds: 'x' } }).map((d) => d.path)).toEqual([
      'steps[1].retry.backoff_seconds',
      'steps[1].retry.max_backoff_seconds',
    ]);
    expect(one({ ...tool('s'), retry: 3 })).toHaveLength(1);
    expect(one({ ...tool('s'), timeout_seconds: 0 })).toEqual([expect.objectContaining({ path: 'steps[1].timeout_seconds', code: 'INVALID_FIELD' })]);
  });
});

describe('validateWorkflow: graph', () => {
  it('needs exactly one trigger', () => {
    expect(problems(workflow(tool('a')))).toEqual([{ path: 'steps', code: 'MISSING_TRIGGER', message: expect.any(String) }]);
    const second = { ...trigger(), step_id: 'trigger2' };
    expect(problems(workflow(trigger(['a']), tool('a'), second))).toEqual([
      expect.objectContaining({ code: 'MULTIPLE_TRIGGERS', path: 'steps[2].step_type', step_id: 'trigger2' }),
    ]);
  });

  it('refuses edges into the trigger', () => {
    expect(problems(workflow(trigger(['a']), tool('a', ['trigger'])))).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'TRIGGER_HAS_INCOMING_EDGE', path: 'steps[1].next_steps[0]', step_id: 'a' })]),
    );
  });

  it('checks that referenced steps exist (next_steps, else_steps, loop body)', () => {
    const details = problems(
      workflow(
        trigger(['c']),
        step('c', 'condition', { condition: 'true' }, { next_steps: ['l'], else_steps: ['nope'] }),
        step('l', 'loop', { items: [1], body: ['gone'] }),
      ),
    );
    expect(details.map((d) => [d.code, d.path])).toEqual([
      ['UNKNOWN_STEP_REFERENCE', 'steps[1].else_steps[0]'],
      ['UNKNOWN_STEP_REFERENCE', 'steps[2].parameters.body[0]'],
    ]);
  });

  it('reports cycles with their steps', () => {
    const details = problems(workflow(trigger(['a']), tool('a', ['b']), tool('b', ['c']), tool('c', ['a'])));
    expect(details).toEqual([{ path: 'steps[1]', step_id: 'a', code: 'CYCLE', message: expect.stringContaining('a → b → c → a') }]);
    expect(problems(workflow(trigger(['a']), tool('a', ['a'])))).toEqual([expect.objectContaining({ code: 'CYCLE', message: expect.stringContaining('a → a') })]);
    const two = problems(workflow(trigger(['a', 'x']), tool('a', ['b']), tool('b', ['a']), tool('x', ['y']), tool('y', ['x'])));
    expect(two.filter((d) => d.code === 'CYCLE')).toHaveLength(2);
  });

  it('reports steps not reachable from the trigger', () => {
    expect(problems(workflow(trigger(['a']), tool('a'), tool('island', ['island2']), tool('island2')))).toEqual([
      expect.objectContaining({ code: 'UNREACHABLE_STEP', path: 'steps[2]', step_id: 'island' }),
      expect.objectContaining({ code: 'UNREACHABLE_STEP', path: 'steps[3]', step_id: 'island2' }),
    ]);
  });

  it('counts loop body steps as reached through their loop, and only through it', () => {
    const loop = (next: string[] = []) => step('l', 'loop', { items: '{{input.items}}', body: ['b1'] }, { next_steps: next });
    expect(validateWorkflow(workflow(trigger(['l']), loop(['after']), tool('b1', ['b2']), tool('b2'), tool('after'))).ok).toBe(true);

    expect(problems(workflow(trigger(['l', 'b2']), loop(), tool('b1', ['b2']), tool('b2')))).toEqual([
      expect.objectContaining({ code: 'LOOP_BODY_ENTERED_FROM_OUTSIDE', path: 'steps[0].next_steps[1]', step_id: 'trigger' }),
    ]);
    // The loop's own next_steps may not point into its body either.
    expect(codes(workflow(trigger(['l']), loop(['b1']), tool('b1')))).toEqual(['LOOP_BODY_ENTERED_FROM_OUTSIDE']);
    // A body step that leads out of the body pulls the outside step in.
    expect(problems(workflow(trigger(['l']), loop(['after']), tool('b1', ['after']), tool('after')))).toEqual([
      expect.objectContaining({ code: 'LOOP_BODY_ENTERED_FROM_OUTSIDE', path: 'steps[1].next_steps[0]' }),
    ]);
  });

  it('accepts nested loops', () => {
    const body = workflow(
      trigger(['outer']),
      step('outer', 'loop', { items: '{{input.rows}}', body: ['inner'] }),
      step('inner', 'loop', { items: '{{loop.item.cells}}', body: ['cell'] }, { next_steps: ['row_done'] }),
      tool('cell', [], { arguments: { v: '{{loop.item}}' } }),
      tool('row_done'),
    );
    expect(validateWorkflow(body).ok).toBe(true);
  });
});

describe('validateWorkflow: parameters per step type', () => {
  const check = (type: string, parameters: Record<string, unknown>) =>
    validateWorkflow(workflow(trigger(['s']), step('s', type, parameters), ...(type === 'loop' ? [tool('b')] : [])));
  const paramProblems = (type: string, parameters: Record<string, unknown>) => {
    const r = check(type, parameters);
    return r.ok ? [] : r.details.map((d) => [d.code, (d.path ?? '').replace('steps[1].parameters', 'p')]);
  };

  it('trigger', () => {
    const t = (parameters: Record<string, unknown>) => {
      const r = validateWorkflow(workflow(trigger([], parameters)));
      return r.ok ? [] : r.details.map((d) => [d.code, d.path]);
    };
    for (const kind of ['chat', 'api', 'webhook']) expect(t({ kind })).toEqual([]);
    expect(t({})).toEqual([]);
    expect(t({ kind: 'email' })).toEqual([['INVALID_PARAMETER', 'steps[0].parameters.kind']]);
    expect(t({ kind: 'schedule', cron: '0 9 * * 1-5', timezone: 'America/New_York' })).toEqual([]);
    expect(t({ kind: 'schedule' })).toEqual([['MISSING_PARAMETER', 'steps[0].parameters.cron']]);
    expect(t({ kind: 'schedule', cron: '61 * * * *' })).toEqual([['INVALID_PARAMETER', 'steps[0].parameters.cron']]);
    expect(t({ kind: 'schedule', cron: 'every day' })).toEqual([['INVALID_PARAMETER', 'steps[0].parameters.cron']]);
    expect(t({ kind: 'schedule', cron: '* * * * *', timezone: 'Mars/Olympus' })).toEqual([['INVALID_PARAMETER', 'steps[0].parameters.timezone']]);
    expect(t({ kind: 'webhook', secret: 5 })).toEqual([['INVALID_PARAMETER', 'steps[0].parameters.secret']]);
  });

  it('agent_execution', () => {
    expect(paramProblems('agent_execution', { agent_id: 'a' })).toEqual([]);
    expect(paramProblems('agent_execution', {})).toEqual([['MISSING_PARAMETER', 'p.agent_id']]);
    expect(paramProblems('agent_execution', { agent_id: 3, max_iterations: 0, timeout_seconds: 0, message: {} })).toEqual([
      ['INVALID_PARAMETER', 'p.agent_id'],
      ['INVALID_PARAMETER', 'p.max_iterations'],
      ['INVALID_PARAMETER', 'p.timeout_seconds'],
      ['INVALID_PARAMETER', 'p.message'],
    ]);
  });

  it('condition', () => {
    expect(paramProblems('condition', {})).toEqual([['MISSING_PARAMETER', 'p.condition']]);
    expect(paramProblems('condition', { condition: 1 })).toEqual([['INVALID_PARAMETER', 'p.condition']]);
    const r = check('condition', { condition: "{{input.priority}} == 'high" });
    expect(r).toEqual({
      ok: false,
      details: [{ path: 'steps[1].parameters.condition', step_id: 's', code: 'CONDITION_SYNTAX', message: expect.stringContaining('position 22') }],
    });
    expect(paramProblems('condition', { condition: '{{steps.nope.output}} == 1 and {{user.x}}' })).toEqual([
      ['UNKNOWN_STEP_REFERENCE', 'p.condition'],
      ['UNKNOWN_TEMPLATE_ROOT', 'p.condition'],
    ]);
    expect(paramProblems('condition', { condition: '{{steps.trigger.output.kind}} == input.kind' })).toEqual([]);
  });

  it('loop', () => {
    expect(paramProblems('loop', { items: '{{input.list}}', body: ['b'], concurrency: 2, max_iterations: 5 })).toEqual([]);
    expect(paramProblems('loop', { items: [1, 2], body: ['b'] })).toEqual([]);
    expect(paramProblems('loop', { body: ['b'] })).toEqual([['MISSING_PARAMETER', 'p.items']]);
    expect(paramProblems('loop', { items: 'abc', body: ['b'] })).toEqual([['INVALID_PARAMETER', 'p.items']]);
    expect(paramProblems('loop', { items: [], body: [] })).toEqual([
      ['INVALID_PARAMETER', 'p.body'],
      ['UNREACHABLE_STEP', 'steps[2]'],
    ]);
    expect(paramProblems('loop', { items: [], concurrency: 0, max_iterations: 1.5 })).toEqual([
      ['MISSING_PARAMETER', 'p.body'],
      ['INVALID_PARAMETER', 'p.concurrency'],
      ['INVALID_PARAMETER', 'p.max_iterations'],
      ['UNREACHABLE_STEP', 'steps[2]'],
    ]);
    // One decision may not start more than this: bounded iterations and concurrency.
    expect(paramProblems('loop', { items: [1], body: ['b'], concurrency: 1_000, max_iterations: 10_000 })).toEqual([]);
    expect(paramProblems('loop', { items: [1], body: ['b'], concurrency: 1_001, max_iterations: 10_001 })).toEqual([
      ['INVALID_PARAMETER', 'p.concurrency'],
      ['INVALID_PARAMETER', 'p.max_iterations'],
    ]);
    expect(paramProblems('parallel', { max_concurrency: 1_001 })).toEqual([['INVALID_PARAMETER', 'p.max_concurrency']]);
    expect(paramProblems('agent_execution', { agent_id: 'a', max_iterations: 101 })).toEqual([['INVALID_PARAMETER', 'p.max_iterations']]);
  });

  it('parallel', () => {
    expect(paramProblems('parallel', { max_concurrency: 3, fail_fast: true })).toEqual([]);
    expect(paramProblems('parallel', { max_concurrency: 0, fail_fast: 'yes' })).toEqual([
      ['INVALID_PARAMETER', 'p.max_concurrency'],
      ['INVALID_PARAMETER', 'p.fail_fast'],
    ]);
  });

  it('human_approval', () => {
    expect(paramProblems('human_approval', { approvers: ['manager@example.com'], timeout_hours: 24, message: 'Please approve this action' })).toEqual([]);
    expect(paramProblems('human_approval', { approvers: 'boss', timeout_hours: 0, message: 1 })).toEqual([
      ['INVALID_PARAMETER', 'p.approvers'],
      ['INVALID_PARAMETER', 'p.timeout_hours'],
      ['INVALID_PARAMETER', 'p.message'],
    ]);
    expect(paramProblems('human_approval', { approvers: ['ok', 3] })).toEqual([['INVALID_PARAMETER', 'p.approvers[1]']]);
  });

  it('tool_call', () => {
    expect(paramProblems('tool_call', { tool: 'search', arguments: { q: '{{input.q}}' } })).toEqual([]);
    expect(paramProblems('tool_call', { arguments: [] })).toEqual([
      ['MISSING_PARAMETER', 'p.tool'],
      ['INVALID_PARAMETER', 'p.arguments'],
    ]);
  });

  it('data_transform', () => {
    expect(paramProblems('data_transform', { mapping: { a: '{{input.a}}' } })).toEqual([]);
    expect(paramProblems('data_transform', { mapping: ['{{input.a}}', 1] })).toEqual([]);
    expect(paramProblems('data_transform', { expression: '$sum(steps.trigger.output.items.price)' })).toEqual([]);
    expect(paramProblems('data_transform', {})).toEqual([['MISSING_PARAMETER', 'p']]);
    expect(paramProblems('data_transform', { mapping: {}, expression: '1' })).toEqual([['INVALID_PARAMETER', 'p']]);
    expect(paramProblems('data_transform', { expression: '$sum(' })).toEqual([['JSONATA_SYNTAX', 'p.expression']]);
    expect(paramProblems('data_transform', { expression: 5 })).toEqual([['INVALID_PARAMETER', 'p.expression']]);
  });

  it('api_call', () => {
    expect(paramProblems('api_call', { url: 'https://api.example.com/action' })).toEqual([]);
    expect(paramProblems('api_call', { url: '{{input.url}}', method: 'DELETE', expect_status: 204 })).toEqual([]);
    expect(paramProblems('api_call', {})).toEqual([['MISSING_PARAMETER', 'p.url']]);
    expect(
      paramProblems('api_call', { url: 'ftp://x', method: 'FETCH', headers: { a: 1 }, timeout_seconds: -5, expect_status: [200, 'ok'] }),
    ).toEqual([
      ['INVALID_PARAMETER', 'p.url'],
      ['INVALID_PARAMETER', 'p.method'],
      ['INVALID_PARAMETER', 'p.headers["a"]'],
      ['INVALID_PARAMETER', 'p.timeout_seconds'],
      ['INVALID_PARAMETER', 'p.expect_status'],
    ]);
    expect(paramProblems('api_call', { url: 'not a url', headers: 'x' })).toEqual([
      ['INVALID_PARAMETER', 'p.url'],
      ['INVALID_PARAMETER', 'p.headers'],
    ]);
  });

  it('delay', () => {
    expect(paramProblems('delay', { seconds: 0 })).toEqual([]);
    expect(paramProblems('delay', { seconds: '{{input.wait}}' })).toEqual([]);
    expect(paramProblems('delay', { until: '2030-01-15T10:00:00+02:00' })).toEqual([]);
    expect(paramProblems('delay', {})).toEqual([['MISSING_PARAMETER', 'p']]);
    expect(paramProblems('delay', { seconds: 1, until: '2030-01-01' })).toEqual([['INVALID_PARAMETER', 'p']]);
    expect(paramProblems('delay', { seconds: -1 })).toEqual([['INVALID_PARAMETER', 'p.seconds']]);
    expect(paramProblems('delay', { until: 'tomorrow' })).toEqual([['INVALID_PARAMETER', 'p.until']]);
    expect(paramProblems('delay', { until: '2030-13-45T99:00:00Z' })).toEqual([['INVALID_PARAMETER', 'p.until']]);
  });
});

describe('validateWorkflow: templates in parameters', () => {
  const run = (parameters: Record<string, unknown>) => {
    const r = validateWorkflow(workflow(trigger(['s']), tool('s', [], parameters)));
    return r.ok ? [] : r.details.map((d) => [d.code, d.path]);
  };

  it('reports template syntax anywhere, with its exact path', () => {
    expect(run({ arguments: { deep: [{ x: 'hello {{input.name' }] } })).toEqual([['TEMPLATE_SYNTAX', 'steps[1].parameters.arguments.deep[0].x']]);
    expect(run({ arguments: { 'odd key': '{{ }}' } })).toEqual([['TEMPLATE_SYNTAX', 'steps[1].parameters.arguments["odd key"]']]);
    expect(run({ arguments: { a: '{{input..x}}' } })).toEqual([['TEMPLATE_SYNTAX', 'steps[1].parameters.arguments.a']]);
  });

  it('checks roots and step references', () => {
    expect(run({ arguments: { a: '{{steps.ghost.output}}', b: '{{env.HOME}}', c: '{{steps.trigger.output.kind}}' } })).toEqual([
      ['UNKNOWN_STEP_REFERENCE', 'steps[1].parameters.arguments.a'],
      ['UNKNOWN_TEMPLATE_ROOT', 'steps[1].parameters.arguments.b'],
    ]);
    for (const root of ['input.x', 'context.x', 'user_id', 'session_id', 'execution.id', 'secrets.KEY', 'steps.s.output']) {
      expect(run({ arguments: { a: `{{${root}}}` } })).toEqual([]);
    }
  });

  it('allows loop.* only inside a loop body', () => {
    expect(run({ arguments: { a: '{{loop.item}}' } })).toEqual([['INVALID_TEMPLATE_REFERENCE', 'steps[1].parameters.arguments.a']]);
  });
});
