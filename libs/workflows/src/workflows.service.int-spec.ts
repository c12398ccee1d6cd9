import { JetflowError, type ErrorCode, type Scope, type WorkflowDefinition } from '@jetflow/contracts';
import { createDataSource, runMigrations } from '@jetflow/persistence';
import type { DataSource } from 'typeorm';
import { TestDatabase } from '../../../test/support/postgres';
import type { WorkflowValidation } from './workflow.validator';
import { WorkflowsService } from './workflows.service';

/** Small stand-in for the engine's validator: enough shape checks to exercise the error path. */
function validate(body: unknown): WorkflowValidation {
  const b = body as Partial<WorkflowDefinition> | null;
  const details = [];
  if (!b || typeof b !== 'object') return { ok: false, details: [{ path: '', message: 'body must be an object' }] };
  if (typeof b.name !== 'string' || !b.name) details.push({ path: 'name', message: 'name is required' });
  if (!Array.isArray(b.steps) || b.steps.length === 0) details.push({ path: 'steps', message: 'steps must be a non-empty array' });
  return details.length ? { ok: false, details } : { ok: true, definition: b as WorkflowDefinition };
}

function def(name: string, extra: Partial<WorkflowDefinition> = {}): WorkflowDefinition {
  return {
    name,
    description: `${name} description`,
    steps: [
      { step_id: 'trigger', step_type: 'trigger', parameters: { kind: 'api' }, next_steps: ['t'] },
      { step_id: 't', step_type: 'data_transform', parameters: { mapping: { a: 1 } }, next_steps: [] },
    ],
    ...extra,
  };
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return err instanceof JetflowError ? err.code : `not a JetflowError: ${String(err)}`;
  }
}

