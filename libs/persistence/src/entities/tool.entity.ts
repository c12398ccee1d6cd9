import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A user tool registered over the API, in one organization/project; `name` unique there. */
@Entity({ name: 'tools' })
export class ToolEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text', name: 'organization_id' })
  organizationId!: string;

  @Column({ type: 'text', name: 'project_id' })
  projectId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'jsonb', name: 'input_schema' })
  inputSchema!: Record<string, unknown>;

  /** `{url, method, headers}`; headers may hold `{{secrets.NAME}}` templates, never secret values. */
  @Column({ type: 'jsonb' })
  endpoint!: { url: string; method: string; headers: Record<string, string> };

  @Column({ type: 'text', name: 'created_by', nullable: true })
  createdBy!: string | null;

  @Column({ type: 'timestamptz', name: 'created_at' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', name: 'updated_at' })
  updatedAt!: Date;
}
