import type { EntityManager } from 'typeorm';
import type { ExecutionEvent, IterationPath } from '@jetflow/contracts';
import { isUuid } from '@jetflow/persistence';
import { checkpointUpsert, pgSafe, readCheckpoint, type ProjectionEntry } from '@jetflow/projections';
import { approvalId } from './approval-id';

type ResolvedStatus = 'approved' | 'rejected' | 'expired' | 'cancelled';

const CHECKPOINT = checkpointUpsert();

const EXECUTION_STARTED = `
  INSERT INTO approval_executions AS x (execution_id, organization_id, project_id, workflow_id, last_seq)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (execution_id) DO UPDATE SET
    organization_id = COALESCE(x.organization_id, EXCLUDED.organization_id),
    project_id = COALESCE(x.project_id, EXCLUDED.project_id),
    workflow_id = COALESCE(x.workflow_id, EXCLUDED.workflow_id),
    last_seq = GREATEST(x.last_seq, EXCLUDED.last_seq)`;

const FORGET_RUNS_THEN = `
  WITH gone AS (DELETE FROM approvals WHERE execution_id = ANY($1::uuid[])),
       gone_runs AS (DELETE FROM approval_executions WHERE execution_id = ANY($1::uuid[]))`;
const CHECKPOINT_AFTER_FORGET = checkpointUpsert(2);

// Rows made before ExecutionStarted was applied (out-of-order replicas) get their scope now.
const BACKFILL_SCOPE = `
  UPDATE approvals SET organization_id = $2, project_id = $3, workflow_id = $4
  WHERE execution_id = $1 AND organization_id IS NULL`;

const EXECUTION_ENDED = `
  INSERT INTO approval_executions AS x (execution_id, ended_status, ended_seq, ended_at, last_seq)
  VALUES ($1, $2, $3, $4, $3)
  ON CONFLICT (execution_id) DO UPDATE SET
    ended_status = CASE WHEN x.ended_seq IS NULL OR EXCLUDED.ended_seq < x.ended_seq THEN EXCLUDED.ended_status ELSE x.ended_status END,
    ended_at = CASE WHEN x.ended_seq IS NULL OR EXCLUDED.ended_seq < x.ended_seq THEN EXCLUDED.ended_at ELSE x.ended_at END,
    ended_seq = LEAST(COALESCE(x.ended_seq, EXCLUDED.ended_seq), EXCLUDED.ended_seq),
    last_seq = GREATEST(x.last_seq, EXCLUDED.last_seq)`;

// A new approval is pending, unless the run is already known to have ended after it (then the
// end already happened to it: expired on timeout, cancelled otherwise). A replayed StepWaiting
// never touches the status: a decision or a resolution may have landed since.
const STEP_WAITING = `
  INSERT INTO approvals AS a
    (id, organization_id, project_id, execution_id, workflow_id, step_id, iteration, attempt, approvers, message,
     status, expires_at, created_at, updated_at, delivered, resolved_seq, last_seq)
  SELECT $1, x.organization_id, x.project_id, $2, x.workflow_id, $3, $4::jsonb, $5, $6::jsonb, $7,
     CASE WHEN x.ended_seq > $10 THEN (CASE WHEN x.ended_status = 'timeout' THEN 'expired' ELSE 'cancelled' END) ELSE 'pending' END,
     $8, $9, CASE WHEN x.ended_seq > $10 THEN x.ended_at ELSE $9 END,
     COALESCE(x.ended_seq > $10, false), CASE WHEN x.ended_seq > $10 THEN x.ended_seq END, GREATEST($10, COALESCE(x.ended_seq, 0))
  FROM (SELECT 1) AS one LEFT JOIN approval_executions x ON x.execution_id = $2
  ON CONFLICT (id) DO UPDATE SET
    organization_id = COALESCE(a.organization_id, EXCLUDED.organization_id),
    project_id = COALESCE(a.project_id, EXCLUDED.project_id),
    workflow_id = COALESCE(a.workflow_id, EXCLUDED.workflow_id),
    approvers = EXCLUDED.approvers,
    message = EXCLUDED.message,
    expires_at = EXCLUDED.expires_at,
    created_at = EXCLUDED.created_at,
    updated_at = CASE WHEN EXCLUDED.last_seq > a.last_seq THEN EXCLUDED.updated_at ELSE a.updated_at END,
    last_seq = GREATEST(a.last_seq, EXCLUDED.last_seq)`;

