import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { JetflowError, type Scope } from '@jetflow/contracts';
import { createDataSource, runMigrations } from '@jetflow/persistence';
import { TestDatabase } from '../../../test/support/postgres';
import type { ProjectionEntry } from './execution-patch';
import { ExecutionsProjection } from './executions.projection';
import { ExecutionsQuery } from './executions.query';
import { completed, started } from './testing/execution-events.fixture';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return err instanceof JetflowError ? err.code : String(err);
  }
}

describe('ExecutionsQuery (Postgres)', () => {
  const scope: Scope = { organization_id: 'o', project_id: 'p' };
  const wfA = randomUUID();
  const wfB = randomUUID();
  let db: TestDatabase;
  let ds: DataSource;
  let query: ExecutionsQuery;
  // 9 runs: i = 0..8, started one second apart except 4 and 5, which share a timestamp.
  const ids = Array.from({ length: 9 }, () => randomUUID());
  const at = (i: number) => new Date(Date.parse('2026-04-01T00:00:00.000Z') + (i === 5 ? 4 : i) * 1000).toISOString();

  beforeAll(async () => {
    db = await TestDatabase.create();
    await runMigrations(db.url);
    ds = await createDataSource(db.url).initialize();
    query = new ExecutionsQuery(ds);
    const entries: ProjectionEntry[] = [];
    let seq = 0;
    ids.forEach((id, i) => {
      entries.push({ seq: ++seq, executionId: id, events: [started({ execution_id: id, workflow_id: i % 2 ? wfB : wfA, scope, at: at(i) })] });
      if (i % 3 === 0) entries.push({ seq: ++seq, executionId: id, events: [completed('completed', at(i))] });
    });
    const stranger = randomUUID();
    entries.push({ seq: ++seq, executionId: stranger, events: [started({ execution_id: stranger, workflow_id: wfA, scope: { organization_id: 'x', project_id: 'p' }, at: at(9) })] });
    await ds.transaction((m) => new ExecutionsProjection().apply(m, entries));
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const newestFirst = (idx: number[]) =>
    idx
      .map((i) => ({ id: ids[i]!, at: at(i) }))
      .sort((x, y) => (x.at === y.at ? (x.id < y.id ? 1 : -1) : x.at < y.at ? 1 : -1))
      .map((x) => x.id);

  async function all(q: { workflow_id?: string; status?: string; limit: number }): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await query.list(scope, { ...q, cursor });
      expect(page.items.length).toBeLessThanOrEqual(q.limit);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return seen;
  }

  it('pages newest first by (started_at, id), each run exactly once', async () => {
    const everyone = newestFirst([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await all({ limit: 2 })).toEqual(everyone);
    expect(await all({ limit: 4 })).toEqual(everyone);
    const page = await query.list(scope, {});
    expect(page.items.map((i) => i.id)).toEqual(everyone);
    expect(page.next_cursor).toBeNull();
    expect(page.items[0]).toEqual({
      id: ids[8],
      workflow_id: wfA,
      workflow_version: 1,
      status: 'running',
      started_at: at(8),
      completed_at: null,
      updated_at: at(8),
    });
  });

  it('filters by workflow and status, together and with the cursor', async () => {
    expect(await all({ limit: 2, workflow_id: wfB })).toEqual(newestFirst([1, 3, 5, 7]));
    expect(await all({ limit: 2, status: 'completed' })).toEqual(newestFirst([0, 3, 6]));
    expect(await all({ limit: 1, status: 'completed', workflow_id: wfA })).toEqual(newestFirst([0, 6]));
    expect(await all({ limit: 5, status: 'waiting' })).toEqual([]);
    expect((await query.list(scope, { workflow_id: 'not-a-uuid' })).items).toEqual([]);
    expect((await query.list({ organization_id: 'o', project_id: 'other' }, {})).items).toEqual([]);
  });

  it('pages through the unfinished runs of every scope for the recovery sweep, oldest update first, each once', async () => {
    const stranger = (await ds.query(`SELECT id FROM executions WHERE organization_id = 'x'`))[0].id as string;
    const oldestFirst: string[] = [...newestFirst([1, 2, 4, 5, 7, 8]).reverse(), stranger];
    async function sweep(limit: number, since?: Date): Promise<string[]> {
      const seen: string[] = [];
      let after: { id: string; updated_at: string } | undefined;
      for (;;) {
        const page = await query.activeRuns({ limit, ...(since ? { since } : {}), ...(after ? { after } : {}) });
        seen.push(...page.map((r) => r.id));
        if (page.length < limit) return seen;
        after = page[page.length - 1];
      }
    }
    expect(await sweep(100)).toEqual(oldestFirst);
    const first = (await query.activeRuns({ limit: 1 }))[0]!;
    expect(first).toEqual({ id: oldestFirst[0], updated_at: expect.stringMatching(/^2026-04-01 00:00:01(\.0+)?\+00$/), last_seq: expect.any(Number) });
    expect(first.last_seq).toBeGreaterThan(0);
    expect(await sweep(1)).toEqual(oldestFirst);
    expect(await sweep(2)).toEqual(oldestFirst);
    // A recent pass: only runs updated at or after `since` (runs 4 and 5 share a timestamp).
    expect(await sweep(2, new Date(at(5)))).toEqual(oldestFirst.slice(2));

    // Updates microseconds apart: a page resumes exactly after the last one (no repeat, no loop).
    const [a, b] = [ids[1]!, ids[2]!];
    await ds.query(`UPDATE executions SET updated_at = '2026-03-01 00:00:00.000001+00' WHERE id = $1`, [b]);
    await ds.query(`UPDATE executions SET updated_at = '2026-03-01 00:00:00.000002+00' WHERE id = $1`, [a]);
    expect((await sweep(1)).slice(0, 3)).toEqual([b, a, oldestFirst[2]]);
    // A run updated in the last 2 seconds is left to the step in flight.
    await ds.query(`UPDATE executions SET updated_at = now() WHERE id = $1`, [a]);
    expect(await sweep(3)).not.toContain(a);
    await ds.query(`UPDATE executions SET updated_at = $2 WHERE id = ANY($1)`, [[a, b], at(1)]);
    await ds.query(`UPDATE executions SET updated_at = $2 WHERE id = $1`, [b, at(2)]);
  });

  it('rejects bad status, limit and cursor with VALIDATION_ERROR', async () => {
    expect(await codeOf(query.list(scope, { status: 'exploded' }))).toBe('VALIDATION_ERROR');
    expect(await codeOf(query.list(scope, { limit: 0 }))).toBe('VALIDATION_ERROR');
    expect(await codeOf(query.list(scope, { limit: 501 }))).toBe('VALIDATION_ERROR');
    expect(await codeOf(query.list(scope, { cursor: 'bm9wZQ' }))).toBe('VALIDATION_ERROR');
  });
});
