import { MAX_DURATION_HOURS, MAX_DURATION_SECONDS } from '../execution/durations';
import { validateWorkflow } from './index';

type Step = Record<string, unknown>;
const trigger = (next: string[]): Step => ({ step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: next });
const workflow = (steps: Step[], extra: Record<string, unknown> = {}) => ({ name: 'wf', ...extra, steps });
const one = (s: Step, extra: Record<string, unknown> = {}) => workflow([trigger(['s']), { step_id: 's', ...s }], extra);
const problems = (body: unknown) => {
  const r = validateWorkflow(body);
  return r.ok ? [] : r.details.map((d) => [d.code, d.path]);
};
const tool = (extra: Step = {}): Step => ({ step_type: 'tool_call', parameters: { tool: 'echo' }, ...extra });

describe('validateWorkflow: durations beyond what a timer can represent', () => {
  it('rejects a workflow timeout_seconds beyond the cap (366 days), accepts the cap', () => {
    expect(problems(one(tool(), { timeout_seconds: 1e13 }))).toEqual([['INVALID_FIELD', 'timeout_seconds']]);
    expect(problems(one(tool(), { timeout_seconds: MAX_DURATION_SECONDS + 1 }))).toEqual([['INVALID_FIELD', 'timeout_seconds']]);
    expect(problems(one(tool(), { timeout_seconds: MAX_DURATION_SECONDS }))).toEqual([]);
    const r = validateWorkflow(one(tool(), { timeout_seconds: 1e13 }));
    expect(r.ok ? '' : r.details[0]!.message).toMatch(/at most 31622400 seconds \(366 days\)/);
  });

  it('rejects a step timeout_seconds and retry backoffs beyond the cap', () => {
    expect(problems(one(tool({ timeout_seconds: 1e13 })))).toEqual([['INVALID_FIELD', 'steps[1].timeout_seconds']]);
    expect(problems(one(tool({ retry: { max_attempts: 2, backoff_seconds: 1e13, max_backoff_seconds: 1e300 } })))).toEqual([
      ['INVALID_FIELD', 'steps[1].retry.backoff_seconds'],
      ['INVALID_FIELD', 'steps[1].retry.max_backoff_seconds'],
    ]);
    expect(problems(one(tool({ timeout_seconds: MAX_DURATION_SECONDS, retry: { max_attempts: 2, backoff_seconds: MAX_DURATION_SECONDS } })))).toEqual([]);
  });

  it('rejects approval timeout_hours and worker parameters.timeout_seconds beyond the cap', () => {
    expect(problems(one({ step_type: 'human_approval', parameters: { timeout_hours: 1e13 } }))).toEqual([['INVALID_PARAMETER', 'steps[1].parameters.timeout_hours']]);
    expect(problems(one({ step_type: 'human_approval', parameters: { timeout_hours: MAX_DURATION_HOURS } }))).toEqual([]);
    expect(problems(one({ step_type: 'agent_execution', parameters: { agent_id: 'a', timeout_seconds: 1e13 } }))).toEqual([['INVALID_PARAMETER', 'steps[1].parameters.timeout_seconds']]);
    expect(problems(one({ step_type: 'api_call', parameters: { url: 'https://example.com', timeout_seconds: 1e13 } }))).toEqual([['INVALID_PARAMETER', 'steps[1].parameters.timeout_seconds']]);
  });

  it('delay seconds: a number or numeric string within the cap, or a template', () => {
    const delay = (parameters: Record<string, unknown>) => problems(one({ step_type: 'delay', parameters }));
    for (const seconds of [0, 1.5, '5', MAX_DURATION_SECONDS, '{{input.s}}', '{{input.s}}0']) expect(delay({ seconds })).toEqual([]);
    for (const seconds of [1e13, MAX_DURATION_SECONDS + 1, 'abc', '', -1, true]) {
      expect(delay({ seconds })).toEqual([['INVALID_PARAMETER', 'steps[1].parameters.seconds']]);
    }
    expect(delay({ until: '{{input.t}}' })).toEqual([]);
    expect(delay({ until: 'soon' })).toEqual([['INVALID_PARAMETER', 'steps[1].parameters.until']]);
  });
});
