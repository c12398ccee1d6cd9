import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from './bigint.transformer';

/** What the approvals projection keeps about a run: scope, workflow, and how it ended. */
@Entity({ name: 'approval_executions' })
export class ApprovalExecutionEntity {
  @PrimaryColumn({ type: 'uuid', name: 'execution_id' })
  executionId!: string;

  @Column({ type: 'text', name: 'organization_id', nullable: true })
  organizationId!: string | null;

  @Column({ type: 'text', name: 'project_id', nullable: true })
  projectId!: string | null;

  @Column({ type: 'text', name: 'workflow_id', nullable: true })
  workflowId!: string | null;

  @Column({ type: 'text', name: 'ended_status', nullable: true })
  endedStatus!: string | null;

  @Column({ type: 'bigint', name: 'ended_seq', nullable: true, transformer: bigintTransformer })
  endedSeq!: number | null;

  @Column({ type: 'timestamptz', name: 'ended_at', nullable: true })
  endedAt!: Date | null;

  @Column({ type: 'bigint', name: 'last_seq', transformer: bigintTransformer })
  lastSeq!: number;
}
