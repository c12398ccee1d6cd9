import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One agent in one organization/project. The settings (prompt, model, tools, provider, mock script)
 * are one validated JSON document owned by libs/agents; only the name is a column of its own.
 */
@Entity({ name: 'agents' })
export class AgentEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text', name: 'organization_id' })
  organizationId!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'jsonb' })
  settings!: Record<string, unknown>;

  @Column({ type: 'text', name: 'created_by', nullable: true })
  createdBy!: string | null;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}
