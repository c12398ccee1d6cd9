/** HTTP helpers for the harness: the bench scope headers, JSON calls, the events endpoint, verification. */
import { sleep } from './util';

export const HEADERS = { 'X-elevAIte-OrganizationId': 'org-bench', 'X-elevAIte-ProjectId': 'proj-bench', 'X-elevAIte-UserId': 'user-bench' };

export async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(base + path, { method, headers: { ...HEADERS, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text };
}

export interface LogItem {
  id: string;
  seq: number;
  type: string;
  step_id?: string;
  iteration?: unknown[];
  status?: string;
  error?: unknown;
  [k: string]: unknown;
}

/** Every event of an execution's log (`GET /api/executions/{id}/events`, all pages); undefined on a non-200. */
export async function readEvents(base: string, id: string): Promise<LogItem[] | undefined> {
  const out: LogItem[] = [];
  let from: number | null = 1;
  while (from !== null) {
    const r = await api(base, 'GET', `/api/executions/${id}/events?from_seq=${from}&limit=10000`);
    if (r.status !== 200 || !Array.isArray(r.json?.items)) return undefined;
    out.push(...(r.json.items as LogItem[]));
    from = typeof r.json.next_seq === 'number' ? r.json.next_seq : null;
  }
  return out;
}

export interface LogCheck {
  /** ExecutionCompleted events in the log. */
  completions: number;
  /** Status of the (first) ExecutionCompleted. */
  status?: string;
  /** Error of a failed run, for the report. */
  error?: string;
  /** Step results recorded more than once (same step, same iteration, same attempt). */
  duplicatedSteps: number;
}

export function checkLog(items: LogItem[]): LogCheck {
  const done = items.filter((e) => e.type === 'ExecutionCompleted');
  const seen = new Set<string>();
  let dupSteps = 0;
  for (const e of items) {
    if (e.type !== 'StepCompleted' && e.type !== 'StepFailed') continue;
    const key = `${e.type}|${e.step_id}|${JSON.stringify(e.iteration ?? [])}|${String(e.attempt ?? '')}`;
    if (seen.has(key)) dupSteps++;
    else seen.add(key);
  }
  const first = done[0];
  const err = first?.error ?? items.find((e) => e.type === 'ErrorRaised')?.error;
  return { completions: done.length, status: first?.status, error: err === undefined ? undefined : JSON.stringify(err).slice(0, 300), duplicatedSteps: dupSteps };
}

export interface Verification {
  checked: number;
  /** Exactly one ExecutionCompleted, status `completed`, no step result twice. */
  ok: number;
  /** Not terminal (no ExecutionCompleted) when the wait ran out. */
  lost: number;
  /** Two or more ExecutionCompleted. */
  duplicated: number;
  /** Terminal, but not `completed` (failed, timeout, cancelled): the workload did not run the shape it claims to. */
  failed: number;
  failedSamples: string[];
  /** Executions with a step result recorded twice. */
  duplicatedSteps: number;
  notStarted: number;
}

/**
 * For every execution id: exactly one ExecutionCompleted in its log, with status `completed`.
 * Executions not terminal yet are polled again until `waitMs` runs out; only then are they lost.
 */
export async function verify(base: string, ids: string[], started: number, waitMs = 30_000): Promise<Verification> {
  const v: Verification = { checked: ids.length, ok: 0, lost: 0, duplicated: 0, failed: 0, failedSamples: [], duplicatedSteps: 0, notStarted: started - ids.length };
  const deadline = Date.now() + waitMs;
  let pending = [...ids];
  for (;;) {
    const queue = [...pending];
    const notYet: string[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let id = queue.pop(); id; id = queue.pop()) {
          const items = await readEvents(base, id).catch(() => undefined);
          const c = items ? checkLog(items) : undefined;
          if (!c || c.completions === 0) {
            notYet.push(id);
            continue;
          }
          if (c.duplicatedSteps) v.duplicatedSteps++;
          if (c.completions > 1) v.duplicated++;
          else if (c.status !== 'completed') {
            v.failed++;
            if (v.failedSamples.length < 3) v.failedSamples.push(`${id}: ${c.status} ${c.error ?? ''}`.trim());
          } else if (!c.duplicatedSteps) v.ok++;
        }
      }),
    );
    pending = notYet;
    if (pending.length === 0 || Date.now() > deadline) break;
    await sleep(500);
  }
  v.lost = pending.length;
  return v;
}

/** The verifications of several runs as one (counts added). */
export function mergeVerifications(vs: readonly Verification[]): Verification {
  const out: Verification = { checked: 0, ok: 0, lost: 0, duplicated: 0, failed: 0, failedSamples: [], duplicatedSteps: 0, notStarted: 0 };
  for (const v of vs) {
    out.checked += v.checked;
    out.ok += v.ok;
    out.lost += v.lost;
    out.duplicated += v.duplicated;
    out.failed += v.failed;
    out.duplicatedSteps += v.duplicatedSteps;
    out.notStarted += v.notStarted;
    out.failedSamples.push(...v.failedSamples.slice(0, 3 - out.failedSamples.length));
  }
  return out;
}

export function verificationText(v: Verification, errors: number): string {
  return `${v.ok}/${v.checked} ok, lost ${v.lost}, dup ${v.duplicated}${v.duplicatedSteps ? `, dup step results ${v.duplicatedSteps}` : ''}${v.failed ? `, FAILED ${v.failed}` : ''}, errors ${errors}`;
}

/** Runs one execution to its end (polling the log); the status and error of its ExecutionCompleted. */
export async function probeRun(base: string, workflowId: string, trigger: Record<string, unknown>, timeoutMs = 30_000): Promise<{ ok: boolean; detail: string }> {
  const r = await api(base, 'POST', `/api/workflows/${workflowId}/execute`, { trigger });
  if (r.status !== 202 && r.status !== 200 && r.status !== 201) return { ok: false, detail: `execute ${r.status} ${r.text.slice(0, 200)}` };
  const id = r.json.execution_id as string;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await readEvents(base, id).catch(() => undefined);
    const c = items ? checkLog(items) : undefined;
    if (c && c.completions > 0) return { ok: c.status === 'completed', detail: c.status === 'completed' ? 'completed' : `ended ${c.status}: ${c.error ?? ''}` };
    if (Date.now() > deadline) return { ok: false, detail: `not terminal after ${timeoutMs} ms` };
    await sleep(200);
  }
}
