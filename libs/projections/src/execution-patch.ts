import type { ExecutionEvent } from '@jetflow/contracts';

/** One log entry: a JetStream message on `jetflow.exec.<id>.events` holding one or more events. */
export interface ProjectionEntry {
  readonly seq: number;
  readonly executionId: string;
  readonly events: readonly ExecutionEvent[];
}

/**
 * What a run of entries does to one `executions` row. Each field is last-writer-wins by stream
 * sequence (or first-writer-wins for facts that happen once), so patches merge in any order and
 * re-applying one changes nothing.
 */
export interface ExecutionPatch {
  readonly id: string;
  started?: {
    organizationId: string;
    projectId: string;
    workflowId: string;
    workflowVersion: number;
    startedAt: Date | null;
  };
  status: string | null;
  /** Sequence of the entry that set `status` (0 when none did). */
  statusSeq: number;
  completed?: { at: Date | null; errorCode: string | null };
  /** Highest sequence seen, and the time of its last event. */
  lastSeq: number;
  updatedAt: Date | null;
}

function toDate(iso: unknown): Date | null {
  if (typeof iso !== 'string') return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Folds entries (any order, duplicates allowed) into one patch per execution id. */
export function foldPatches(entries: readonly ProjectionEntry[]): Map<string, ExecutionPatch> {
  const patches = new Map<string, ExecutionPatch>();
  for (const entry of entries) {
    // An entry with nothing to fold (unreadable payload) must not create a row.
    if (entry.events.length === 0) continue;
    let p = patches.get(entry.executionId);
    if (!p) {
      p = { id: entry.executionId, status: null, statusSeq: 0, lastSeq: 0, updatedAt: null };
      patches.set(entry.executionId, p);
    }
    const setStatus = (status: string) => {
      // `>=`: later events of the same entry override earlier ones.
      if (entry.seq >= p!.statusSeq) {
        p!.status = status;
        p!.statusSeq = entry.seq;
      }
    };
    for (const event of entry.events) {
      switch (event.type) {
        case 'ExecutionStarted':
          p.started ??= {
            organizationId: event.scope.organization_id,
            projectId: event.scope.project_id,
            workflowId: event.workflow_id,
            workflowVersion: event.workflow_version,
            startedAt: toDate(event.at),
          };
          setStatus('running');
          break;
        case 'ExecutionStatusChanged':
          setStatus(event.status);
          break;
        case 'ExecutionCompleted':
          p.completed ??= { at: toDate(event.at), errorCode: event.error?.code ?? null };
          setStatus(event.status);
          break;
        default:
          break;
      }
    }
    if (entry.seq > p.lastSeq) {
      p.lastSeq = entry.seq;
      const last = entry.events[entry.events.length - 1];
      p.updatedAt = toDate(last?.at) ?? p.updatedAt;
    }
  }
  return patches;
}
