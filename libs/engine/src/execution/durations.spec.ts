import type { ExecutionCommand, ExecutionEvent, StepDefinition, TriggerInput, WorkflowDefinition } from '@jetflow/contracts';
import { decide } from './execution.decider';
import { clampRetryAfter, retryDelay } from './execution.decision';
import { decideWithInline } from './execution.runner';
import { foldEvents, type ExecutionState } from './execution.state';
import { addSeconds, MAX_DURATION_SECONDS, MAX_RETRY_AFTER_SECONDS, readSeconds } from './durations';
import { toExecutionView } from './execution.view';
import { startCommand, stepDef } from '../testing/start-command.fixture';

const T0 = '2026-01-01T00:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();

const step = stepDef;
const startCmd = (definition: WorkflowDefinition, input: TriggerInput = { kind: 'api' }): ExecutionCommand => startCommand('e1', definition, input);

async function run(given: ExecutionEvent[], command: ExecutionCommand): Promise<{ events: ExecutionEvent[]; state: ExecutionState; history: ExecutionEvent[] }> {
  const { events, state } = await decideWithInline(foldEvents(given), command);
  return { events, state, history: [...given, ...events] };
}

const timers = (events: ExecutionEvent[], purpose?: string) => events.filter((e) => e.type === 'TimerScheduled' && (!purpose || e.purpose === purpose)) as Extract<ExecutionEvent, { type: 'TimerScheduled' }>[];
const stepView = (state: ExecutionState, id: string) => toExecutionView(state).steps.find((s) => s.step_id === id);

/** trigger → wait (delay with `parameters`) → after */
const delayed = (parameters: Record<string, unknown>, extra: Partial<WorkflowDefinition> = {}): WorkflowDefinition => ({
  name: 'delayed',
  ...extra,
  steps: [step('trigger', 'trigger', { kind: 'api' }, ['wait']), step('wait', 'delay', parameters, ['after']), step('after', 'data_transform', { mapping: 'done' })],
});

