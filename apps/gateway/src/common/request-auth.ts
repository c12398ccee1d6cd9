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

function single(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
}

/** The caller's scope from the three headers; every missing one is named in one error. */
export function scopeFromHeaders(headers: Headers): Scope {
  const values = {
    organization_id: single(headers[SCOPE_HEADERS.organization_id]),
    project_id: single(headers[SCOPE_HEADERS.project_id]),
    user_id: single(headers[SCOPE_HEADERS.user_id]),
  };
  const missing = (Object.keys(values) as (keyof typeof values)[]).filter((k) => values[k] === '');
  if (missing.length > 0) {
    throw new JetflowError(
      'VALIDATION_ERROR',
      `Missing scope header${missing.length > 1 ? 's' : ''}: ${missing.map((k) => HEADER_NAMES[k]).join(', ')}`,
      missing.map((k) => ({ path: `headers.${HEADER_NAMES[k]}`, message: 'required' })),
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
