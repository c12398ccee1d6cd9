import { SecretsByScope } from './scoped-secrets';

describe('SecretsByScope', () => {
  const scope = (organization_id: string, project_id: string) => ({ organization_id, project_id });

  it('gives a run the shared secrets, its organization\'s and its project\'s, the narrower winning', () => {
    const secrets = new SecretsByScope(
      { SHARED: 's', TOKEN: 'shared-token' },
      { 'org-a/*': { TOKEN: 'org-token', ORG: 'o' }, 'org-a/p1': { TOKEN: 'p1-token' }, 'org-b/p9': { ONLY_B: 'b' } },
    );
    expect(secrets.for(scope('org-a', 'p1'))).toEqual({ SHARED: 's', TOKEN: 'p1-token', ORG: 'o' });
    expect(secrets.for(scope('org-a', 'p2'))).toEqual({ SHARED: 's', TOKEN: 'org-token', ORG: 'o' });
    // Another organization sees none of them, and no project of org-a sees org-b's.
    expect(secrets.for(scope('org-c', 'p1'))).toEqual({ SHARED: 's', TOKEN: 'shared-token' });
    expect(secrets.for(scope('org-a', 'p9'))).not.toHaveProperty('ONLY_B');
    // Merged once per scope.
    expect(secrets.for(scope('org-a', 'p1'))).toBe(secrets.for(scope('org-a', 'p1')));
  });

  it('without scoped secrets every scope gets the shared object itself', () => {
    const shared = { A: '1' };
    const secrets = new SecretsByScope(shared, {});
    expect(secrets.scoped).toBe(false);
    expect(secrets.for(scope('x', 'y'))).toBe(shared);
  });

  it('a scope key cannot be reached through prototype names', () => {
    const secrets = new SecretsByScope({}, { 'org/p': { A: '1' } });
    expect(secrets.for(scope('__proto__', 'x'))).toEqual({});
    expect(secrets.for(scope('constructor', 'p'))).toEqual({});
  });
});
