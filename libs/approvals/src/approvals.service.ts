import type { DataSource } from 'typeorm';
import { JetflowError, type ListPage, type ListQuery, type Scope } from '@jetflow/contracts';
import { decodeCursor, isUuid, parseLimit, toPage } from '@jetflow/persistence';
import { APPROVAL_STATUSES, toApprovalView, type ApprovalRow, type ApprovalView } from './approval.view';
import type { DecisionDelivery } from './decision-delivery';

export type ApprovalListQuery = ListQuery & { readonly status?: string; readonly execution_id?: string; readonly workflow_id?: string };

export interface DecisionBody {
  readonly decision: 'approved' | 'rejected';
  readonly comment?: string;
}

/** Who is deciding: the scope's user id, plus an email when the caller sent one. */
export interface Approver {
  readonly email?: string | null;
}

const MAX_COMMENT = 10_000;

/** Reading and deciding approvals (the approvals service's use cases). */
export class ApprovalsService {
  private readonly clock: () => Date;

  constructor(
    private readonly dataSource: DataSource,
    private readonly delivery: DecisionDelivery,
    opts: { clock?: () => Date } = {},
  ) {
    this.clock = opts.clock ?? (() => new Date());
  }

  /** Approvals in the scope, newest first, by status / execution / workflow. */
  async list(scope: Scope, query: ApprovalListQuery = {}): Promise<ListPage<ApprovalView>> {
    const limit = parseLimit(query.limit);
    const cursor = decodeCursor(query.cursor);
    const status = parseStatus(query.status);
    const executionId = emptyToUndefined(query.execution_id);
    const workflowId = emptyToUndefined(query.workflow_id);
    if (executionId !== undefined && !isUuid(executionId)) return { items: [], next_cursor: null };

    const params: unknown[] = [scope.organization_id, scope.project_id];
    const p = (value: unknown) => `$${params.push(value)}`;
    const where = ['organization_id = $1', 'project_id = $2', 'created_at IS NOT NULL'];
    if (status) where.push(`status = ${p(status)}`);
    if (executionId) where.push(`execution_id = ${p(executionId)}`);
    if (workflowId !== undefined) where.push(`workflow_id = ${p(workflowId)}`);
    if (cursor) {
      const at = p(cursor.at);
      where.push(`(created_at < ${at} OR (created_at = ${at} AND id < ${p(cursor.id)}))`);
    }
    params.push(limit + 1);
    const rows: ApprovalRow[] = await this.dataSource.query(
      `SELECT * FROM approvals WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return toPage(rows, limit, (r) => ({ at: r.created_at!, id: r.id }), toApprovalView);
  }

  /**
   * Records a decision, then delivers it to the execution. Exactly one decision wins: the
   * conditional update on `status = 'pending'` is the arbiter, every other caller gets CONFLICT.
   * The decision is committed before delivery; if the actor cannot be reached now, the
   * redelivery loop keeps sending it, so the answer is the committed decision either way.
   */
  async decide(scope: Scope, id: string, body: unknown, approver: Approver = {}): Promise<ApprovalView> {
    const decision = parseDecision(body);
    const row = await this.find(scope, id);
    if (!mayDecide(row.approvers, scope.user_id, approver.email)) {
      throw new JetflowError('FORBIDDEN', 'you are not an approver of this approval');
    }
    if (row.status !== 'pending') throw new JetflowError('CONFLICT', `approval is already ${row.status}`);
    const now = this.clock();
    if (row.expires_at && row.expires_at.getTime() <= now.getTime()) throw new JetflowError('CONFLICT', 'approval has expired');

    const updated: [ApprovalRow[], number] = await this.dataSource.query(
      `UPDATE approvals SET status = $2, comment = $3, decided_by = $4, decided_at = $5, updated_at = $5
       WHERE id = $1 AND status = 'pending' AND resolved_seq IS NULL AND (expires_at IS NULL OR expires_at > $5)
       RETURNING *`,
      [row.id, decision.decision, decision.comment ?? null, scope.user_id ?? approver.email ?? null, now],
    );
    const won = updated[0]?.[0];
    if (!won) {
      const current = await this.find(scope, id);
      throw new JetflowError('CONFLICT', current.status === 'pending' ? 'approval has expired' : `approval is already ${current.status}`);
    }
    if ((await this.delivery.deliver(won)) === 'run_ended') {
      throw new JetflowError('CONFLICT', 'the execution has already ended (cancelled or timed out): the decision was not applied');
    }
    return toApprovalView(won);
  }

  private async find(scope: Scope, id: string): Promise<ApprovalRow> {
    if (!isUuid(id)) throw notFound();
    const rows: ApprovalRow[] = await this.dataSource.query(
      `SELECT * FROM approvals WHERE id = $1 AND organization_id = $2 AND project_id = $3 AND created_at IS NOT NULL`,
      [id, scope.organization_id, scope.project_id],
    );
    if (!rows[0]) throw notFound();
    return rows[0];
  }
}

/** Empty approvers = anyone in scope; otherwise the user id or the email must be listed (emails case-insensitively). */
function mayDecide(approvers: readonly string[], userId: string | undefined, email: string | null | undefined): boolean {
  if (!approvers || approvers.length === 0) return true;
  if (userId && approvers.includes(userId)) return true;
  const e = email?.trim().toLowerCase();
  return !!e && approvers.some((a) => a.trim().toLowerCase() === e);
}

function parseDecision(body: unknown): DecisionBody {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new JetflowError('VALIDATION_ERROR', 'body must be a JSON object');
  const b = body as Record<string, unknown>;
  const details: { path: string; message: string }[] = [];
  if (b['decision'] !== 'approved' && b['decision'] !== 'rejected') details.push({ path: 'decision', message: 'expected approved or rejected' });
  const comment = b['comment'];
  if (comment !== undefined && comment !== null && (typeof comment !== 'string' || comment.length > MAX_COMMENT)) {
    details.push({ path: 'comment', message: `expected a string of at most ${MAX_COMMENT} characters` });
  }
  if (details.length) throw new JetflowError('VALIDATION_ERROR', 'invalid decision', details);
  return { decision: b['decision'] as DecisionBody['decision'], ...(typeof comment === 'string' ? { comment } : {}) };
}

function parseStatus(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'string' && (APPROVAL_STATUSES as readonly string[]).includes(raw)) return raw;
  throw new JetflowError('VALIDATION_ERROR', `status must be one of ${APPROVAL_STATUSES.join(', ')}`, [
    { path: 'status', message: `expected one of ${APPROVAL_STATUSES.join(', ')}` },
  ]);
}

function emptyToUndefined(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

function notFound(): JetflowError {
  return new JetflowError('NOT_FOUND', 'approval not found');
}
