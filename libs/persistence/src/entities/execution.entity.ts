import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/**
 * Executions read model (a projection of the JetStream log). Scope and workflow columns are null
 * while only later events of a run have been applied (replicas may apply out of order); such rows
 * are invisible to scoped queries until `ExecutionStarted` lands.
 */
@Entity({ name: 'executions' })
export class ExecutionEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text', name: 'organization_id', nullable: true })
  organizationId!: string | null;

  @Column({ type: 'text', name: 'project_id', nullable: true })
  projectId!: string | null;

  @Column({ type: 'uuid', name: 'workflow_id', nullable: true })
  workflowId!: string | null;

  @Column({ type: 'integer', name: 'workflow_version', nullable: true })
  workflowVersion!: number | null;

  @Column({ type: 'text', nullable: true })
  status!: string | null;

  /** Stream sequence of the entry that set `status` (status only moves to a later entry's value). */
  @Column({ type: 'bigint', name: 'status_seq', transformer: bigintTransformer })
  statusSeq!: number;

  @Column({ type: 'timestamptz', name: 'started_at', nullable: true })
  startedAt!: Date | null;

  @Column({ type: 'timestamptz', name: 'completed_at', nullable: true })
  completedAt!: Date | null;

  @Column({ type: 'timestamptz', name: 'updated_at', nullable: true })
  updatedAt!: Date | null;

  @Column({ type: 'text', name: 'error_code', nullable: true })
  errorCode!: string | null;

  /** Highest stream sequence applied to this row; only moves forward. */
  @Column({ type: 'bigint', name: 'last_seq', transformer: bigintTransformer })
  lastSeq!: number;
}
