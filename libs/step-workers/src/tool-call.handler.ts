import { stepKey, type StreamEvent } from '@jetflow/contracts';
import { invokeTool } from '@jetflow/tools';
import type { HandlerContext, StepHandler } from './step-handler';
import { terminal } from './step-handler';

/**
 * `tool_call`: runs a built-in or the scope's user tool through the registry (arguments checked
 * against its `input_schema` first) and journals `ToolCalled` before and `ToolResulted` after on the
 * execution's `deltas` subject (SSE `tool_call` / `tool_result`). The output is the tool's result.
 */
export const toolCallHandler: StepHandler = async (task, ctx) => {
  const name = task.parameters['tool'];
  const args = task.parameters['arguments'] ?? {};
  if (typeof name !== 'string' || !name) return terminal('TOOL_ERROR', 'tool must be a non-empty string');
  if (!ctx.tools) return terminal('TOOL_ERROR', 'no tool registry configured for this worker');
  const base = { step_id: task.step_id, ...(task.iteration?.length ? { iteration: task.iteration } : {}), tool: name };
  const now = () => (ctx.clock?.() ?? new Date()).toISOString();

  // Before the call and not best effort: if it cannot be journaled, nothing has been called yet.
  await ctx.stream?.appendStream(task.execution_id, [{ type: 'ToolCalled', ...base, arguments: args, at: now() }]);
  const outcome = await invokeTool(ctx.tools, task.scope, name, args, {
    signal: ctx.signal,
    idempotencyKey: `${task.execution_id}:${stepKey(task.step_id, task.iteration)}`,
    ...(task.timeout_seconds ? { timeoutMs: task.timeout_seconds * 1000 } : {}),
  });
  await emit(ctx, task.execution_id, { type: 'ToolResulted', ...base, result: outcome.ok ? outcome.result : { error: outcome.error }, at: now() });
  if (outcome.ok) return { ok: true, output: outcome.result };
  return { ok: false, error: outcome.error, retryable: outcome.retryable, ...(outcome.retry_after_seconds !== undefined ? { retry_after_seconds: outcome.retry_after_seconds } : {}) };
};

/** After the call: failing the step here would call the tool again; the result is in the log anyway. */
async function emit(ctx: HandlerContext, executionId: string, event: StreamEvent): Promise<void> {
  if (!ctx.stream) return;
  try {
    await ctx.stream.appendStream(executionId, [event]);
  } catch {
    /* best effort */
  }
}
