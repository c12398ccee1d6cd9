import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The recovery sweep pages through runs that are not finished, by `updated_at`: a partial index holds
 * only those (finished runs leave it), so a sweep no longer reads the whole `executions` table.
 */
export class ActiveExecutionsIndex1767657600000 implements MigrationInterface {
  name = 'ActiveExecutionsIndex1767657600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX executions_active_updated_idx ON executions (updated_at, id) WHERE status IN ('pending', 'running', 'waiting')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS executions_active_updated_idx`);
  }
}
