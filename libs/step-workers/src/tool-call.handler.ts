import { evaluateJsonata } from '@jetflow/expressions';
import type { StepHandler } from './step-handler';
import { terminal } from './step-handler';

type BuiltinTool = (args: Record<string, unknown>) => Promise<unknown> | unknown;

/** Built-in tools available to every scope (user tools come with the effects issue). */
export const BUILTIN_TOOLS: Readonly<Record<string, BuiltinTool>> = {
  noop: (args) => args,
  echo: (args) => args,
  current_time: () => ({ now: new Date().toISOString() }),
  json_query: async (args) => {
    if (typeof args['query'] !== 'string') throw new TypeError('json_query needs a string "query"');
    return (await evaluateJsonata(args['query'], { data: args['data'] ?? null, ...((args['data'] as object) ?? {}) })) ?? null;
  },
};

export const toolCallHandler: StepHandler = async (task) => {
  const name = task.parameters['tool'];
  const args = task.parameters['arguments'] ?? {};
  if (typeof name !== 'string') return terminal('TOOL_ERROR', 'tool must be a string');
  const tool = BUILTIN_TOOLS[name];
  if (!tool) return terminal('TOOL_ERROR', `unknown tool ${name}`);
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return terminal('TOOL_ERROR', 'arguments must be an object');
  try {
    return { ok: true, output: (await tool(args as Record<string, unknown>)) ?? null };
  } catch (err) {
    return terminal('TOOL_ERROR', err instanceof Error ? err.message : String(err));
  }
};
