import type { StepTask, WorkflowDefinition } from '@jetflow/contracts';
import { decideWithInline } from './execution.runner';
import { initialState } from './execution.state';
import { buildStepTask, outstandingTasks } from './inline-steps';
import { startCommand } from '../testing/start-command.fixture';

async function taskFor(parameters: Record<string, unknown>, input: Record<string, unknown>): Promise<StepTask> {
  const definition: WorkflowDefinition = {
    name: 'secrets',
    steps: [
      { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['call'] },
      { step_id: 'call', step_type: 'api_call', parameters, next_steps: [] },
    ],
  };
  const start = startCommand('e1', definition, input);
  const { state } = await decideWithInline(initialState(), start);
  const [run] = outstandingTasks(state);
  expect(run?.step_id).toBe('call');
  return buildStepTask(state, run!);
}

/** The string at `path` in the task's parameters. */
const at = (task: StepTask, path: readonly (string | number)[]): string => path.reduce<any>((v, k) => v[k], task.parameters);

describe('buildStepTask secret slots', () => {
  it('records where the definition wrote {{secrets.*}}; secret templates that data brought in get no slot', async () => {
    const task = await taskFor(
      {
        url: 'https://h.test/services/{{secrets.SLACK}}',
        method: 'POST',
        headers: { authorization: 'Bearer {{secrets.TOKEN}} for {{input.user}}', 'x-a': 'x{{input.n}}-{{ secrets.TOKEN }}' },
        body: { text: '{{input.title}}', list: ['{{secrets.TOKEN}}'] },
      },
      { kind: 'api', title: '{{secrets.SLACK}}', user: '{{secrets.TOKEN}}', n: 'abcdef' },
    );
    // Data templates resolved; the injected templates are now plain text of the parameters.
    expect(task.parameters).toEqual({
      url: 'https://h.test/services/{{secrets.SLACK}}',
      method: 'POST',
      headers: { authorization: 'Bearer {{secrets.TOKEN}} for {{secrets.TOKEN}}', 'x-a': 'xabcdef-{{ secrets.TOKEN }}' },
      body: { text: '{{secrets.SLACK}}', list: ['{{secrets.TOKEN}}'] },
    });
    expect(task.secret_slots).toEqual([
      { path: ['url'], names: ['SLACK'], spans: [[24, 41]] },
      { path: ['headers', 'authorization'], names: ['TOKEN'], spans: [[7, 24]] },
      { path: ['headers', 'x-a'], names: ['TOKEN'], spans: [[8, 27]] },
      { path: ['body', 'list', 0], names: ['TOKEN'], spans: [[0, 17]] },
    ]);
    // Each span holds the definition's own template in the string the worker gets.
    for (const slot of task.secret_slots!) for (const [s, e] of slot.spans!) expect(at(task, slot.path).slice(s, e)).toMatch(/^\{\{ ?secrets\.(SLACK|TOKEN) ?\}\}$/);
    // Kept for workers of an older release during a rolling upgrade.
    expect(task.secret_refs).toEqual(['SLACK', 'TOKEN']);
  });

  it('a definition without secret templates gives neither slots nor names, whatever the data holds', async () => {
    const task = await taskFor({ url: 'https://h.test/x', body: { msg: 'leak {{input.msg}}' } }, { kind: 'api', msg: '{{secrets.TOKEN}}' });
    expect(task.parameters['body']).toEqual({ msg: 'leak {{secrets.TOKEN}}' });
    expect(task.secret_slots).toBeUndefined();
    expect(task.secret_refs).toBeUndefined();
  });
});
