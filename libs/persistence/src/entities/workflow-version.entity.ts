import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { WorkflowDefinition } from '@jetflow/contracts';

/** An immutable definition snapshot; executions pin one of these. */
@Entity({ name: 'workflow_versions' })
export class WorkflowVersionEntity {
  @PrimaryColumn({ type: 'uuid', name: 'workflow_id' })
  workflowId!: string;

  @PrimaryColumn({ type: 'integer' })
  version!: number;

  @Column({ type: 'jsonb' })
  definition!: WorkflowDefinition;

  @Column({ type: 'text', name: 'created_by', nullable: true })
  createdBy!: string | null;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;
}
