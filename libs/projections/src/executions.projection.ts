import type { EntityManager } from 'typeorm';
import { isUuid } from '@jetflow/persistence';
import { foldPatches, type ExecutionPatch, type ProjectionEntry } from './execution-patch';
import { checkpointUpsert, readCheckpoint } from './projection-checkpoint';
import { pgSafe } from './pg-safe';

export interface ExecutionsProjectionOptions {
  /** Row in `projection_checkpoints`; default `executions`. */
  readonly checkpointName?: string;
  readonly clock?: () => Date;
}

// Every column is merged so that order does not matter (replicas share one durable consumer and
// may commit batches out of order) and a re-applied entry is a no-op:
// scope/workflow/started_at and completion are set once; status follows the highest sequence that
// set it; updated_at follows last_seq; last_seq only moves forward.
const UPSERT_HEAD = `
  INSERT INTO executions AS e
    (id, organization_id, project_id, workflow_id, workflow_version, started_at,
     status, status_seq, completed_at, error_code, updated_at, last_seq)
  VALUES `;
const UPSERT_TAIL = `
  ON CONFLICT (id) DO UPDATE SET
    organization_id = COALESCE(e.organization_id, EXCLUDED.organization_id),
    project_id = COALESCE(e.project_id, EXCLUDED.project_id),
    workflow_id = COALESCE(e.workflow_id, EXCLUDED.workflow_id),
    workflow_version = COALESCE(e.workflow_version, EXCLUDED.workflow_version),
    started_at = COALESCE(e.started_at, EXCLUDED.started_at),
    status = CASE WHEN EXCLUDED.status IS NOT NULL AND EXCLUDED.status_seq > e.status_seq THEN EXCLUDED.status ELSE e.status END,
    status_seq = CASE WHEN EXCLUDED.status IS NOT NULL THEN GREATEST(e.status_seq, EXCLUDED.status_seq) ELSE e.status_seq END,
    completed_at = CASE WHEN e.completed_at IS NULL AND e.error_code IS NULL THEN EXCLUDED.completed_at ELSE e.completed_at END,
    error_code = CASE WHEN e.completed_at IS NULL AND e.error_code IS NULL THEN EXCLUDED.error_code ELSE e.error_code END,
    updated_at = CASE WHEN EXCLUDED.last_seq > e.last_seq THEN EXCLUDED.updated_at ELSE e.updated_at END,
    last_seq = GREATEST(e.last_seq, EXCLUDED.last_seq)
  WHERE EXCLUDED.last_seq > e.last_seq
     OR (e.organization_id IS NULL AND EXCLUDED.organization_id IS NOT NULL)
     OR (EXCLUDED.status IS NOT NULL AND EXCLUDED.status_seq > e.status_seq)
     OR (e.completed_at IS NULL AND e.error_code IS NULL AND EXCLUDED.completed_at IS NOT NULL)`;

const CHECKPOINT = checkpointUpsert();

/**
 * Folds execution log entries into the `executions` read model. Call inside a transaction; the
 * checkpoint (highest sequence applied) is written by the same manager, so rows and checkpoint
 * commit together. Idempotent and order-insensitive.
 */
export class ExecutionsProjection {
  readonly checkpointName: string;
  readonly singleStatement = true;
  private readonly clock: () => Date;

  constructor(opts: ExecutionsProjectionOptions = {}) {
    this.checkpointName = opts.checkpointName ?? 'executions';
    this.clock = opts.clock ?? (() => new Date());
  }

  async apply(manager: EntityManager, entries: readonly ProjectionEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // An id that is not a uuid cannot be a Jetflow execution: skip it rather than poison the batch.
    const patches = foldPatches(entries.filter((e) => isUuid(e.executionId)));
    // One statement for the batch (one id per row: patches are folded per execution), rows in id
    // order so two replicas committing overlapping batches never deadlock.
    // The checkpoint goes in the same statement: atomic without a transaction (singleStatement).
    const sorted = [...patches.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const maxSeq = Math.max(...entries.map((e) => e.seq));
    const checkpoint = [this.checkpointName, maxSeq, this.clock()];
    if (!sorted.length) await manager.query(CHECKPOINT, checkpoint);
    else await manager.query(`WITH upserted AS (${upsertSql(sorted.length, 3)} RETURNING 1) ${CHECKPOINT}`, [...checkpoint, ...sorted.flatMap(upsertParams)]);
  }

  /** Highest sequence committed by this projection (0 before the first batch). */
  checkpoint(manager: EntityManager): Promise<number> {
    return readCheckpoint(manager, this.checkpointName);
  }
}

const UPSERT_COLUMNS = 12;
const upsertSqlCache = new Map<number, string>();

/** The upsert for `rows` rows, parameters numbered after the first `offset`: `VALUES ($5..$16), ...`. */
function upsertSql(rows: number, offset: number): string {
  const key = rows * 100 + offset;
  let sql = upsertSqlCache.get(key);
  if (!sql) {
    const values = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: UPSERT_COLUMNS }, (_, c) => `$${offset + r * UPSERT_COLUMNS + c + 1}`).join(', ')})`);
    sql = UPSERT_HEAD + values.join(', ') + UPSERT_TAIL;
    if (upsertSqlCache.size < 512) upsertSqlCache.set(key, sql);
  }
  return sql;
}

/** One row's parameters; strings made acceptable to PostgreSQL (a NUL in a status or scope must not poison the batch). */
function upsertParams(p: ExecutionPatch): unknown[] {
  const s = p.started;
  const workflowId = s && isUuid(s.workflowId) ? s.workflowId : null;
  return pgSafe([
    p.id,
    s?.organizationId ?? null,
    s?.projectId ?? null,
    workflowId,
    s && Number.isInteger(s.workflowVersion) ? s.workflowVersion : null,
    s?.startedAt ?? null,
    p.status,
    p.statusSeq,
    p.completed?.at ?? null,
    p.completed?.errorCode ?? null,
    p.updatedAt,
    p.lastSeq,
  ]);
}
