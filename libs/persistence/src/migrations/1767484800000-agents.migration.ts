import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Agents (prompt, model, tools, provider settings) per organization/project. */
export class Agents1767484800000 implements MigrationInterface {
  name = 'Agents1767484800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE agents (
        id uuid PRIMARY KEY,
        organization_id text NOT NULL,
        project_id text NOT NULL,
        name text NOT NULL,
        settings jsonb NOT NULL,
        created_by text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    // Scoped lists, newest first: keyset pagination on (created_at, id).
    await q.query(`CREATE INDEX agents_scope_created_idx ON agents (organization_id, project_id, created_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS agents`);
  }
}
