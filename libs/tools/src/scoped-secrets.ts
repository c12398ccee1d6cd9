import type { Scope } from '@jetflow/contracts';

/** `<organization>/<project>` or `<organization>/*` → (name → value) (config `SCOPED_SECRETS`). */
export type ScopedSecrets = Readonly<Record<string, Readonly<Record<string, string>>>>;

const NONE: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The secrets a run may name, by its scope: the installation's shared ones (`SECRETS`), then its
 * organization's (`<org>/*`), then its project's (`<org>/<project>`); a later one wins on the same
 * name. Another scope's secrets are unknown names to it. Merged once per scope.
 */
export class SecretsByScope {
  private readonly merged = new Map<string, Readonly<Record<string, string>>>();
  /** True when some secrets are scoped (otherwise every scope sees `shared`). */
  readonly scoped: boolean;

  constructor(
    private readonly shared: Readonly<Record<string, string>> = NONE,
    private readonly byScope: ScopedSecrets = {},
  ) {
    this.scoped = Object.keys(byScope).length > 0;
  }

  for(scope: Pick<Scope, 'organization_id' | 'project_id'>): Readonly<Record<string, string>> {
    if (!this.scoped) return this.shared;
    const key = `${scope.organization_id}/${scope.project_id}`;
    let secrets = this.merged.get(key);
    if (!secrets) {
      const org = Object.hasOwn(this.byScope, `${scope.organization_id}/*`) ? this.byScope[`${scope.organization_id}/*`] : undefined;
      const project = Object.hasOwn(this.byScope, key) ? this.byScope[key] : undefined;
      secrets = Object.freeze({ ...this.shared, ...org, ...project });
      this.merged.set(key, secrets);
    }
    return secrets;
  }
}
