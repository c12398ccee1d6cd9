import type { MigrationInterface, QueryRunner } from 'typeorm';

/** User tools (tool_call / agents), scoped per organization/project, unique by name there. */
export class Tools1767571200000 implements MigrationInterface {
  name = 'Tools1767571200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tools (
        id uuid PRIMARY KEY,
        organization_id text NOT NULL,
        project_id text NOT NULL,
        name text NOT NULL,
        description text NOT NULL,
        input_schema jsonb NOT NULL,
        endpoint jsonb NOT NULL,
        created_by text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT tools_scope_name_key UNIQUE (organization_id, project_id, name)
      )`);
    await q.query(`CREATE INDEX tools_scope_created_idx ON tools (organization_id, project_id, created_at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS tools`);
  }
}
