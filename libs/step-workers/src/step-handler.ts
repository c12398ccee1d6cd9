import type { ErrorBody, StepTask, StepType, StreamEvent } from '@jetflow/contracts';
import type { OutboundPolicy, ToolsDeps } from '@jetflow/tools';

/** `journal`: stream-only events not appended yet; they travel with the result and are appended with the decision. */
export type HandlerOutcome =
  | { readonly ok: true; readonly output: unknown; readonly journal?: readonly StreamEvent[] }
  | { readonly ok: false; readonly error: ErrorBody; readonly retryable: boolean; readonly retry_after_seconds?: number; readonly journal?: readonly StreamEvent[] };

export interface HandlerContext {
  readonly signal: AbortSignal;
  /** Named secrets from config, for `{{secrets.NAME}}`; never logged nor returned. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly allowPrivateNetworks: boolean;
  /** Outbound policy for api_call (private ranges per `allowPrivateNetworks`, host lists from config). */
  readonly outbound?: OutboundPolicy;
  /** Tool registry access (built-ins + the scope's user tools), for tool_call and agents. */
  readonly tools?: ToolsDeps;
  /** Appends stream-only events (tool calls/results, deltas) to the execution's `deltas` subject. */
  readonly stream?: StreamAppender;
  readonly maxResponseBytes?: number;
  readonly clock?: () => Date;
}

/** The part of the event store handlers may use: stream-only appends. */
export interface StreamAppender {
  appendStream(executionId: string, events: readonly StreamEvent[]): Promise<unknown>;
}

/** Performs one worker step attempt. Throwing counts as a retryable failure. */
export type StepHandler = (task: StepTask, ctx: HandlerContext) => Promise<HandlerOutcome>;

export type StepHandlers = Partial<Record<StepType, StepHandler>>;

export function terminal(code: ErrorBody['code'], message: string): HandlerOutcome {
  return { ok: false, error: { code, message }, retryable: false };
}

export function retryable(code: ErrorBody['code'], message: string, retry_after_seconds?: number): HandlerOutcome {
  return { ok: false, error: { code, message }, retryable: true, ...(retry_after_seconds !== undefined ? { retry_after_seconds } : {}) };
}