describe('durations: delay parameters', () => {
  it.each([
    ['a number', 3, 3000],
    ['a numeric string', '2.5', 2500],
    ['zero', 0, 0],
  ])('resolves a templated seconds (%s) with the run scope', async (_name, s, ms) => {
    const { events, state } = await run([], startCmd(delayed({ seconds: '{{input.s}}' }), { kind: 'api', s }));
    expect(state.status).toBe('running');
    expect(timers(events, 'delay')).toEqual([expect.objectContaining({ step_id: 'wait', fire_at: at(ms) })]);
  });

  it('resolves templates from earlier steps and accepts a literal numeric string', async () => {
    const def: WorkflowDefinition = {
      name: 'from-step',
      steps: [
        step('trigger', 'trigger', {}, ['calc']),
        step('calc', 'data_transform', { expression: '{ "wait": input.base * 2 }' }, ['wait']),
        step('wait', 'delay', { seconds: '{{steps.calc.output.wait}}' }, ['lit']),
        step('lit', 'delay', { seconds: ' 4 ' }),
      ],
    };
    const started = await run([], startCmd(def, { base: 5 }));
    expect(timers(started.events, 'delay')).toEqual([expect.objectContaining({ step_id: 'wait', fire_at: at(10_000) })]);
    const fired = await run(started.history, { type: 'FireTimer', timer_id: 'delay:wait:1', now: at(10_000) });
    expect(timers(fired.events, 'delay')).toEqual([expect.objectContaining({ step_id: 'lit', fire_at: at(14_000) })]);
  });

  it('resolves a templated until to that date-time; one in the past is due at once', async () => {
    const future = await run([], startCmd(delayed({ until: '{{input.t}}' }), { t: '2026-01-02T00:00:00+01:00' }));
    expect(timers(future.events, 'delay')).toEqual([expect.objectContaining({ fire_at: '2026-01-01T23:00:00.000Z' })]);
    const past = await run([], startCmd(delayed({ until: '{{input.t}}' }), { t: '2020-01-01T00:00:00Z' }));
    expect(timers(past.events, 'delay')).toEqual([expect.objectContaining({ fire_at: '2020-01-01T00:00:00.000Z' })]);
  });

  it.each([
    ['a non-numeric string', 'abc'],
    ['an empty string', ''],
    ['a missing value', undefined],
    ['a negative number', -1],
    ['a negative numeric string', '-5'],
    ['a number too large for a Date', 1e13],
    ['a number beyond the cap', MAX_DURATION_SECONDS + 1],
    ['a string overflowing to Infinity', '1e400'],
    ['hex', '0x10'],
    ['an object', { n: 1 }],
  ])('seconds resolved to %s fails the step with VALIDATION_ERROR and the run ends failed', async (_name, s) => {
    const input = s === undefined ? {} : { s };
    const cmd = startCmd(delayed({ seconds: '{{input.s}}' }), input);
    expect(() => decide(foldEvents([]), cmd)).not.toThrow();
    const { events, state } = await run([], cmd);
    expect(timers(events, 'delay')).toEqual([]);
    expect(stepView(state, 'wait')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(stepView(state, 'after')).toBeUndefined(); // never started: the failure ends the run
    expect(state.status).toBe('failed');
    expect(state.error?.code).toBe('VALIDATION_ERROR');
  });

  it('the cap itself is allowed', async () => {
    const { events } = await run([], startCmd(delayed({ seconds: '{{input.s}}' }), { s: MAX_DURATION_SECONDS }));
    expect(timers(events, 'delay')).toEqual([expect.objectContaining({ fire_at: at(MAX_DURATION_SECONDS * 1000) })]);
  });

  it.each([
    ['not a date', 'tomorrow'],
    ['an impossible date', '2030-13-45T99:00:00Z'],
    ['a number', 1767225600000],
    ['beyond the cap', '2099-01-01T00:00:00Z'],
    ['null', null],
  ])('until resolved to %s fails the step with VALIDATION_ERROR', async (_name, t) => {
    const { events, state } = await run([], startCmd(delayed({ until: '{{input.t}}' }), { t }));
    expect(timers(events, 'delay')).toEqual([]);
    expect(stepView(state, 'wait')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(state.status).toBe('failed');
  });

  it('a bad delay reached after a worker step fails the run on CompleteStep instead of throwing (no endless redelivery)', async () => {
    const def: WorkflowDefinition = {
      name: 'after-worker',
      steps: [step('trigger', 'trigger', {}, ['call']), step('call', 'tool_call', { tool: 'noop' }, ['wait']), step('wait', 'delay', { seconds: '{{steps.call.output.retry_in}}' })],
    };
    const started = await run([], startCmd(def));
    const complete: ExecutionCommand = { type: 'CompleteStep', step_id: 'call', attempt: 1, output: { retry_in: 99999999999999 }, now: at(10) };
    expect(() => decide(started.state, complete)).not.toThrow();
    const done = await run(started.history, complete);
    expect(stepView(done.state, 'call')?.status).toBe('completed');
    expect(stepView(done.state, 'wait')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(done.state.status).toBe('failed');
    // A redelivered result is a duplicate: nothing more.
    expect((await run(done.history, complete)).events).toEqual([]);
  });

  it('in a loop body, the bad iteration fails the loop and the run', async () => {
    const def: WorkflowDefinition = {
      name: 'loop',
      steps: [step('trigger', 'trigger', {}, ['each']), step('each', 'loop', { items: '{{input.items}}', body: ['wait'] }), step('wait', 'delay', { seconds: '{{loop.item}}' })],
    };
    const ok = await run([], startCmd(def, { items: [1] }));
    expect(timers(ok.events, 'delay')).toEqual([expect.objectContaining({ fire_at: at(1000) })]);
    const bad = await run([], startCmd(def, { items: ['soon'] }));
    expect(bad.state.steps.get('wait#0')?.status).toBe('failed');
    expect(bad.state.steps.get('each')?.status).toBe('failed');
    expect(bad.state.status).toBe('failed');
    expect(bad.state.error?.code).toBe('VALIDATION_ERROR');
  });

  it('in a parallel with fail_fast false, the other branches still finish before the run fails', async () => {
    const def: WorkflowDefinition = {
      name: 'par',
      steps: [
        step('trigger', 'trigger', {}, ['fan']),
        step('fan', 'parallel', { fail_fast: false }, ['wait', 'call']),
        step('wait', 'delay', { seconds: '{{input.s}}' }, ['join']),
        step('call', 'tool_call', { tool: 'noop' }, ['join']),
        step('join', 'data_transform', { mapping: 1 }),
      ],
    };
    const started = await run([], startCmd(def, { s: 'x' }));
    expect(started.state.steps.get('wait')?.status).toBe('failed');
    expect(started.state.status).toBe('running');
    const done = await run(started.history, { type: 'CompleteStep', step_id: 'call', attempt: 1, output: 'C', now: at(5) });
    expect(done.state.steps.get('join')?.status).toBe('skipped');
    expect(done.state.status).toBe('failed');
    expect(done.state.error?.code).toBe('VALIDATION_ERROR');
  });
});

describe('durations: timeouts and retries from the definition', () => {
  const withTool = (extra: Partial<StepDefinition>, parameters: Record<string, unknown> = { tool: 'noop' }, type: StepDefinition['step_type'] = 'tool_call'): WorkflowDefinition => ({
    name: 'tool',
    steps: [step('trigger', 'trigger', {}, ['call']), step('call', type, parameters, [], extra)],
  });

  it('a workflow timeout_seconds too large for a Date fails the run at start with VALIDATION_ERROR (no throw, no 500)', async () => {
    const cmd = startCmd(delayed({ seconds: 1 }, { timeout_seconds: 1e13 }));
    expect(() => decide(foldEvents([]), cmd)).not.toThrow();
    const { events, state } = await run([], cmd);
    expect(events.map((e) => e.type)).toEqual(['ExecutionStarted', 'ErrorRaised', 'ExecutionCompleted']);
    expect(state.status).toBe('failed');
    expect(state.error?.code).toBe('VALIDATION_ERROR');
  });

  it('a workflow timeout within the cap schedules its timer', async () => {
    const { events } = await run([], startCmd(delayed({ seconds: 1 }, { timeout_seconds: MAX_DURATION_SECONDS })));
    expect(timers(events, 'workflow_timeout')).toEqual([expect.objectContaining({ fire_at: at(MAX_DURATION_SECONDS * 1000) })]);
  });

  it('an approval timeout_hours too large fails the step with VALIDATION_ERROR instead of waiting', async () => {
    const def: WorkflowDefinition = { name: 'approval', steps: [step('trigger', 'trigger', {}, ['ok']), step('ok', 'human_approval', { approvers: ['m@x'], timeout_hours: 1e13 })] };
    const { events, state } = await run([], startCmd(def));
    expect(events.some((e) => e.type === 'StepWaiting')).toBe(false);
    expect(stepView(state, 'ok')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(state.status).toBe('failed');
  });

  it.each([
    ['step timeout_seconds', withTool({ timeout_seconds: 1e13 })],
    ['agent parameters.timeout_seconds', withTool({}, { agent_id: 'a', timeout_seconds: 1e300 }, 'agent_execution')],
  ])('a worker %s too large fails the step before any task (it is not left running)', async (_name, def) => {
    const { events, state } = await run([], startCmd(def));
    expect(timers(events)).toEqual([]);
    expect(stepView(state, 'call')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR' } });
    expect(state.status).toBe('failed');
  });

  it('clamps a huge retry_after_seconds from a server to MAX_RETRY_AFTER_SECONDS', async () => {
    const h = (await run([], startCmd(withTool({ retry: { max_attempts: 3, backoff_seconds: 1 } })))).history;
    const fail: ExecutionCommand = {
      type: 'FailStep',
      step_id: 'call',
      attempt: 1,
      error: { code: 'RATE_LIMIT', message: '429' },
      retryable: true,
      retry_after_seconds: 99999999999999,
      now: at(100),
      rand: 0.5,
    };
    expect(() => decide(foldEvents(h), fail)).not.toThrow();
    const r = await run(h, fail);
    expect(timers(r.events, 'retry')).toEqual([expect.objectContaining({ fire_at: at(100 + MAX_RETRY_AFTER_SECONDS * 1000) })]);
    expect(r.state.steps.get('call')?.status).toBe('pending');
    // A sane Retry-After is honored as before.
    const sane = await run(h, { ...fail, retry_after_seconds: 30 } as ExecutionCommand);
    expect(timers(sane.events, 'retry')).toEqual([expect.objectContaining({ fire_at: at(100 + 30_000) })]);
  });

  it('a retry policy no timer can represent fails the step with VALIDATION_ERROR (the attempt error kept as a detail)', async () => {
    const h = (await run([], startCmd(withTool({ retry: { max_attempts: 3, backoff_seconds: 1e13 } })))).history;
    const fail: ExecutionCommand = { type: 'FailStep', step_id: 'call', attempt: 1, error: { code: 'TOOL_ERROR', message: 'boom' }, retryable: true, now: at(1), rand: 0.5 };
    expect(() => decide(foldEvents(h), fail)).not.toThrow();
    const r = await run(h, fail);
    expect(timers(r.events, 'retry')).toEqual([]);
    expect(stepView(r.state, 'call')).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_ERROR', details: [{ code: 'TOOL_ERROR', message: 'boom' }] } });
    expect(r.state.status).toBe('failed');
  });

  it('exponential backoff is capped, whatever the attempt number', () => {
    expect(retryDelay({ backoff_seconds: 1 }, 99, 1)).toEqual({ ok: true, seconds: MAX_DURATION_SECONDS });
    expect(retryDelay({ backoff_seconds: 2, max_backoff_seconds: 3 }, 5, 1)).toEqual({ ok: true, seconds: 3 });
    expect(retryDelay(undefined, 1, 0)).toEqual({ ok: true, seconds: 0.5 });
    expect(retryDelay({ backoff_seconds: 1 }, 1, Number.NaN)).toEqual({ ok: true, seconds: 0.75 });
    expect(retryDelay({ max_backoff_seconds: Number.POSITIVE_INFINITY }, 1, 0)).toMatchObject({ ok: false });
  });

  it('clampRetryAfter keeps hints in [0, one day]', () => {
    expect(clampRetryAfter(undefined)).toBe(0);
    expect(clampRetryAfter(Number.NaN)).toBe(0);
    expect(clampRetryAfter(-3)).toBe(0);
    expect(clampRetryAfter(2)).toBe(2);
    expect(clampRetryAfter(Number.POSITIVE_INFINITY)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(clampRetryAfter(99999999999999)).toBe(MAX_RETRY_AFTER_SECONDS);
  });
});

describe('durations: helpers never throw', () => {
  it('addSeconds always returns a valid ISO date-time', () => {
    for (const s of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e300, -5, 1e13]) {
      const iso = addSeconds(T0, s);
      expect(Number.isNaN(Date.parse(iso))).toBe(false);
      expect(Date.parse(iso) - Date.parse(T0)).toBeLessThanOrEqual(MAX_DURATION_SECONDS * 1000);
    }
    expect(addSeconds(T0, 1.5)).toBe(at(1500));
    expect(Number.isNaN(Date.parse(addSeconds('not a date', 1)))).toBe(false);
  });

  it('readSeconds accepts numbers and decimal strings within [0, cap]', () => {
    expect(readSeconds(5, 's')).toEqual({ ok: true, seconds: 5 });
    expect(readSeconds(' 1.5 ', 's')).toEqual({ ok: true, seconds: 1.5 });
    expect(readSeconds('2e3', 's')).toEqual({ ok: true, seconds: 2000 });
    for (const bad of ['abc', '', 'Infinity', '0x10', null, true, [], -1, Number.NaN, MAX_DURATION_SECONDS + 1]) {
      expect(readSeconds(bad, 's')).toMatchObject({ ok: false });
    }
  });
});
