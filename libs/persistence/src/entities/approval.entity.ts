import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

/**
 * A human_approval step instance (approvals service). Projected from the execution log; the
 * decision is written here first (one conditional update wins), then delivered to the actor.
 */
@Entity({ name: 'approvals' })
export class ApprovalEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text', name: 'organization_id', nullable: true })
  organizationId!: string | null;

  @Column({ type: 'text', name: 'project_id', nullable: true })
  projectId!: string | null;

  @Column({ type: 'uuid', name: 'execution_id' })
  executionId!: string;

  @Column({ type: 'text', name: 'workflow_id', nullable: true })
  workflowId!: string | null;

  @Column({ type: 'text', name: 'step_id' })
  stepId!: string;

  @Column({ type: 'jsonb' })
  iteration!: number[];

  @Column({ type: 'integer' })
  attempt!: number;

  @Column({ type: 'jsonb' })
  approvers!: string[];

  @Column({ type: 'text', nullable: true })
  message!: string | null;

  @Column({ type: 'text' })
  status!: ApprovalStatus;

  @Column({ type: 'text', nullable: true })
  comment!: string | null;

  @Column({ type: 'text', name: 'decided_by', nullable: true })
  decidedBy!: string | null;

  @Column({ type: 'timestamptz', name: 'decided_at', nullable: true })
  decidedAt!: Date | null;

  @Column({ type: 'timestamptz', name: 'expires_at', nullable: true })
  expiresAt!: Date | null;

  @Column({ type: 'timestamptz', name: 'created_at', nullable: true })
  createdAt!: Date | null;

  @Column({ type: 'timestamptz', name: 'updated_at', nullable: true })
  updatedAt!: Date | null;

  /** The decision reached the actor (or the log shows the step resolved otherwise). */
  @Column({ type: 'boolean' })
  delivered!: boolean;

  /** Sequence of the log entry that resolved the step (completed, failed, cancelled), if applied. */
  @Column({ type: 'bigint', name: 'resolved_seq', nullable: true, transformer: bigintTransformer })
  resolvedSeq!: number | null;

  @Column({ type: 'bigint', name: 'last_seq', transformer: bigintTransformer })
  lastSeq!: number;
}
