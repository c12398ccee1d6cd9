import { TestDatabase } from '../../../test/support/postgres';
import { createDataSource } from './data-source.factory';
import { runMigrations } from './migrations.runner';
import { MIGRATIONS } from './migrations/all-migrations';

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await TestDatabase.create();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('apply on a fresh database from several callers at once, then are a no-op', async () => {
    await Promise.all([runMigrations(db.url), runMigrations(db.url), runMigrations(db.url)]);
    await runMigrations(db.url);

    const ds = await createDataSource(db.url).initialize();
    try {
      const tables: { table_name: string }[] = await ds.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      // Every migration adds tables; these are the ones each service relies on.
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['approval_executions', 'approvals', 'executions', 'jetflow_migrations', 'projection_checkpoints', 'workflow_versions', 'workflows']),
      );
      const applied: unknown[] = await ds.query(`SELECT name FROM jetflow_migrations`);
      expect(applied).toHaveLength(MIGRATIONS.length);
      expect(await ds.showMigrations()).toBe(false);
    } finally {
      await ds.destroy();
    }
  });

  it('can put every table in a schema of its own', async () => {
    await Promise.all([runMigrations(db.url, { schema: 'tenant_a' }), runMigrations(db.url, { schema: 'tenant_a' })]);
    const ds = await createDataSource(db.url, { schema: 'tenant_a' }).initialize();
    try {
      const count = async (schema: string) => Number((await ds.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1`, [schema]))[0].n);
      expect(await count('tenant_a')).toBe(await count('public'));
      expect(await count('tenant_a')).toBeGreaterThanOrEqual(7);
      await expect(ds.getRepository('WorkflowEntity').count()).resolves.toBe(0);
    } finally {
      await ds.destroy();
    }
  });
});
