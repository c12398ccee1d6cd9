import type { ExecutionCommand, ExecutionEvent, StepDefinition, StreamEvent, WorkflowDefinition } from '@jetflow/contracts';
import { decide } from './execution.decider';
import { decideWithInline } from './execution.runner';
import { foldEvents, initialState, type ExecutionState } from './execution.state';
import { toExecutionView } from './execution.view';
import { stepDef } from '../testing/start-command.fixture';

const T0 = '2026-01-01T00:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();

const step = stepDef;

function startCmd(definition: WorkflowDefinition, input: Record<string, unknown> = { kind: 'api' }): ExecutionCommand {
  return {
    type: 'StartExecution',
    execution_id: 'e1',
    workflow_id: 'w1',
    workflow_version: 1,
    definition,
    scope: { organization_id: 'o', project_id: 'p', user_id: 'u' },
    input,
    context: { tier: 'gold' },
    user_id: 'u',
    session_id: null,
    now: T0,
  };
}

/** given events, when command (with inline steps computed), then events. */
async function run(given: ExecutionEvent[], command: ExecutionCommand): Promise<{ events: ExecutionEvent[]; state: ExecutionState; history: ExecutionEvent[] }> {
  const { events, state } = await decideWithInline(foldEvents(given), command);
  return { events, state, history: [...given, ...events] };
}

const types = (events: ExecutionEvent[]) => events.map((e) => ('step_id' in e && e.step_id ? `${e.type}:${e.step_id}` : e.type));