// The step's own resolution in the log. The earliest resolution in the log wins whatever the
// order of application; the actor has moved on, so there is nothing left to deliver.
const STEP_RESOLVED = `
  INSERT INTO approvals AS a
    (id, organization_id, project_id, execution_id, workflow_id, step_id, iteration, attempt,
     status, comment, decided_by, decided_at, updated_at, delivered, resolved_seq, last_seq)
  SELECT $1, x.organization_id, x.project_id, $2, x.workflow_id, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, true, $11, $11
  FROM (SELECT 1) AS one LEFT JOIN approval_executions x ON x.execution_id = $2
  ON CONFLICT (id) DO UPDATE SET
    status = CASE WHEN a.resolved_seq IS NULL OR EXCLUDED.resolved_seq < a.resolved_seq THEN EXCLUDED.status ELSE a.status END,
    comment = COALESCE(a.comment, EXCLUDED.comment),
    decided_by = COALESCE(a.decided_by, EXCLUDED.decided_by),
    decided_at = COALESCE(a.decided_at, EXCLUDED.decided_at),
    delivered = true,
    resolved_seq = LEAST(COALESCE(a.resolved_seq, EXCLUDED.resolved_seq), EXCLUDED.resolved_seq),
    updated_at = CASE WHEN EXCLUDED.last_seq > a.last_seq THEN EXCLUDED.updated_at ELSE a.updated_at END,
    last_seq = GREATEST(a.last_seq, EXCLUDED.last_seq)`;

/** Resolves existing rows matching `where` (params from $5) unless the log resolved them earlier. */
const resolveWhere = (where: string) => `
  UPDATE approvals a SET
    status = $1,
    delivered = true,
    resolved_seq = $2,
    updated_at = CASE WHEN $2 > a.last_seq THEN $3::timestamptz ELSE a.updated_at END,
    last_seq = GREATEST(a.last_seq, $2)
  WHERE (a.resolved_seq IS NULL OR a.resolved_seq > $2) AND ${where}`;
const RESOLVE_BY_ID = resolveWhere(`a.id = $4`);
const RESOLVE_BY_STEP = resolveWhere(`a.execution_id = $4 AND a.step_id = $5 AND a.iteration = $6::jsonb`);
const RESOLVE_BY_EXECUTION = resolveWhere(`a.execution_id = $4`);

/** Bound on {@link ApprovalsProjection}'s approval-free run ids (forgetting one only costs statements). */
const MAX_TRACKED_RUNS = 100_000;

export interface ApprovalsProjectionOptions {
  /** Row in `projection_checkpoints`; default `approvals`. */
  readonly checkpointName?: string;
  readonly clock?: () => Date;
}

/**
 * Folds execution log entries into the `approvals` table: StepWaiting with an approval → pending;
 * the step's StepCompleted → approved/rejected (from its output); a rejection that failed the run
 * (StepFailed APPROVAL_REJECTED) → rejected; StepCancelled → cancelled; the run ending while the
 * approval is unresolved → expired (timeout) or cancelled. Call inside a transaction (rows and
 * checkpoint commit together). Idempotent and order-insensitive: re-applying or reordering entries
 * gives the same rows.
 */
export class ApprovalsProjection {
  readonly checkpointName: string;
  private readonly clock: () => Date;
  /** Runs in progress known to have no approval step (insertion-ordered: oldest dropped first). */
  private readonly withoutApprovals = new Set<string>();

  constructor(opts: ApprovalsProjectionOptions = {}) {
    this.checkpointName = opts.checkpointName ?? 'approvals';
    this.clock = opts.clock ?? (() => new Date());
  }

