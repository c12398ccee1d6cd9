import { JetflowError } from '@jetflow/contracts';
import { MAX_SCOPE_HEADER_LENGTH, scopeFromHeaders, SCOPE_HEADERS } from './request-auth';

const headers = (overrides: Partial<Record<keyof typeof SCOPE_HEADERS, string>> = {}) => ({
  [SCOPE_HEADERS.organization_id]: overrides.organization_id ?? 'org-1',
  [SCOPE_HEADERS.project_id]: overrides.project_id ?? 'proj-1',
  [SCOPE_HEADERS.user_id]: overrides.user_id ?? 'user-1',
});

function errorOf(fn: () => unknown): JetflowError {
  try {
    fn();
  } catch (err) {
    if (err instanceof JetflowError) return err;
    throw err;
  }
  throw new Error('expected a JetflowError');
}

describe('scopeFromHeaders', () => {
  it('reads the three headers, trimmed, up to the length limit', () => {
    expect(scopeFromHeaders(headers({ organization_id: '  org-1 ' }))).toEqual({ organization_id: 'org-1', project_id: 'proj-1', user_id: 'user-1' });
    const longest = 'o'.repeat(MAX_SCOPE_HEADER_LENGTH);
    expect(scopeFromHeaders(headers({ organization_id: longest, user_id: 'ü-user' })).organization_id).toBe(longest);
  });

  it('names every missing header', () => {
    const err = errorOf(() => scopeFromHeaders({ [SCOPE_HEADERS.organization_id]: 'org' }));
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.details.map((d) => d.path)).toEqual(['headers.X-elevAIte-ProjectId', 'headers.X-elevAIte-UserId']);
  });

  it(`refuses a header longer than ${MAX_SCOPE_HEADER_LENGTH} characters, naming it`, () => {
    const err = errorOf(() => scopeFromHeaders(headers({ organization_id: 'o'.repeat(4000) })));
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.message).toContain('X-elevAIte-OrganizationId');
    expect(err.details).toEqual([{ path: 'headers.X-elevAIte-OrganizationId', message: `at most ${MAX_SCOPE_HEADER_LENGTH} characters` }]);
    expect(errorOf(() => scopeFromHeaders(headers({ user_id: 'u'.repeat(MAX_SCOPE_HEADER_LENGTH + 1) }))).details[0]!.path).toBe('headers.X-elevAIte-UserId');
  });

  it('refuses control characters, naming each header', () => {
    for (const bad of ['a\u0000b', 'a\tb', 'a\u007fb', 'a\u0085b']) {
      const err = errorOf(() => scopeFromHeaders(headers({ project_id: bad })));
      expect(err.code).toBe('VALIDATION_ERROR');
      expect(err.details).toEqual([{ path: 'headers.X-elevAIte-ProjectId', message: 'control characters are not allowed' }]);
    }
    const both = errorOf(() => scopeFromHeaders(headers({ organization_id: 'x'.repeat(300), user_id: 'u\u0001' })));
    expect(both.details.map((d) => d.path)).toEqual(['headers.X-elevAIte-OrganizationId', 'headers.X-elevAIte-UserId']);
  });
});