describe('execution decider', () => {
  const linear: WorkflowDefinition = {
    name: 'linear',
    steps: [
      step('trigger', 'trigger', { kind: 'api' }, ['a']),
      step('a', 'data_transform', { mapping: { n: '{{input.n}}', tier: '{{context.tier}}' } }, ['b']),
      step('b', 'data_transform', { expression: 'steps.a.output.n * 2' }, []),
    ],
  };

  it('runs a chain of pure steps inline in one decision and completes with the last output', async () => {
    const { events, state } = await run([], startCmd(linear, { kind: 'api', n: 21 }));
    expect(types(events)).toEqual([
      'ExecutionStarted',
      'StepStarted:trigger',
      'StepCompleted:trigger',
      'StepStarted:a',
      'StepCompleted:a',
      'StepStarted:b',
      'StepCompleted:b',
      'ExecutionCompleted',
    ]);
    expect(state.status).toBe('completed');
    expect(state.result).toBe(42);
    expect(toExecutionView(state).steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([
      ['trigger', 'completed', 1],
      ['a', 'completed', 1],
      ['b', 'completed', 1],
    ]);
  });

  it('ignores a second start (the first event pins the definition)', async () => {
    const { history } = await run([], startCmd(linear, { n: 1 }));
    expect(decide(foldEvents(history), startCmd({ ...linear, name: 'changed' }))).toEqual([]);
  });

  it('folds a log whose entries open with a step journal (stream-only events) as if they were not there', async () => {
    const { history } = await run([], startCmd(linear, { n: 1 }));
    const journal: StreamEvent[] = [
      { type: 'ToolCalled', step_id: 'a', tool: 'noop', arguments: {}, at: T0 },
      { type: 'ToolResulted', step_id: 'a', tool: 'noop', result: {}, at: T0 },
      { type: 'Delta', step_id: 'a', content: 'x', at: T0 },
    ];
    expect(foldEvents([...journal, ...history])).toStrictEqual(foldEvents(history));
  });

  const branching: WorkflowDefinition = {
    name: 'branching',
    steps: [
      step('trigger', 'trigger', { kind: 'api' }, ['check']),
      step('check', 'condition', { condition: "{{input.priority}} == 'high'" }, ['escalate'], { else_steps: ['standard'] }),
      step('escalate', 'data_transform', { mapping: { route: 'escalated' } }, ['join']),
      step('standard', 'data_transform', { mapping: { route: 'standard' } }, ['join']),
      step('join', 'data_transform', { mapping: { escalate: '{{steps.escalate.output.route}}', standard: '{{steps.standard.output.route}}' } }, []),
    ],
  };

  it.each([
    ['high', 'escalate', 'standard', { escalate: 'escalated', standard: null }],
    ['low', 'standard', 'escalate', { escalate: null, standard: 'standard' }],
  ])('takes the condition branch (%s), skips the other, runs the join once', async (priority, taken, skipped, result) => {
    const { events, state } = await run([], startCmd(branching, { kind: 'api', priority }));
    expect(types(events)).toContain(`StepCompleted:${taken}`);
    expect(types(events)).toContain(`StepSkipped:${skipped}`);
    expect(types(events).filter((t) => t === 'StepStarted:join')).toHaveLength(1);
    expect(state.status).toBe('completed');
    expect(state.result).toEqual(result);
  });

  it('a value cannot inject syntax into a condition', async () => {
    const { state } = await run([], startCmd(branching, { kind: 'api', priority: "x' || 'a' == 'a" }));
    expect(state.steps.get('standard')?.status).toBe('completed');
    expect(state.steps.get('escalate')?.status).toBe('skipped');
  });

  it('skips a whole branch not taken, down to the end, and results from the taken end', async () => {
    const def: WorkflowDefinition = {
      name: 'skip-chain',
      steps: [
        step('trigger', 'trigger', { kind: 'api' }, ['c']),
        step('c', 'condition', { condition: 'false' }, ['x'], { else_steps: ['y'] }),
        step('x', 'data_transform', { mapping: 1 }, ['x2']),
        step('x2', 'data_transform', { mapping: 2 }, []),
        step('y', 'data_transform', { mapping: 3 }, []),
      ],
    };
    const { state } = await run([], startCmd(def));
    expect(state.steps.get('x')?.status).toBe('skipped');
    expect(state.steps.get('x2')?.status).toBe('skipped');
    expect(state.result).toBe(3);
  });

  it('keys the result by step id when several end steps completed', async () => {
    const def: WorkflowDefinition = {
      name: 'two-ends',
      steps: [step('trigger', 'trigger', { kind: 'api' }, ['a', 'b']), step('a', 'data_transform', { mapping: 'A' }), step('b', 'data_transform', { mapping: 'B' })],
    };
    expect((await run([], startCmd(def))).state.result).toEqual({ a: 'A', b: 'B' });
  });

  const delayed: WorkflowDefinition = {
    name: 'delayed',
    steps: [step('trigger', 'trigger', { kind: 'api' }, ['wait']), step('wait', 'delay', { seconds: 5 }, ['after']), step('after', 'data_transform', { mapping: 'done' })],
  };

  it('a delay is a durable timer: running until it fires, completed exactly once', async () => {
    const started = await run([], startCmd(delayed));
    expect(started.state.status).toBe('running');
    const timer = started.events.find((e) => e.type === 'TimerScheduled');
    expect(timer).toMatchObject({ purpose: 'delay', fire_at: at(5000), step_id: 'wait' });
    const fired = await run(started.history, { type: 'FireTimer', timer_id: (timer as { timer_id: string }).timer_id, now: at(5100) });
    expect(types(fired.events)).toEqual(['StepCompleted:wait', 'StepStarted:after', 'StepCompleted:after', 'ExecutionCompleted']);
    expect(fired.state.steps.get('wait')?.output).toEqual({ waited_ms: 5100 });
    // A timer delivered twice changes nothing.
    expect((await run(fired.history, { type: 'FireTimer', timer_id: (timer as { timer_id: string }).timer_id, now: at(6000) })).events).toEqual([]);
  });

  const withTool = (retry?: StepDefinition['retry'], timeout_seconds?: number): WorkflowDefinition => ({
    name: 'tool',
    steps: [
      step('trigger', 'trigger', { kind: 'api' }, ['call']),
      step('call', 'tool_call', { tool: 'noop', arguments: { q: '{{input.q}}' } }, ['after'], { ...(retry ? { retry } : {}), ...(timeout_seconds ? { timeout_seconds } : {}) }),
      step('after', 'data_transform', { mapping: '{{steps.call.output}}' }),
    ],
  });

  it('a worker step waits for its result; duplicates and stale attempts are ignored', async () => {
    const s = await run([], startCmd(withTool(), { q: 'x' }));
    expect(s.state.steps.get('call')?.status).toBe('running');
    const done = await run(s.history, { type: 'CompleteStep', step_id: 'call', attempt: 1, output: { ok: true }, now: at(10) });
    expect(done.state.status).toBe('completed');
    expect(done.state.result).toEqual({ ok: true });
    expect((await run(done.history, { type: 'CompleteStep', step_id: 'call', attempt: 1, output: { ok: 2 }, now: at(20) })).events).toEqual([]);
    expect((await run(s.history, { type: 'CompleteStep', step_id: 'call', attempt: 2, output: {}, now: at(20) })).events).toEqual([]);
  });

  it('retries with exponential backoff and jitter, counting attempts; fails after the last', async () => {
    const def = withTool({ max_attempts: 3, backoff_seconds: 2, max_backoff_seconds: 3 });
    let h = (await run([], startCmd(def))).history;
    const fail = (attempt: number, ms: number) => run(h, { type: 'FailStep', step_id: 'call', attempt, error: { code: 'TOOL_ERROR', message: 'boom' }, retryable: true, now: at(ms), rand: 1 });
    let r = await fail(1, 100);
    expect(types(r.events)).toEqual(['StepFailed:call', 'TimerScheduled:call']);
    expect(r.events[1]).toMatchObject({ purpose: 'retry', fire_at: at(2100) });
    h = r.history;
    r = await run(h, { type: 'FireTimer', timer_id: 'retry:call:1', now: at(2100) });
    expect(r.events[0]).toMatchObject({ type: 'StepStarted', step_id: 'call', attempt: 2 });
    h = r.history;
    r = await fail(2, 2200);
    expect(r.events[1]).toMatchObject({ purpose: 'retry', fire_at: at(2200 + 3000) }); // capped at max_backoff
    h = (await run(r.history, { type: 'FireTimer', timer_id: 'retry:call:2', now: at(5200) })).history;
    r = await fail(3, 5300);
    expect(types(r.events)).toEqual(['StepFailed:call', 'ErrorRaised:call', 'ExecutionCompleted']);
    expect(r.state.status).toBe('failed');
    expect(r.state.error?.code).toBe('TOOL_ERROR');
    expect(toExecutionView(r.state).steps.find((s) => s.step_id === 'call')?.attempts).toBe(3);
  });

  it('never retries terminal failures', async () => {
    const h = (await run([], startCmd(withTool({ max_attempts: 5 })))).history;
    const r = await run(h, { type: 'FailStep', step_id: 'call', attempt: 1, error: { code: 'TOOL_ERROR', message: '400' }, retryable: false, now: at(1), rand: 0 });
    expect(r.state.status).toBe('failed');
  });

  it('a step timeout fails the attempt with TIMEOUT and a late result is ignored', async () => {
    const h = (await run([], startCmd(withTool(undefined, 2)))).history;
    const timer = h.find((e) => e.type === 'TimerScheduled' && e.purpose === 'step_timeout') as { timer_id: string };
    const r = await run(h, { type: 'FireTimer', timer_id: timer.timer_id, now: at(2000) });
    expect(r.state.status).toBe('failed');
    expect(r.state.error?.code).toBe('TIMEOUT');
    expect((await run(r.history, { type: 'CompleteStep', step_id: 'call', attempt: 1, output: 1, now: at(2500) })).events).toEqual([]);
  });

  it('cancel abandons running steps; a second cancel is a conflict', async () => {
    const h = (await run([], startCmd(delayed))).history;
    const r = await run(h, { type: 'CancelExecution', now: at(10) });
    expect(types(r.events)).toEqual(['StepCancelled:wait', 'ExecutionCompleted']);
    expect(r.state.status).toBe('cancelled');
    expect(() => decide(r.state, { type: 'CancelExecution', now: at(20) })).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect((await run(r.history, { type: 'FireTimer', timer_id: 'delay:wait:1', now: at(5000) })).events).toEqual([]);
  });

  it('workflow timeout ends the run as timeout', async () => {
    const h = (await run([], startCmd({ ...delayed, timeout_seconds: 1 }))).history;
    const r = await run(h, { type: 'FireTimer', timer_id: 'workflow_timeout', now: at(1000) });
    expect(r.state.status).toBe('timeout');
    expect(r.state.error?.code).toBe('TIMEOUT');
  });

  it('a failing inline step fails the run with VALIDATION_ERROR', async () => {
    const def: WorkflowDefinition = { name: 'bad', steps: [step('trigger', 'trigger', {}, ['x']), step('x', 'data_transform', { expression: '$error("nope")' })] };
    const { state } = await run([], startCmd(def));
    expect(state.status).toBe('failed');
    expect(state.error?.code).toBe('VALIDATION_ERROR');
  });

  describe('loop', () => {
    const loopDef = (concurrency = 1, inner?: StepDefinition[]): WorkflowDefinition => ({
      name: 'loop',
      steps: [
        step('trigger', 'trigger', {}, ['each']),
        step('each', 'loop', { items: '{{input.items}}', body: ['double'], concurrency }, ['sum']),
        step('double', 'data_transform', { mapping: { v: '{{loop.item}}', i: '{{loop.index}}' } }, inner ? ['call'] : []),
        ...(inner ?? []),
        step('sum', 'data_transform', { expression: '$count(steps.each.output.results)' }),
      ],
    });

    it('runs the body per item with loop.item/loop.index and collects results in order', async () => {
      const { state, events } = await run([], startCmd(loopDef(), { items: ['a', 'b', 'c'] }));
      expect(state.status).toBe('completed');
      expect(state.steps.get('each')?.output).toEqual({ results: [{ v: 'a', i: 0 }, { v: 'b', i: 1 }, { v: 'c', i: 2 }] });
      expect(state.result).toBe(3);
      expect(events.filter((e) => e.type === 'StepStarted' && e.step_id === 'double').map((e) => (e as { iteration?: number[] }).iteration)).toEqual([[0], [1], [2]]);
    });

    it('respects concurrency and keeps item order when results arrive out of order', async () => {
      const def = loopDef(2, [step('call', 'tool_call', { tool: 'noop', arguments: { v: '{{loop.item}}' } })]);
      let r = await run([], startCmd(def, { items: [1, 2, 3] }));
      const running = () => [...r.state.steps.values()].filter((s) => s.step_id === 'call' && s.status === 'running').map((s) => s.key);
      expect(running()).toEqual(['call#0', 'call#1']);
      r = await run(r.history, { type: 'CompleteStep', step_id: 'call', iteration: [1], attempt: 1, output: 'second', now: at(1) });
      expect(running()).toEqual(['call#0', 'call#2']);
      r = await run(r.history, { type: 'CompleteStep', step_id: 'call', iteration: [2], attempt: 1, output: 'third', now: at(2) });
      r = await run(r.history, { type: 'CompleteStep', step_id: 'call', iteration: [0], attempt: 1, output: 'first', now: at(3) });
      expect(r.state.steps.get('each')?.output).toEqual({ results: ['first', 'second', 'third'] });
      expect(r.state.status).toBe('completed');
    });

    it('more items than max_iterations fails the run with VALIDATION_ERROR', async () => {
      const def = loopDef();
      const capped: WorkflowDefinition = { ...def, steps: def.steps.map((s) => (s.step_id === 'each' ? { ...s, parameters: { ...s.parameters, max_iterations: 2 } } : s)) };
      const { state } = await run([], startCmd(capped, { items: [1, 2, 3] }));
      expect(state.status).toBe('failed');
      expect(state.error?.code).toBe('VALIDATION_ERROR');
    });

    it('an empty list completes the loop with no results', async () => {
      const { state } = await run([], startCmd(loopDef(), { items: [] }));
      expect(state.steps.get('each')?.output).toEqual({ results: [] });
      expect(state.status).toBe('completed');
    });
  });

  it('human approval waits, then routes on the decision', async () => {
    const def: WorkflowDefinition = {
      name: 'approval',
      steps: [
        step('trigger', 'trigger', {}, ['ok']),
        step('ok', 'human_approval', { approvers: ['m@x'], timeout_hours: 1 }, ['yes'], { else_steps: ['no'] }),
        step('yes', 'data_transform', { mapping: 'approved' }),
        step('no', 'data_transform', { mapping: 'rejected' }),
      ],
    };
    const s = await run([], startCmd(def));
    expect(s.state.status).toBe('waiting');
    const r = await run(s.history, { type: 'CompleteStep', step_id: 'ok', attempt: 1, output: { decision: 'rejected' }, now: at(5) });
    expect(types(r.events)).toContain('ExecutionStatusChanged');
    expect(r.state.result).toBe('rejected');
  });

  describe('parallel', () => {
    const par = (params: Record<string, unknown>): WorkflowDefinition => ({
      name: 'par',
      steps: [
        step('trigger', 'trigger', {}, ['fan']),
        step('fan', 'parallel', params, ['a', 'b', 'c']),
        step('a', 'tool_call', { tool: 'noop' }, ['a2']),
        step('a2', 'data_transform', { mapping: 'A' }, ['join']),
        step('b', 'tool_call', { tool: 'noop' }, ['join']),
        step('c', 'tool_call', { tool: 'noop' }, ['join']),
        step('join', 'data_transform', { mapping: { a: '{{steps.a2.output}}', b: '{{steps.b.output}}', c: '{{steps.c.output}}' } }),
      ],
    });
    const done = (h: ExecutionEvent[], id: string, ms: number) => run(h, { type: 'CompleteStep', step_id: id, attempt: 1, output: id.toUpperCase(), now: at(ms) });
    const failed = (h: ExecutionEvent[], id: string, ms: number) =>
      run(h, { type: 'FailStep', step_id: id, attempt: 1, error: { code: 'TOOL_ERROR', message: 'x' }, retryable: false, now: at(ms), rand: 0 });

    it('runs branches concurrently and the join exactly once after all of them', async () => {
      let r = await run([], startCmd(par({})));
      expect(['a', 'b', 'c'].map((id) => r.state.steps.get(id)?.status)).toEqual(['running', 'running', 'running']);
      r = await done(r.history, 'b', 1);
      r = await done(r.history, 'a', 2);
      expect(r.state.steps.has('join')).toBe(false);
      r = await done(r.history, 'c', 3);
      expect(r.history.filter((e) => e.type === 'StepStarted' && e.step_id === 'join')).toHaveLength(1);
      expect(r.state.result).toEqual({ a: 'A', b: 'B', c: 'C' });
    });

    it('max_concurrency holds back branch heads until a branch finishes', async () => {
      let r = await run([], startCmd(par({ max_concurrency: 2 })));
      expect(['a', 'b', 'c'].map((id) => r.state.steps.get(id)?.status)).toEqual(['running', 'running', undefined]);
      r = await done(r.history, 'a', 1); // a2 is inline: branch a finishes
      expect(r.state.steps.get('c')?.status).toBe('running');
      r = await done(r.history, 'b', 2);
      r = await done(r.history, 'c', 3);
      expect(r.state.status).toBe('completed');
    });

    it('fail_fast (default) cancels the other branches and fails the run', async () => {
      const r = await failed((await run([], startCmd(par({})))).history, 'b', 1);
      expect(r.state.status).toBe('failed');
      expect(r.state.steps.get('a')?.status).toBe('cancelled');
      expect(r.state.steps.get('c')?.status).toBe('cancelled');
    });

    it('fail_fast false lets the others finish, skips the join, then fails the run', async () => {
      let r = await failed((await run([], startCmd(par({ fail_fast: false })))).history, 'b', 1);
      expect(r.state.status).toBe('running');
      r = await done(r.history, 'a', 2);
      expect(r.state.status).toBe('running');
      r = await done(r.history, 'c', 3);
      expect(r.state.steps.get('join')?.status).toBe('skipped');
      expect(r.state.steps.get('a2')?.status).toBe('completed');
      expect(r.state.status).toBe('failed');
      expect(r.state.error?.code).toBe('TOOL_ERROR');
    });
  });

  describe('chat (agent_execution with wait_for_user)', () => {
    const chat: WorkflowDefinition = {
      name: 'chat',
      steps: [step('trigger', 'trigger', { kind: 'chat' }, ['agent']), step('agent', 'agent_execution', { agent_id: 'a', wait_for_user: true }, ['after']), step('after', 'data_transform', { mapping: '{{steps.agent.output.response}}' })],
    };

    it('answers, waits, takes the next user turn, ignores stale and duplicate input, ends on request', async () => {
      let r = await run([], startCmd(chat, { kind: 'chat', current_message: 'hi' }));
      r = await run(r.history, { type: 'CompleteStep', step_id: 'agent', attempt: 1, output: { response: 'hello' }, now: at(1) });
      expect(r.state.status).toBe('waiting');
      expect(types(r.events)).toEqual(['StepWaiting:agent', 'ExecutionStatusChanged:agent']);
      r = await run(r.history, { type: 'AddUserMessage', message_id: 'm1', content: 'order 1?', now: at(2) });
      expect(r.state.status).toBe('running');
      expect(r.events.find((e) => e.type === 'StepStarted')).toMatchObject({ step_id: 'agent', attempt: 1, chat_turn: 1 });
      // The same message again, or a late result of turn 0, changes nothing.
      expect((await run(r.history, { type: 'AddUserMessage', message_id: 'm1', content: 'order 1?', now: at(3) })).events).toEqual([]);
      expect((await run(r.history, { type: 'CompleteStep', step_id: 'agent', attempt: 1, output: { response: 'late' }, now: at(3) })).events).toEqual([]);
      r = await run(r.history, { type: 'CompleteStep', step_id: 'agent', attempt: 1, chat_turn: 1, output: { response: 'shipped' }, now: at(4) });
      expect(r.state.steps.get('agent')?.chat).toEqual([
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: 'order 1?' },
        { role: 'assistant', content: 'shipped' },
      ]);
      r = await run(r.history, { type: 'AddUserMessage', message_id: 'm2', content: '', end: true, now: at(5) });
      expect(r.state.status).toBe('completed');
      expect(r.state.result).toBe('shipped');
      // The end request repeated (a client retry with the same message id) is applied once, not refused.
      expect((await run(r.history, { type: 'AddUserMessage', message_id: 'm2', content: '', end: true, now: at(6) })).events).toEqual([]);
      expect(() => decide(r.state, { type: 'AddUserMessage', message_id: 'm3', content: 'x', now: at(6) })).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    });
  });

  describe('purity', () => {
    const def: WorkflowDefinition = {
      name: 'pure',
      steps: [
        step('trigger', 'trigger', {}, ['each']),
        step('each', 'loop', { items: '{{input.items}}', body: ['call'], concurrency: 2 }, ['agent']),
        step('call', 'tool_call', { tool: 'noop' }, ['shape'], { retry: { max_attempts: 2, backoff_seconds: 1 } }),
        step('shape', 'data_transform', { mapping: { v: '{{steps.call.output}}', i: '{{loop.index}}' } }),
        step('agent', 'agent_execution', { agent_id: 'a', wait_for_user: true }, []),
      ],
    };
    const result = (id: string, iteration: number[], attempt: number, output: unknown, ms: number): ExecutionCommand => ({ type: 'CompleteStep', step_id: id, iteration, attempt, output, now: at(ms) });
    const commands: ExecutionCommand[] = [
      startCmd(def, { items: [1, 2, 3] }),
      { type: 'FailStep', step_id: 'call', iteration: [0], attempt: 1, error: { code: 'TOOL_ERROR', message: 'x' }, retryable: true, rand: 0.5, now: at(1) },
      { type: 'FireTimer', timer_id: 'retry:call#0:1', now: at(2) },
      result('call', [1], 1, 'second', 3),
      result('call', [0], 2, 'first', 4),
      result('call', [2], 1, 'third', 5),
      { type: 'CompleteStep', step_id: 'agent', attempt: 1, output: { response: 'hello' }, now: at(6) },
      { type: 'AddUserMessage', message_id: 'm1', content: 'more?', now: at(7) },
      { type: 'AddUserMessage', message_id: 'm1', content: 'more?', now: at(8) },
      { type: 'CompleteStep', step_id: 'agent', attempt: 1, chat_turn: 1, output: { response: 'done' }, now: at(9) },
      { type: 'AddUserMessage', message_id: 'm2', content: '', end: true, now: at(10) },
    ];

    /** Runs a decision, swallowing a rejection (a throwing decision must not leave traces either). */
    async function attempt(f: () => unknown): Promise<void> {
      try {
        await f();
      } catch {
        // rejected commands are part of what is checked
      }
    }

    it('decide and decideWithInline never change the state they are given (loops, retries, timers, chat)', async () => {
      let state = foldEvents([]);
      for (const command of commands) {
        const before = structuredClone(state);
        // The command itself, plus a cancel, which touches every unfinished step.
        for (const c of [command, { type: 'CancelExecution', now: command.now } as ExecutionCommand]) {
          await attempt(() => decide(state, c));
          expect(state).toStrictEqual(before);
          await attempt(() => decideWithInline(state, c));
          expect(state).toStrictEqual(before);
        }
        const next = await decideWithInline(state, command);
        expect(next.state).not.toBe(state);
        // The one working copy is the fold of the decision's events.
        expect(next.state).toStrictEqual(foldEvents(next.events, structuredClone(state)));
        state = next.state;
      }
      expect(state.status).toBe('completed');
      expect(state.steps.get('each')?.output).toEqual({ results: [{ v: 'first', i: 0 }, { v: 'second', i: 1 }, { v: 'third', i: 2 }] });
      expect(state.steps.get('call#0')?.attempt).toBe(2);
      expect(state.result).toEqual({ response: 'done' });
    });
  });
});

