import { timingSafeEqual } from 'node:crypto';
import { JetflowError, type Scope } from '@jetflow/contracts';
import type { Config } from '@jetflow/config';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export const SCOPE_HEADERS = {
  organization_id: 'x-elevaite-organizationid',
  project_id: 'x-elevaite-projectid',
  user_id: 'x-elevaite-userid',
} as const;
const HEADER_NAMES: Readonly<Record<keyof typeof SCOPE_HEADERS, string>> = {
  organization_id: 'X-elevAIte-OrganizationId',
  project_id: 'X-elevAIte-ProjectId',
  user_id: 'X-elevAIte-UserId',
};

/** Longest organization, project or user id a request may carry. */
export const MAX_SCOPE_HEADER_LENGTH = 255;
/** C0 controls, DEL and C1 controls (header bytes 0x80-0x9f arrive as U+0080-U+009F). */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

function single(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
}

/**
 * The caller's scope from the three headers; every missing one is named in one error, then every
 * one longer than {@link MAX_SCOPE_HEADER_LENGTH} or holding a control character.
 */
export function scopeFromHeaders(headers: Headers): Scope {
  const values = {
    organization_id: single(headers[SCOPE_HEADERS.organization_id]),
    project_id: single(headers[SCOPE_HEADERS.project_id]),
    user_id: single(headers[SCOPE_HEADERS.user_id]),
  };
  const keys = Object.keys(values) as (keyof typeof values)[];
  const missing = keys.filter((k) => values[k] === '');
  if (missing.length > 0) {
    throw new JetflowError(
      'VALIDATION_ERROR',
      `Missing scope header${missing.length > 1 ? 's' : ''}: ${missing.map((k) => HEADER_NAMES[k]).join(', ')}`,
      missing.map((k) => ({ path: `headers.${HEADER_NAMES[k]}`, message: 'required' })),
    );
  }
  // Stored in indexed PostgreSQL columns (a btree entry has a size limit) and written into logs.
  const invalid = keys.filter((k) => values[k].length > MAX_SCOPE_HEADER_LENGTH || CONTROL_CHARACTER.test(values[k]));
  if (invalid.length > 0) {
    throw new JetflowError(
      'VALIDATION_ERROR',
      `Invalid scope header${invalid.length > 1 ? 's' : ''}: ${invalid.map((k) => HEADER_NAMES[k]).join(', ')} (at most ${MAX_SCOPE_HEADER_LENGTH} characters, no control characters)`,
      invalid.map((k) => ({
        path: `headers.${HEADER_NAMES[k]}`,
        message: values[k].length > MAX_SCOPE_HEADER_LENGTH ? `at most ${MAX_SCOPE_HEADER_LENGTH} characters` : 'control characters are not allowed',
      })),
    );
  }
  return values;
}

/** `Authorization: Bearer <t>`, else `?access_token=` (browsers' EventSource cannot set headers). */
export function bearerToken(headers: Headers, query: unknown): string | null {
  const auth = single(headers['authorization']);
  const match = /^Bearer\s+(\S+)$/i.exec(auth);
  if (match) return match[1];
  const fromQuery = query && typeof query === 'object' ? (query as Record<string, unknown>).access_token : undefined;
  return typeof fromQuery === 'string' && fromQuery !== '' ? fromQuery : null;
}

/** `dev` lets everything in; `token` wants one of the configured tokens. */
export function checkAuth(config: Pick<Config, 'authMode' | 'authTokens'>, token: string | null): void {
  if (config.authMode === 'dev') return;
  if (token === null) throw new JetflowError('UNAUTHORIZED', 'Missing bearer token');
  const given = Buffer.from(token);
  const ok = config.authTokens.some((t) => {
    const known = Buffer.from(t);
    return known.length === given.length && timingSafeEqual(known, given);
  });
  if (!ok) throw new JetflowError('UNAUTHORIZED', 'Invalid bearer token');
}
