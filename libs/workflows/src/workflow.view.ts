import type { WorkflowView } from '@jetflow/contracts';
import type { WorkflowEntity, WorkflowVersionEntity } from '@jetflow/persistence';
import { maskWebhookSecret } from './webhook-secret';

/** A workflow row plus one of its versions, as the API shows it. */
export function toWorkflowView(row: WorkflowEntity, version: WorkflowVersionEntity): WorkflowView {
  const def = version.definition;
  return {
    id: row.id,
    name: def.name,
    description: def.description ?? null,
    status: row.status,
    version: version.version,
    steps: maskWebhookSecret(def).steps,
    ...(def.timeout_seconds !== undefined ? { timeout_seconds: def.timeout_seconds } : {}),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
