import { Column, Entity, PrimaryColumn } from 'typeorm';

export type WorkflowStatus = 'active' | 'archived';

/** One workflow in one organization/project; its definitions live in `workflow_versions`. */
@Entity({ name: 'workflows' })
export class WorkflowEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text', name: 'organization_id' })
  organizationId!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'text' })
  status!: WorkflowStatus;

  @Column({ type: 'integer', name: 'current_version' })
  currentVersion!: number;

  @Column({ type: 'text', name: 'created_by', nullable: true })
  createdBy!: string | null;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}
