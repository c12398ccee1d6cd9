import type { ErrorCode } from '@jetflow/contracts';

/** The one table from domain error codes to HTTP statuses. */
const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  APPROVAL_REJECTED: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMIT: 429,
  INTERNAL: 500,
  AGENT_ERROR: 502,
  TOOL_ERROR: 502,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
};

export function httpStatusForCode(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/**
 * Code for a framework-level HTTP error (unknown route, unparsable body, ...). Every 4xx the
 * framework raises is about the request, so it carries a client code; 415 stays 415 with
 * `VALIDATION_ERROR` as DESIGN.md has no code of its own for it.
 */
export function codeForHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'FORBIDDEN';
    case 404:
    case 405:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 429:
      return 'RATE_LIMIT';
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'TIMEOUT';
    default:
      return status >= 400 && status < 500 ? 'VALIDATION_ERROR' : 'INTERNAL';
  }
}
