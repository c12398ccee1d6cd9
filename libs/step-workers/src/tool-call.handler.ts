import { stepKey, type StreamEvent } from '@jetflow/contracts';
import { invokeTool } from '@jetflow/tools';
import type { HandlerContext, StepHandler } from './step-handler';
import { terminal } from './step-handler';

/** A tool that answers within this long gets no separate `ToolCalled` append: its call travels with the result. */
export const TOOL_EVENTS_COALESCE_MS = 20;

/**
 * `tool_call`: runs a built-in or the scope's user tool through the registry (arguments checked
 * against its `input_schema` first) and journals `ToolCalled` and `ToolResulted` (SSE `tool_call` /
 * `tool_result`). The output is the tool's result.
 *
 * The journal travels with the step's result (`HandlerOutcome.journal`): the actor appends it first
 * in the same message as the decision the result leads to, so a step costs one append, not two
 * (DESIGN.md: one append, one task, one result per step transition). A tool still running after
 * {@link TOOL_EVENTS_COALESCE_MS} gets its `ToolCalled` appended on the `deltas` subject right
 * away, so clients see the call while it runs; its `ToolResulted` still comes with the result.
 */
export const toolCallHandler: StepHandler = async (task, ctx) => {
  const name = task.parameters['tool'];
  const args = task.parameters['arguments'] ?? {};
  if (typeof name !== 'string' || !name) return terminal('TOOL_ERROR', 'tool must be a non-empty string');
  if (!ctx.tools) return terminal('TOOL_ERROR', 'no tool registry configured for this worker');
  const base = { step_id: task.step_id, ...(task.iteration?.length ? { iteration: task.iteration } : {}), tool: name };
  const now = () => (ctx.clock?.() ?? new Date()).toISOString();

  const journal: StreamEvent[] = [{ type: 'ToolCalled', ...base, arguments: args, at: now() }];
  const invocation = invokeTool(ctx.tools, task.scope, name, args, {
    signal: ctx.signal,
    idempotencyKey: `${task.execution_id}:${stepKey(task.step_id, task.iteration)}`,
    ...(task.timeout_seconds ? { timeoutMs: task.timeout_seconds * 1000 } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  const fast = await Promise.race([invocation, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), TOOL_EVENTS_COALESCE_MS)))]);
  clearTimeout(timer);
  if (!fast) await emit(ctx, task.execution_id, journal.splice(0));
  const outcome = fast ?? (await invocation);
  journal.push({ type: 'ToolResulted', ...base, result: outcome.ok ? outcome.result : { error: outcome.error }, at: now() });
  if (outcome.ok) return { ok: true, output: outcome.result, journal };
  return { ok: false, error: outcome.error, retryable: outcome.retryable, ...(outcome.retry_after_seconds !== undefined ? { retry_after_seconds: outcome.retry_after_seconds } : {}), journal };
};

/** Best effort: failing the step here would call the tool again; its result is in the decision log anyway. */
async function emit(ctx: HandlerContext, executionId: string, events: StreamEvent[]): Promise<void> {
  if (!ctx.stream) return;
  try {
    await ctx.stream.appendStream(executionId, events);
  } catch {
    /* best effort */
  }
}
