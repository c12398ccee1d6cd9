import type { ErrorBody, Scope } from '@jetflow/contracts';
import type { HostResolver, OutboundPolicy } from './outbound-guard';

export const TOOL_HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type ToolHttpMethod = (typeof TOOL_HTTP_METHODS)[number];

/** Where a user tool is called: arguments go as the JSON body (GET: as query parameters). */
export interface ToolEndpoint {
  readonly url: string;
  readonly method: ToolHttpMethod;
  /** May reference `{{secrets.NAME}}`; resolved at call time, never echoed. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A user tool as the API shows it. */
export interface ToolView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly input_schema: Readonly<Record<string, unknown>>;
  readonly endpoint: ToolEndpoint;
  readonly created_at: string;
  readonly updated_at: string;
}

/** What an LLM function definition needs. */
export interface ToolDescription {
  readonly name: string;
  readonly description: string;
  readonly input_schema: Readonly<Record<string, unknown>>;
}

/** Looks user tools up by name in a scope (Postgres directly, or the tools service over NATS). */
export interface ToolCatalog {
  findByNames(scope: Scope, names: readonly string[]): Promise<readonly ToolView[]>;
}

/** Everything tool invocation needs; built once per process. */
export interface ToolsDeps {
  readonly catalog: ToolCatalog;
  readonly outbound: OutboundPolicy;
  readonly resolver?: HostResolver;
  /** Config `SECRETS`, for `{{secrets.NAME}}` in user tool endpoints. */
  readonly secrets?: Readonly<Record<string, string>>;
  readonly maxResponseBytes?: number;
  readonly clock?: () => Date;
}

export interface ToolCallContext {
  readonly signal: AbortSignal;
  /** Sent as `Idempotency-Key` to HTTP tools; the same on every attempt of one call. */
  readonly idempotencyKey: string;
  /** Per-call HTTP timeout (default 30 s). */
  readonly timeoutMs?: number;
}

export type ToolInvocationResult =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: ErrorBody; readonly retryable: boolean; readonly retry_after_seconds?: number };
