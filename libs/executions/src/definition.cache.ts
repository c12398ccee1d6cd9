import type { Scope } from '@jetflow/contracts';
import type { PinnedDefinition } from './executions.service';

export interface DefinitionCacheOptions {
  /** Most definitions kept (LRU). */
  readonly maxEntries?: number;
  /**
   * Longest time a cached definition is served without asking the workflows service again. Changes
   * are pushed (see {@link DefinitionCache.invalidate}); this only bounds staleness if a change
   * notice is lost (a NATS disconnect at that moment).
   */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

interface Cached {
  readonly pinned: Promise<PinnedDefinition>;
  readonly at: number;
}

/**
 * The current definition of each workflow, per scope, in front of the workflows service: starting
 * an execution of a hot workflow costs no request and no query. The workflows service publishes a
 * change notice after every update or archive, before it answers; `invalidate` drops the entry,
 * so an execute sent after an update returned sees the new version. Failures (not found, archived)
 * are never cached; concurrent misses share one request.
 */
export class DefinitionCache {
  private readonly entries = new Map<string, Cached>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly fetch: (scope: Scope, workflowId: string) => Promise<PinnedDefinition>,
    opts: DefinitionCacheOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? 1_000;
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  get(scope: Scope, workflowId: string): Promise<PinnedDefinition> {
    const key = `${scope.organization_id}\n${scope.project_id}\n${workflowId}`;
    const hit = this.entries.get(key);
    const now = this.now();
    if (hit && now - hit.at < this.ttlMs) return hit.pinned;
    const pinned = this.fetch(scope, workflowId);
    const entry = { pinned, at: now };
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    // An invalidation while the request is in flight already removed the entry (callers that
    // asked before it still get that answer, as they would have without a cache).
    pinned.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return pinned;
  }

  /** Forgets every cached definition of `workflowId` (all scopes: ids are globally unique). */
  invalidate(workflowId: string): void {
    const suffix = `\n${workflowId}`;
    for (const key of this.entries.keys()) if (key.endsWith(suffix)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
