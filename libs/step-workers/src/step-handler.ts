import type { ErrorBody, StepTask, StepType } from '@jetflow/contracts';

export type HandlerOutcome =
  | { readonly ok: true; readonly output: unknown }
  | { readonly ok: false; readonly error: ErrorBody; readonly retryable: boolean; readonly retry_after_seconds?: number };

export interface HandlerContext {
  readonly signal: AbortSignal;
  /** Named secrets from config, for `{{secrets.NAME}}`; never logged nor returned. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly allowPrivateNetworks: boolean;
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
