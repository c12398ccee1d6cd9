import type { ApprovalStatus } from '@jetflow/persistence';

export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'expired', 'cancelled'];

/** An approval as the API shows it. */
export interface ApprovalView {
  readonly id: string;
  readonly execution_id: string;
  readonly workflow_id: string | null;
  readonly step_id: string;
  readonly status: ApprovalStatus;
  readonly approvers: readonly string[];
  readonly message: string | null;
  readonly comment: string | null;
  readonly decided_by: string | null;
  readonly decided_at: string | null;
  readonly expires_at: string | null;
  readonly created_at: string;
}

/** An `approvals` row as read with `SELECT *` (pg types: jsonb parsed, timestamptz as Date). */
export interface ApprovalRow {
  readonly id: string;
  readonly organization_id: string | null;
  readonly project_id: string | null;
  readonly execution_id: string;
  readonly workflow_id: string | null;
  readonly step_id: string;
  readonly iteration: number[];
  readonly attempt: number;
  readonly approvers: string[];
  readonly message: string | null;
  readonly status: ApprovalStatus;
  readonly comment: string | null;
  readonly decided_by: string | null;
  readonly decided_at: Date | null;
  readonly expires_at: Date | null;
  readonly created_at: Date | null;
  readonly delivered: boolean;
}

export function toApprovalView(r: ApprovalRow): ApprovalView {
  return {
    id: r.id,
    execution_id: r.execution_id,
    workflow_id: r.workflow_id,
    step_id: r.step_id,
    status: r.status,
    approvers: r.approvers ?? [],
    message: r.message,
    comment: r.comment,
    decided_by: r.decided_by,
    decided_at: r.decided_at ? r.decided_at.toISOString() : null,
    expires_at: r.expires_at ? r.expires_at.toISOString() : null,
    created_at: (r.created_at ?? new Date(0)).toISOString(),
  };
}
