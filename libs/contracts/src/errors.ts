/** Stable error codes: the guide's plus DESIGN.md's. Only the gateway maps them to HTTP. */
export const ERROR_CODES = [
  'VALIDATION_ERROR',
  'AGENT_ERROR',
  'TOOL_ERROR',
  'TIMEOUT',
  'APPROVAL_REJECTED',
  'RATE_LIMIT',
  'NOT_FOUND',
  'CONFLICT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem found in a request or definition (`details[]` of the error body). */
export interface ErrorDetail {
  readonly path?: string;
  readonly step_id?: string;
  readonly message: string;
  readonly code?: string;
}

/** A domain error with a stable code. Thrown by libs; mapped to HTTP by the gateway only. */
export class JetflowError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'JetflowError';
  }
}

/** Plain form of an error as it travels over NATS and lands in events. */
export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: readonly ErrorDetail[];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** The one place where `unknown` becomes an ErrorBody. */
export function toErrorBody(err: unknown, fallback: ErrorCode = 'INTERNAL'): ErrorBody {
  if (err instanceof JetflowError) {
    return err.details.length ? { code: err.code, message: err.message, details: err.details } : { code: err.code, message: err.message };
  }
  if (err && typeof err === 'object' && isErrorCode((err as { code?: unknown }).code)) {
    const e = err as { code: ErrorCode; message?: unknown; details?: ErrorDetail[] };
    return { code: e.code, message: String(e.message ?? e.code), ...(e.details ? { details: e.details } : {}) };
  }
  if (err instanceof Error) return { code: fallback, message: err.message };
  return { code: fallback, message: String(err) };
}

export function fromErrorBody(body: ErrorBody): JetflowError {
  return new JetflowError(body.code, body.message, body.details ?? []);
}
