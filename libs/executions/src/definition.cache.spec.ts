import { JetflowError, type Scope } from '@jetflow/contracts';
import { DefinitionCache } from './definition.cache';
import type { PinnedDefinition } from './executions.service';

describe('DefinitionCache', () => {
  const scope: Scope = { organization_id: 'o1', project_id: 'p1' };
  const other: Scope = { organization_id: 'o2', project_id: 'p1' };
  let version = 1;
  let calls: string[] = [];
  let clock = 0;
  const fetch = async (s: Scope, id: string): Promise<PinnedDefinition> => {
    calls.push(`${s.organization_id}/${id}`);
    if (id === 'missing') throw new JetflowError('NOT_FOUND', 'workflow missing not found');
    return { workflow_id: id, version, definition: { name: 'w', steps: [] } };
  };
  beforeEach(() => {
    version = 1;
    calls = [];
    clock = 0;
  });

  it('asks once per workflow and scope, and shares a request in flight', async () => {
    const cache = new DefinitionCache(fetch, { now: () => clock });
    const [a, b] = await Promise.all([cache.get(scope, 'w1'), cache.get(scope, 'w1')]);
    expect(a).toBe(b);
    await cache.get(scope, 'w1');
    await cache.get(other, 'w1');
    expect(calls).toEqual(['o1/w1', 'o2/w1']);
  });

  it('asks again after an invalidation (every scope) or once the TTL has passed', async () => {
    const cache = new DefinitionCache(fetch, { now: () => clock, ttlMs: 1000 });
    await cache.get(scope, 'w1');
    await cache.get(other, 'w1');
    version = 2;
    cache.invalidate('w1');
    expect((await cache.get(scope, 'w1')).version).toBe(2);
    expect((await cache.get(other, 'w1')).version).toBe(2);
    version = 3;
    clock = 999;
    expect((await cache.get(scope, 'w1')).version).toBe(2);
    clock = 1000;
    expect((await cache.get(scope, 'w1')).version).toBe(3);
  });

  it('never keeps a failure', async () => {
    const cache = new DefinitionCache(fetch, { now: () => clock });
    await expect(cache.get(scope, 'missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(cache.get(scope, 'missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(calls).toEqual(['o1/missing', 'o1/missing']);
  });

  it('keeps at most maxEntries, dropping the least recently fetched', async () => {
    const cache = new DefinitionCache(fetch, { now: () => clock, maxEntries: 2 });
    for (const id of ['a', 'b', 'c', 'a']) await cache.get(scope, id);
    expect(calls).toEqual(['o1/a', 'o1/b', 'o1/c', 'o1/a']);
  });
});
