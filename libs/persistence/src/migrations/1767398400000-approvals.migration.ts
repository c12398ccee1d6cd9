import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The approvals service's tables: approvals (projection + decisions) and per-execution facts. */
export class Approvals1767398400000 implements MigrationInterface {
  name = 'Approvals1767398400000';

  async up(q: QueryRunner): Promise<void> {
    // Facts the approvals projection needs from a run's first and last events (scope, workflow,
    // how it ended). Either may land first when replicas apply batches out of order.
    await q.query(`
      CREATE TABLE approval_executions (
        execution_id uuid PRIMARY KEY,
        organization_id text,
        project_id text,
        workflow_id text,
        ended_status text,
        ended_seq bigint,
        ended_at timestamptz,
        last_seq bigint NOT NULL DEFAULT 0
      )`);

    // Scope and created_at stay null while only a resolution has been applied (out-of-order
    // replicas); such rows are invisible to scoped reads until StepWaiting lands.
    await q.query(`
      CREATE TABLE approvals (
        id uuid PRIMARY KEY,
        organization_id text,
        project_id text,
        execution_id uuid NOT NULL,
        workflow_id text,
        step_id text NOT NULL,
        iteration jsonb NOT NULL DEFAULT '[]',
        attempt integer NOT NULL,
        approvers jsonb NOT NULL DEFAULT '[]',
        message text,
        status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
        comment text,
        decided_by text,
        decided_at timestamptz,
        expires_at timestamptz,
        created_at timestamptz,
        updated_at timestamptz,
        delivered boolean NOT NULL DEFAULT false,
        resolved_seq bigint,
        last_seq bigint NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX approvals_scope_created_idx ON approvals (organization_id, project_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX approvals_scope_status_created_idx ON approvals (organization_id, project_id, status, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX approvals_execution_idx ON approvals (execution_id)`);
    // The redelivery loop's work list: decided, not yet taken by the actor.
    await q.query(`CREATE INDEX approvals_undelivered_idx ON approvals (decided_at) WHERE NOT delivered AND status IN ('approved', 'rejected')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS approvals`);
    await q.query(`DROP TABLE IF EXISTS approval_executions`);
  }
}
