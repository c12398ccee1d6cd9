import type { DataSource } from 'typeorm';
import {
  EXECUTION_STATUSES,
  JetflowError,
  type ExecutionStatus,
  type ExecutionSummaryView,
  type ListPage,
  type ListQuery,
  type Scope,
} from '@jetflow/contracts';
import { ExecutionEntity, decodeCursor, isUuid, parseLimit, toPage } from '@jetflow/persistence';

export type ExecutionListQuery = ListQuery & { readonly workflow_id?: string; readonly status?: string };

/** A run not finished yet; `updated_at` as stored (text, full precision), so a page resumes exactly after it. */
export interface ActiveRunRow {
  readonly id: string;
  readonly updated_at: string;
  readonly last_seq: number;
}

/** Reads the executions read model: scoped, newest first by (started_at, id). */
export class ExecutionsQuery {
  constructor(private readonly dataSource: DataSource) {}

  async list(scope: Scope, query: ExecutionListQuery = {}): Promise<ListPage<ExecutionSummaryView>> {
    const limit = parseLimit(query.limit);
    const cursor = decodeCursor(query.cursor);
    const status = parseStatus(query.status);
    const workflowId = query.workflow_id === '' ? undefined : query.workflow_id;
    // No execution can belong to a workflow id that is not a uuid.
    if (workflowId !== undefined && !isUuid(workflowId)) return { items: [], next_cursor: null };

    const qb = this.dataSource.manager
      .createQueryBuilder(ExecutionEntity, 'e')
      .where('e.organization_id = :org AND e.project_id = :project', { org: scope.organization_id, project: scope.project_id })
      .andWhere('e.started_at IS NOT NULL AND e.status IS NOT NULL');
    if (workflowId) qb.andWhere('e.workflow_id = :workflowId', { workflowId });
    if (status) qb.andWhere('e.status = :status', { status });
    if (cursor) qb.andWhere('(e.started_at < :at OR (e.started_at = :at AND e.id < :id))', { at: cursor.at, id: cursor.id });
    const rows = await qb.orderBy('e.started_at', 'DESC').addOrderBy('e.id', 'DESC').limit(limit + 1).getMany();

    return toPage(rows, limit, (r) => ({ at: r.startedAt!, id: r.id }), toSummary);
  }

  /**
   * Runs of every scope that are not finished and were not updated in the last 2 seconds, oldest
   * `updated_at` first (then id), strictly after `after`; with `since`, only those updated at or
   * after it. For the recovery sweep; served by the partial index `executions_active_updated_idx`.
   */
  async activeRuns(page: { readonly since?: Date; readonly after?: Pick<ActiveRunRow, 'id' | 'updated_at'>; readonly limit: number }): Promise<ActiveRunRow[]> {
    const rows: { id: string; updated_at: string; last_seq: string }[] = await this.dataSource.query(
      `SELECT id, updated_at::text AS updated_at, last_seq FROM executions
        WHERE status IN ('pending', 'running', 'waiting') AND updated_at < now() - interval '2 seconds'
          AND ($1::timestamptz IS NULL OR updated_at >= $1)
          AND ($2::timestamptz IS NULL OR (updated_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY updated_at, id LIMIT $4`,
      [page.since ?? null, page.after?.updated_at ?? null, page.after?.id ?? null, page.limit],
    );
    return rows.map((r) => ({ id: r.id, updated_at: r.updated_at, last_seq: Number(r.last_seq) }));
  }
}

function toSummary(r: ExecutionEntity): ExecutionSummaryView {
  return {
    id: r.id,
    workflow_id: r.workflowId!,
    workflow_version: r.workflowVersion!,
    status: r.status as ExecutionStatus,
    started_at: r.startedAt!.toISOString(),
    completed_at: r.completedAt ? r.completedAt.toISOString() : null,
    updated_at: (r.updatedAt ?? r.startedAt!).toISOString(),
  };
}

function parseStatus(raw: unknown): ExecutionStatus | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'string' && (EXECUTION_STATUSES as readonly string[]).includes(raw)) return raw as ExecutionStatus;
  throw new JetflowError('VALIDATION_ERROR', `status must be one of ${EXECUTION_STATUSES.join(', ')}`, [
    { path: 'status', message: `expected one of ${EXECUTION_STATUSES.join(', ')}` },
  ]);
}