  async apply(manager: EntityManager, entries: readonly ProjectionEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // An id that is not a uuid cannot be a Jetflow execution: skip it rather than poison the batch.
    const sorted = entries.filter((e) => isUuid(e.executionId)).sort((a, b) => a.seq - b.seq);
    const approvalFreeStarts: string[] = [];
    for (const entry of sorted) {
      if (this.approvalFree(entry)) {
        if (entry.events.some((e) => e.type === 'ExecutionStarted')) approvalFreeStarts.push(entry.executionId);
        continue;
      }
      await this.applyEntry(manager, entry);
    }
    // Entries of such a run applied before its start was seen (another replica, a replay in another
    // order) may have left rows (a step output that looked like a decision): the start removes them.
    // With the checkpoint, one statement (see singleStatementFor).
    const maxSeq = Math.max(...entries.map((e) => e.seq));
    if (approvalFreeStarts.length) await manager.query(`${FORGET_RUNS_THEN} ${CHECKPOINT_AFTER_FORGET}`, [approvalFreeStarts, this.checkpointName, maxSeq, this.clock()]);
    else await manager.query(CHECKPOINT, [this.checkpointName, maxSeq, this.clock()]);
  }

  /**
   * True when `apply` will issue a single statement for `entries` (every entry belongs to a run known
   * to have no approval step): the projector then runs it without a transaction. Pure.
   */
  singleStatementFor(entries: readonly ProjectionEntry[]): boolean {
    const startedHere = new Set<string>();
    for (const entry of entries) {
      if (!isUuid(entry.executionId)) continue;
      if (startsApprovalFreeRun(entry)) startedHere.add(entry.executionId);
    }
    return entries.every((e) => !isUuid(e.executionId) || startedHere.has(e.executionId) || this.withoutApprovals.has(e.executionId));
  }

  /**
   * True for an entry of a run whose pinned definition has no human_approval step (known from its
   * ExecutionStarted, seen by this process): such a run never has an approval row, so it needs no
   * statement at all. Entries of runs this process has not seen start are applied in full.
   */
  private approvalFree(entry: ProjectionEntry): boolean {
    const id = entry.executionId;
    if (startsApprovalFreeRun(entry)) {
      this.withoutApprovals.add(id);
      if (this.withoutApprovals.size > MAX_TRACKED_RUNS) this.withoutApprovals.delete(this.withoutApprovals.values().next().value!);
    }
    if (!this.withoutApprovals.has(id)) return false;
    if (entry.events.some((e) => e.type === 'ExecutionCompleted')) this.withoutApprovals.delete(id);
    return true;
  }

  /** Highest sequence committed by this projection (0 before the first batch). */
  checkpoint(manager: EntityManager): Promise<number> {
    return readCheckpoint(manager, this.checkpointName);
  }