describe('WorkflowsService (Postgres)', () => {
  const scope: Scope = { organization_id: 'org-1', project_id: 'proj-1', user_id: 'user-1' };
  const otherOrg: Scope = { organization_id: 'org-2', project_id: 'proj-1' };
  const otherProject: Scope = { organization_id: 'org-1', project_id: 'proj-2' };
  let db: TestDatabase;
  let ds: DataSource;
  let service: WorkflowsService;
  let now: number;

  beforeAll(async () => {
    db = await TestDatabase.create();
    await runMigrations(db.url);
    ds = await createDataSource(db.url).initialize();
    now = Date.parse('2026-01-01T00:00:00.000Z');
    let tick = 0;
    service = new WorkflowsService(ds, validate, () => new Date(now + tick++));
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('creates version 1, active, and reads it back', async () => {
    const created = await service.create(scope, def('support', { timeout_seconds: 60 }));
    expect(created).toMatchObject({ name: 'support', description: 'support description', status: 'active', version: 1, timeout_seconds: 60 });
    expect(created.steps).toHaveLength(2);
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    await expect(service.get(scope, created.id)).resolves.toEqual(created);
  });

  it('rejects an invalid definition with one detail per problem, and validates without saving', async () => {
    try {
      await service.create(scope, { steps: 'nope' });
      throw new Error('expected a validation error');
    } catch (err) {
      expect(err).toBeInstanceOf(JetflowError);
      expect((err as JetflowError).code).toBe('VALIDATION_ERROR');
      expect((err as JetflowError).details.map((d) => d.path)).toEqual(['name', 'steps']);
    }
    expect(await codeOf(service.validate(scope, null))).toBe('VALIDATION_ERROR');
    await expect(service.validate(scope, def('ok'))).resolves.toEqual({ valid: true });
  });

  it('answers NOT_FOUND for unknown, non-uuid and other-scope ids', async () => {
    const wf = await service.create(scope, def('private'));
    expect(await codeOf(service.get(scope, '6f1c2d34-0000-4000-8000-000000000000'))).toBe('NOT_FOUND');
    expect(await codeOf(service.get(scope, 'not-a-uuid'))).toBe('NOT_FOUND');
    for (const s of [otherOrg, otherProject]) {
      expect(await codeOf(service.get(s, wf.id))).toBe('NOT_FOUND');
      expect(await codeOf(service.update(s, wf.id, def('hijack')))).toBe('NOT_FOUND');
      expect(await codeOf(service.archive(s, wf.id))).toBe('NOT_FOUND');
      expect(await codeOf(service.getDefinition(s, wf.id))).toBe('NOT_FOUND');
      expect((await service.list(s, { status: 'all' })).items.map((w) => w.id)).not.toContain(wf.id);
    }
    expect((await service.get(scope, wf.id)).name).toBe('private');
  });

  it('update makes a new version; old versions stay readable; executions pin the current one', async () => {
    const wf = await service.create(scope, def('v1'));
    const v2 = await service.update(scope, wf.id, def('v2', { description: undefined }));
    expect(v2).toMatchObject({ id: wf.id, version: 2, name: 'v2', description: null, created_at: wf.created_at });
    expect(v2.updated_at >= wf.updated_at).toBe(true);
    expect((await service.get(scope, wf.id)).version).toBe(2);
    expect(await service.get(scope, wf.id, 1)).toMatchObject({ version: 1, name: 'v1' });
    expect(await codeOf(service.get(scope, wf.id, 3))).toBe('NOT_FOUND');
    expect(await codeOf(service.get(scope, wf.id, 0))).toBe('VALIDATION_ERROR');
    expect(await codeOf(service.update(scope, wf.id, { name: '' }))).toBe('VALIDATION_ERROR');
    await expect(service.getDefinition(scope, wf.id)).resolves.toMatchObject({ workflow_id: wf.id, version: 2, definition: { name: 'v2' } });
  });

  it('concurrent updates get consecutive versions', async () => {
    const wf = await service.create(scope, def('race'));
    const results = await Promise.all([2, 3, 4, 5].map((n) => service.update(scope, wf.id, def(`race-${n}`))));
    expect(results.map((r) => r.version).sort()).toEqual([2, 3, 4, 5]);
  });

  it('archive: still gettable, no longer editable or executable, idempotent', async () => {
    const wf = await service.create(scope, def('old'));
    const archived = await service.archive(scope, wf.id);
    expect(archived).toMatchObject({ id: wf.id, status: 'archived', version: 1 });
    await expect(service.archive(scope, wf.id)).resolves.toMatchObject({ status: 'archived' });
    expect((await service.get(scope, wf.id)).status).toBe('archived');
    expect(await codeOf(service.update(scope, wf.id, def('new')))).toBe('CONFLICT');
    expect(await codeOf(service.getDefinition(scope, wf.id))).toBe('CONFLICT');
  });

  it('lists newest first with cursor pagination, status filters and limit rules', async () => {
    const listScope: Scope = { organization_id: 'org-list', project_id: 'p' };
    const created = [];
    for (let i = 0; i < 7; i++) created.push(await service.create(listScope, def(`wf-${i}`)));
    await service.archive(listScope, created[3]!.id);
    await service.create(scope, def('noise'));

    const all = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await service.list(listScope, { limit: 2, cursor, status: 'all' });
      expect(page.items.length).toBeLessThanOrEqual(2);
      all.push(...page.items);
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect(all.map((w) => w.name)).toEqual(['wf-6', 'wf-5', 'wf-4', 'wf-3', 'wf-2', 'wf-1', 'wf-0']);

    const active = await service.list(listScope, {});
    expect(active.items.map((w) => w.name)).toEqual(['wf-6', 'wf-5', 'wf-4', 'wf-2', 'wf-1', 'wf-0']);
    expect(active.next_cursor).toBeNull();
    expect((await service.list(listScope, { status: 'archived' })).items.map((w) => w.name)).toEqual(['wf-3']);
    expect((await service.list(listScope, { limit: 6 })).next_cursor).toBeNull();

    expect(await codeOf(service.list(listScope, { limit: 0 }))).toBe('VALIDATION_ERROR');
    expect(await codeOf(service.list(listScope, { limit: 501 }))).toBe('VALIDATION_ERROR');
    expect(await codeOf(service.list(listScope, { cursor: 'garbage' }))).toBe('VALIDATION_ERROR');
    expect(await codeOf(service.list(listScope, { status: 'deleted' }))).toBe('VALIDATION_ERROR');
    expect((await service.list(listScope, { limit: 500 })).items).toHaveLength(6);
  });

  it('pages through workflows created in the same millisecond exactly once (ties ordered by id)', async () => {
    const frozen = new WorkflowsService(ds, validate, () => new Date(now + 10_000));
    const tieScope: Scope = { organization_id: 'org-tie', project_id: 'p' };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await frozen.create(tieScope, def(`tie-${i}`))).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await frozen.list(tieScope, { limit: 2, cursor });
      seen.push(...page.items.map((w) => w.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...ids].sort().reverse());
  });
});
