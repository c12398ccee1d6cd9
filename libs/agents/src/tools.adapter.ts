import { describeTools, invokeTool, type ToolsDeps } from '@jetflow/tools';
import type { AgentTools } from './agent-tools';

/** The tool registry of libs/tools (built-ins + the scope's user tools) as an agent's tools. */
export function agentToolsFrom(deps: ToolsDeps): AgentTools {
  return {
    describe: (scope, names) => describeTools(deps, scope, names),
    invoke: (scope, name, args, ctx) => invokeTool(deps, scope, name, args, { signal: ctx.signal, idempotencyKey: ctx.idempotency_key }),
  };
}