  private async applyEntry(m: EntityManager, entry: ProjectionEntry): Promise<void> {
    const id = entry.executionId;
    const seq = entry.seq;
    // The run's end abandons every unresolved approval at once (below), so the StepCancelled
    // events that come with it need no statement of their own.
    const ended = entry.events.find((e) => e.type === 'ExecutionCompleted');
    for (const event of entry.events) {
      switch (event.type) {
        case 'ExecutionStarted': {
          const scope = event.scope ?? {};
          const workflowId = typeof event.workflow_id === 'string' ? event.workflow_id : null;
          await query(m, EXECUTION_STARTED, [id, str(scope.organization_id), str(scope.project_id), workflowId, seq]);
          await query(m, BACKFILL_SCOPE, [id, str(scope.organization_id), str(scope.project_id), workflowId]);
          break;
        }
        case 'StepWaiting': {
          const approval = event.approval;
          if (!approval) break;
          const approvers = Array.isArray(approval.approvers) ? approval.approvers.filter((a) => typeof a === 'string') : [];
          await query(m, STEP_WAITING, [
            approvalId(id, event.step_id, event.iteration, event.attempt),
            id,
            event.step_id,
            jsonb(iteration(event.iteration)),
            event.attempt,
            jsonb(approvers),
            typeof approval.message === 'string' ? approval.message : null,
            toDate(approval.expires_at),
            toDate(event.at),
            seq,
          ]);
          break;
        }
        case 'StepCompleted': {
          const decision = decisionOf(event.output);
          if (decision) await this.resolved(m, id, seq, event, decision.decision, decision);
          break;
        }
        case 'StepFailed': {
          if (event.error?.code === 'APPROVAL_REJECTED') {
            // The decider keeps the rejecting output in the error details (see failRun).
            await this.resolved(m, id, seq, event, 'rejected', decisionOf(parseJson(event.error.details?.[0]?.message)) ?? {});
          } else {
            // Any step can fail; only a human_approval attempt (one with a row) is affected.
            const status: ResolvedStatus = event.error?.code === 'TIMEOUT' ? 'expired' : 'cancelled';
            await query(m, RESOLVE_BY_ID, [status, seq, toDate(event.at), approvalId(id, event.step_id, event.iteration, event.attempt)]);
          }
          break;
        }
        case 'StepCancelled':
          if (!ended) await query(m, RESOLVE_BY_STEP, ['cancelled', seq, toDate(event.at), id, event.step_id, jsonb(iteration(event.iteration))]);
          break;
        case 'ExecutionCompleted': {
          await query(m, EXECUTION_ENDED, [id, event.status, seq, toDate(event.at)]);
          await query(m, RESOLVE_BY_EXECUTION, [event.status === 'timeout' ? 'expired' : 'cancelled', seq, toDate(event.at), id]);
          break;
        }
        default:
          break;
      }
    }
  }

  private async resolved(
    m: EntityManager,
    executionId: string,
    seq: number,
    event: Extract<ExecutionEvent, { type: 'StepCompleted' | 'StepFailed' }>,
    status: 'approved' | 'rejected',
    d: { comment?: string | null; decided_by?: string | null; decided_at?: Date | null },
  ): Promise<void> {
    await query(m, STEP_RESOLVED, [
      approvalId(executionId, event.step_id, event.iteration, event.attempt),
      executionId,
      event.step_id,
      jsonb(iteration(event.iteration)),
      event.attempt,
      status,
      d.comment ?? null,
      d.decided_by ?? null,
      d.decided_at ?? null,
      toDate(event.at),
      seq,
    ]);
  }
}

/** The entry holds the ExecutionStarted of a run whose pinned definition has no human_approval step. */
function startsApprovalFreeRun(entry: ProjectionEntry): boolean {
  const started = entry.events.find((e) => e.type === 'ExecutionStarted');
  return !!started && !started.definition?.steps?.some((s) => s.step_type === 'human_approval');
}

/** The output of a decided approval step, or undefined for any other step's output. */
function decisionOf(output: unknown): { decision: 'approved' | 'rejected'; comment: string | null; decided_by: string | null; decided_at: Date | null } | undefined {
  if (!output || typeof output !== 'object') return undefined;
  const o = output as Record<string, unknown>;
  if (o['decision'] !== 'approved' && o['decision'] !== 'rejected') return undefined;
  if (!('decided_at' in o) || !('decided_by' in o)) return undefined;
  return { decision: o['decision'], comment: str(o['comment']), decided_by: str(o['decided_by']), decided_at: toDate(o['decided_at']) };
}

/**
 * Runs one statement with its parameters made acceptable to PostgreSQL: a NUL (or lone surrogate)
 * anywhere in an event (a templated approval message, a comment) must not fail the batch.
 */
function query(m: EntityManager, sql: string, params: unknown[]): Promise<unknown> {
  return m.query(sql, pgSafe(params));
}

/** A jsonb parameter: cleaned before serialization (JSON escapes NUL as \u0000, which jsonb refuses too). */
function jsonb(value: unknown): string {
  return JSON.stringify(pgSafe(value));
}

function iteration(path: IterationPath | undefined): readonly number[] {
  return path ?? [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function toDate(iso: unknown): Date | null {
  if (typeof iso !== 'string') return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
