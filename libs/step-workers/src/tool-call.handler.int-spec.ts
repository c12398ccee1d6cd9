import type { StepTask, StreamEvent } from '@jetflow/contracts';
import type { ToolsDeps, ToolView } from '@jetflow/tools';
import { HttpFixture } from '../../../test/support/http-fixture';
import type { HandlerContext } from './step-handler';
import { toolCallHandler } from './tool-call.handler';

describe('tool_call journal (ToolCalled / ToolResulted)', () => {
  let fixture: HttpFixture;
  const appends: { at: number; events: readonly StreamEvent[] }[] = [];
  const slowTool = (url: string): ToolView => ({
    id: 't1',
    name: 'slow_lookup',
    description: 'answers after 150 ms',
    input_schema: { type: 'object' },
    endpoint: { url, method: 'POST', headers: {} },
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
  });
  const task = (tool: string): StepTask => ({
    execution_id: '00000000-0000-4000-8000-000000000001',
    step_id: 'call',
    attempt: 1,
    step_type: 'tool_call',
    parameters: { tool, arguments: { q: 1 } },
    scope: { organization_id: 'o', project_id: 'p' },
    input: {},
    idempotency_key: 'k',
  });
  let ctx: HandlerContext;

  beforeAll(async () => {
    fixture = await HttpFixture.start();
    const url = fixture.route('/slow', () => ({ status: 200, body: { answer: 42 }, delayMs: 150 }));
    const tools: ToolsDeps = {
      catalog: { findByNames: async (_scope, names) => (names.includes('slow_lookup') ? [slowTool(url)] : []) },
      outbound: { allowPrivate: true },
    };
    ctx = {
      signal: new AbortController().signal,
      secrets: {},
      allowPrivateNetworks: true,
      tools,
      stream: { appendStream: async (_id, events) => void appends.push({ at: Date.now(), events }) },
    };
  });
  afterAll(() => fixture?.stop());
  beforeEach(() => void appends.splice(0));

  it('sends the call and result of a tool that answers at once with the step result, no append of its own', async () => {
    const outcome = await toolCallHandler(task('noop'), ctx);
    expect(outcome.ok).toBe(true);
    expect(appends).toHaveLength(0);
    expect(outcome.journal?.map((e) => e.type)).toEqual(['ToolCalled', 'ToolResulted']);
    expect(outcome.journal?.[0]).toMatchObject({ type: 'ToolCalled', step_id: 'call', tool: 'noop', arguments: { q: 1 } });
  });

  it('appends the call of a slow tool while it runs; its result travels with the step result', async () => {
    const started = Date.now();
    const outcome = await toolCallHandler(task('slow_lookup'), ctx);
    expect(outcome).toMatchObject({ ok: true, output: { answer: 42 } });
    expect(appends.map((a) => a.events.map((e) => e.type))).toEqual([['ToolCalled']]);
    // The call was visible before the tool answered (150 ms), not only at the end.
    expect(appends[0]!.at - started).toBeLessThan(140);
    expect(outcome.journal).toEqual([expect.objectContaining({ type: 'ToolResulted', tool: 'slow_lookup', result: { answer: 42 } })]);
  });
});
