import { stepKey, type IterationPath } from '@jetflow/contracts';
import { branchEdges } from '../graph/workflow-graph';
import { iter, numberOr, type Decision } from './execution.decision';
import { isTerminal, RESOLVED, type ExecutionState, type LoopRun } from './execution.state';

/**
 * Runs the planner to a fixpoint: starts steps whose predecessors all resolved and that at
 * least one of them activated, skips the others (so joins never hang), starts and completes
 * loop iterations, and completes the run when the top level has resolved.
 */
export function advance(d: Decision): void {
  const { ws } = d;
  const { graph } = ws;
  for (let guard = 0; guard < 100_000; guard++) {
    if (isTerminal(ws)) return;
    let progressed = false;
    for (const [region, path] of activeContexts(ws)) {
      for (const id of graph.regionSteps.get(region) ?? []) {
        if (ws.steps.has(stepKey(id, path))) continue;
        const preds = graph.preds.get(id) ?? [];
        if (!preds.length) continue;
        let resolved = true;
        let activated = false;
        let afterFailure = false;
        for (const p of preds) {
          const r = ws.steps.get(stepKey(p, path));
          if (!r || !RESOLVED.has(r.status)) {
            resolved = false;
            break;
          }
          if (r.status === 'failed') afterFailure = true;
          if (r.status === 'completed' && branchEdges(graph.steps.get(p)!, r.branch ?? 'next').includes(id)) activated = true;
        }
        if (!resolved) continue;
        if (activated && !afterFailure && atBranchLimit(ws, id, path)) continue;
        if (activated && !afterFailure) d.startStep(id, path, 1);
        else d.emit({ type: 'StepSkipped', step_id: id, ...iter(path), at: d.now });
        progressed = true;
        if (isTerminal(ws)) return;
      }
    }
    progressed = advanceLoops(d) || progressed;
    if (isTerminal(ws)) return;
    if (topLevelResolved(ws)) {
      const failed = [...ws.steps.values()].find((r) => r.status === 'failed' && r.iteration.length === 0);
      if (failed) d.endRun('failed', failed.error ?? { code: 'INTERNAL', message: 'step failed' }, failed.step_id);
      else d.emit({ type: 'ExecutionCompleted', status: 'completed', result: result(ws), at: d.now });
      return;
    }
    if (!progressed) return;
  }
}

/** A parallel's `max_concurrency`: a branch head waits while that many branches are unfinished. */
function atBranchLimit(ws: ExecutionState, stepId: string, path: IterationPath): boolean {
  const branch = ws.graph.branchOf.get(stepId);
  if (!branch || branch.head !== stepId) return false;
  const limit = ws.graph.steps.get(branch.parallel)?.parameters['max_concurrency'];
  if (typeof limit !== 'number' || limit < 1) return false;
  let active = 0;
  for (const [head, members] of ws.graph.branches.get(branch.parallel) ?? []) {
    if (head === stepId || !ws.steps.has(stepKey(head, path))) continue;
    let finished = true;
    for (const id of members) {
      const r = ws.steps.get(stepKey(id, path));
      if (r ? !RESOLVED.has(r.status) : couldStillRun(ws, id, path)) {
        finished = false;
        break;
      }
    }
    if (!finished) active++;
  }
  return active >= limit;
}

/** A step with no record yet is still to run unless every predecessor resolved (it would be decided now). */
function couldStillRun(ws: ExecutionState, id: string, path: IterationPath): boolean {
  const preds = ws.graph.preds.get(id) ?? [];
  return preds.some((p) => {
    const r = ws.steps.get(stepKey(p, path));
    return !r || !RESOLVED.has(r.status) || (r.status === 'completed' && branchEdges(ws.graph.steps.get(p)!, r.branch ?? 'next').includes(id));
  });
}

/**
 * The regions to plan: the top level, then every started, unfinished iteration of a running loop,
 * in index order.
 */
function* activeContexts(ws: ExecutionState): Generator<[string | null, IterationPath]> {
  yield [null, []];
  for (const [key, loop] of ws.loops) {
    const run = ws.steps.get(key);
    if (!run || run.status !== 'running') continue;
    for (const i of openIterations(loop)) yield [run.step_id, [...run.iteration, i]];
  }
}

/**
 * Indices of a loop's started iterations that are not done, ascending. An iteration is only ever
 * done after it started (the planner decides body steps in started iterations only), so there are
 * `started - done.size` of them; iterations start in index order and mostly finish in order, so
 * they are searched from the newest down: a planner pass costs the loop's concurrency, not its
 * length (it used to scan every started index on every pass).
 */
function openIterations(loop: LoopRun): number[] {
  let open = loop.started - loop.done.size;
  const found: number[] = [];
  for (let i = loop.started - 1; i >= 0 && open > 0; i--) {
    if (!loop.done.has(i)) {
      found.push(i);
      open--;
    }
  }
  return found.reverse();
}

/** Completes loops whose iterations are all done; starts further iterations up to `concurrency`. */
function advanceLoops(d: Decision): boolean {
  const { ws } = d;
  let progressed = false;
  for (const [key, loop] of [...ws.loops]) {
    const run = ws.steps.get(key);
    if (!run || run.status !== 'running') continue;
    if (loop.done.size === loop.items.length) {
      d.emit({
        type: 'StepCompleted',
        step_id: run.step_id,
        ...iter(run.iteration),
        attempt: run.attempt,
        output: { results: loop.results },
        branch: 'next',
        duration_ms: d.elapsed(run.attempt_started_at),
        at: d.now,
      });
      progressed = true;
      continue;
    }
    const step = ws.graph.steps.get(run.step_id)!;
    const concurrency = Math.max(1, numberOr(step.parameters['concurrency'], 1));
    const entries = ws.graph.bodyEntries.get(run.step_id) ?? [];
    while (loop.started < loop.items.length && loop.started - loop.done.size < concurrency) {
      const path = [...run.iteration, loop.started];
      for (const entry of entries) d.startStep(entry, path, 1);
      progressed = true;
      if (isTerminal(ws)) return true;
    }
  }
  return progressed;
}

function topLevelResolved(ws: ExecutionState): boolean {
  for (const id of ws.graph.regionSteps.get(null) ?? []) {
    const r = ws.steps.get(id);
    if (!r || !RESOLVED.has(r.status)) return false;
  }
  return true;
}

/** Output of the end step(s) that completed on the taken path: one → its output; several → keyed by step id. */
function result(ws: ExecutionState): unknown {
  const ends: [string, unknown][] = [];
  for (const id of ws.graph.regionSteps.get(null) ?? []) {
    const r = ws.steps.get(id);
    if (r?.status === 'completed' && branchEdges(ws.graph.steps.get(id)!, r.branch ?? 'next').length === 0) ends.push([id, r.output]);
  }
  if (ends.length === 1) return ends[0]![1];
  if (ends.length === 0) return null;
  return Object.fromEntries(ends);
}
