import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Workflows (versioned), the executions read model and projection checkpoints. */
export class InitialSchema1767225600000 implements MigrationInterface {
  name = 'InitialSchema1767225600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE workflows (
        id uuid PRIMARY KEY,
        organization_id text NOT NULL,
        project_id text NOT NULL,
        name text NOT NULL,
        description text,
        status text NOT NULL CHECK (status IN ('active', 'archived')),
        current_version integer NOT NULL CHECK (current_version >= 1),
        created_by text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    // Lists are scoped and newest first, optionally by status: keyset pagination on (created_at, id).
    await q.query(`CREATE INDEX workflows_scope_created_idx ON workflows (organization_id, project_id, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX workflows_scope_status_created_idx ON workflows (organization_id, project_id, status, created_at DESC, id DESC)`,
    );

    await q.query(`
      CREATE TABLE workflow_versions (
        workflow_id uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        definition jsonb NOT NULL,
        created_by text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (workflow_id, version)
      )`);

    // Scope/workflow columns stay null until ExecutionStarted is applied (out-of-order replicas).
    await q.query(`
      CREATE TABLE executions (
        id uuid PRIMARY KEY,
        organization_id text,
        project_id text,
        workflow_id uuid,
        workflow_version integer,
        status text,
        status_seq bigint NOT NULL DEFAULT 0,
        started_at timestamptz,
        completed_at timestamptz,
        updated_at timestamptz,
        error_code text,
        last_seq bigint NOT NULL
      )`);
    await q.query(`CREATE INDEX executions_scope_started_idx ON executions (organization_id, project_id, started_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX executions_scope_workflow_started_idx ON executions (organization_id, project_id, workflow_id, started_at DESC, id DESC)`,
    );
    await q.query(
      `CREATE INDEX executions_scope_status_started_idx ON executions (organization_id, project_id, status, started_at DESC, id DESC)`,
    );

    await q.query(`
      CREATE TABLE projection_checkpoints (
        name text PRIMARY KEY,
        seq bigint NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS projection_checkpoints`);
    await q.query(`DROP TABLE IF EXISTS executions`);
    await q.query(`DROP TABLE IF EXISTS workflow_versions`);
    await q.query(`DROP TABLE IF EXISTS workflows`);
  }
}
