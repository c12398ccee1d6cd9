import type { ErrorBody, Scope } from '@jetflow/contracts';
import type { ToolSpec } from './chat-model';

export interface ToolInvocationContext {
  readonly signal: AbortSignal;
  /** `<execution_id>:<step_id>:<attempt>:<call_id>`: the same on a resumed attempt. */
  readonly idempotency_key: string;
  readonly execution_id: string;
  readonly step_id: string;
}

export type ToolInvocationResult = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: ErrorBody; readonly retryable: boolean };

/**
 * The tools an agent may call, by name, in a scope. The steps app adapts libs/tools
 * (`describeTools` / `invokeTool`) to this; tests and offline setups can pass anything.
 */
export interface AgentTools {
  describe(scope: Scope, names: readonly string[]): Promise<readonly ToolSpec[]>;
  invoke(scope: Scope, name: string, args: Record<string, unknown>, ctx: ToolInvocationContext): Promise<ToolInvocationResult>;
}
