import type { DataSource } from 'typeorm';
import { JetflowError, type HookTarget, type ScheduleTarget, type WorkflowDefinition } from '@jetflow/contracts';
import { isUuid } from '@jetflow/persistence';

interface TriggerRow {
  id: string;
  organization_id: string;
  project_id: string;
  status: string;
  version: number;
  definition: WorkflowDefinition;
  version_created_at: Date;
}

const SELECT = `SELECT w.id, w.organization_id, w.project_id, w.status, v.version, v.definition, v.created_at AS version_created_at
  FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.current_version`;

/**
 * Reads across scopes for triggers that come from outside a request's scope (webhooks, the
 * scheduler). Only services call these (over NATS); the gateway never exposes them as lists.
 */
export class WorkflowTriggersQuery {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The scope and current definition of a webhook-triggered workflow. Anything else (unknown id,
   * a workflow whose trigger is not a webhook, archived or not) → NOT_FOUND, so an outsider learns
   * nothing about other workflows; only an archived webhook workflow → CONFLICT.
   */
  async hookTarget(id: string): Promise<HookTarget> {
    if (!isUuid(id)) throw notFound();
    const rows: TriggerRow[] = await this.dataSource.query(`${SELECT} WHERE w.id = $1`, [id]);
    const row = rows[0];
    if (!row || !isWebhookWorkflow(row.definition)) throw notFound();
    if (row.status === 'archived') throw new JetflowError('CONFLICT', 'workflow is archived');
    return { workflow_id: row.id, scope: { organization_id: row.organization_id, project_id: row.project_id }, version: row.version, definition: row.definition };
  }

  /** Every active workflow whose current version has a `schedule` trigger. */
  async activeSchedules(): Promise<{ items: ScheduleTarget[] }> {
    const rows: TriggerRow[] = await this.dataSource.query(
      `${SELECT} WHERE w.status = 'active' AND v.definition->'steps' @> '[{"step_type":"trigger","parameters":{"kind":"schedule"}}]'::jsonb ORDER BY w.id`,
    );
    const items: ScheduleTarget[] = [];
    for (const row of rows) {
      const trigger = row.definition.steps.find((s) => s.step_type === 'trigger');
      const cron = trigger?.parameters['cron'];
      const timezone = trigger?.parameters['timezone'];
      if (typeof cron !== 'string') continue;
      items.push({
        workflow_id: row.id,
        scope: { organization_id: row.organization_id, project_id: row.project_id },
        version: row.version,
        cron,
        ...(typeof timezone === 'string' ? { timezone } : {}),
        active_since: new Date(row.version_created_at).toISOString(),
      });
    }
    return { items };
  }
}

function isWebhookWorkflow(definition: WorkflowDefinition | null | undefined): boolean {
  const trigger = definition?.steps?.find((s) => s.step_type === 'trigger');
  return trigger?.parameters?.['kind'] === 'webhook';
}

function notFound(): JetflowError {
  return new JetflowError('NOT_FOUND', 'workflow not found');
}
