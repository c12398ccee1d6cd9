import type { StepDraft } from './step-draft';
import type { ValidationIssues } from './validation-issues';

/** One edge of the step graph, with the detail path of the reference that made it. */
export interface StepEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'next' | 'else' | 'body';
  readonly path: string;
}

/** What the graph checks learned: which steps sit inside which loop bodies. */
export interface GraphFacts {
  /** Ids of steps inside at least one loop body. */
  readonly inLoopBody: ReadonlySet<string>;
}

/**
 * Checks the graph: references exist, exactly one trigger with no incoming edges, no cycles, every
 * step reachable from the trigger (loop bodies through their loop), and loop bodies entered only
 * through their loop. Works on the first step of each id; duplicates are reported elsewhere.
 */
export function validateGraph(drafts: readonly StepDraft[], issues: ValidationIssues): GraphFacts {
  const byId = new Map<string, StepDraft>();
  for (const d of drafts) if (d.id !== undefined && !byId.has(d.id)) byId.set(d.id, d);

  const edges = collectEdges([...byId.values()], byId, issues);
  const out = new Map<string, StepEdge[]>([...byId.keys()].map((id) => [id, []]));
  for (const e of edges) out.get(e.from)?.push(e);

  const triggers = [...byId.values()].filter((d) => d.type === 'trigger');
  checkTriggers(drafts, triggers, edges, byId, issues);
  const cyclic = checkCycles(byId, out, issues);
  if (triggers.length > 0) checkReachable(triggers, byId, out, issues);
  return { inLoopBody: checkLoopBodies(byId, edges, out, cyclic, issues) };
}

function collectEdges(steps: readonly StepDraft[], byId: ReadonlyMap<string, StepDraft>, issues: ValidationIssues): StepEdge[] {
  const edges: StepEdge[] = [];
  const add = (from: StepDraft, to: string, kind: StepEdge['kind'], path: string): void => {
    if (!byId.has(to)) {
      issues.add('UNKNOWN_STEP_REFERENCE', path, `step ${JSON.stringify(to)} does not exist`, from.id);
      return;
    }
    edges.push({ from: from.id as string, to, kind, path });
  };
  for (const step of steps) {
    step.next_steps.forEach((to, i) => add(step, to, 'next', `${step.path}.next_steps[${i}]`));
    step.else_steps?.forEach((to, i) => add(step, to, 'else', `${step.path}.else_steps[${i}]`));
    const body = step.type === 'loop' ? step.parameters.body : undefined;
    if (Array.isArray(body)) {
      body.forEach((to, i) => {
        if (typeof to === 'string' && to !== '') add(step, to, 'body', `${step.path}.parameters.body[${i}]`);
      });
    }
  }
  return edges;
}

function checkTriggers(
  drafts: readonly StepDraft[],
  triggers: readonly StepDraft[],
  edges: readonly StepEdge[],
  byId: ReadonlyMap<string, StepDraft>,
  issues: ValidationIssues,
): void {
  const allTriggers = drafts.filter((d) => d.type === 'trigger');
  if (allTriggers.length === 0) {
    issues.add('MISSING_TRIGGER', 'steps', 'workflow needs exactly one step with step_type "trigger"');
  }
  if (allTriggers.length > 1) {
    const names = allTriggers.map((t) => t.id ?? t.path).join(', ');
    for (const extra of allTriggers.slice(1)) {
      issues.add('MULTIPLE_TRIGGERS', `${extra.path}.step_type`, `workflow has ${allTriggers.length} triggers (${names}); exactly one is allowed`, extra.id);
    }
  }
  const triggerIds = new Set(triggers.map((t) => t.id));
  for (const e of edges) {
    if (triggerIds.has(e.to)) {
      issues.add('TRIGGER_HAS_INCOMING_EDGE', e.path, `trigger ${JSON.stringify(e.to)} is the entry point; no step may lead to it`, byId.get(e.from)?.id);
    }
  }
}

/** Tarjan's strongly connected components, iterative (no recursion limit on long chains). */
function checkCycles(byId: ReadonlyMap<string, StepDraft>, out: ReadonlyMap<string, StepEdge[]>, issues: ValidationIssues): Set<string> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cyclic = new Set<string>();
  let counter = 0;

  for (const root of byId.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ id: string; edge: number }> = [{ id: root, edge: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const edges = out.get(frame.id) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++].to;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ id: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        const selfLoop = (out.get(frame.id) ?? []).some((e) => e.to === frame.id);
        if (component.length > 1 || selfLoop) {
          component.forEach((id) => cyclic.add(id));
          reportCycle(new Set(component), byId, out, issues);
        }
      }
    }
  }
  return cyclic;
}

function reportCycle(component: ReadonlySet<string>, byId: ReadonlyMap<string, StepDraft>, out: ReadonlyMap<string, StepEdge[]>, issues: ValidationIssues): void {
  const first = [...component].sort((a, b) => byId.get(a)!.index - byId.get(b)!.index)[0];
  // Walk edges inside the component until a step repeats: that walk closes a concrete cycle.
  const walk: string[] = [first];
  const seen = new Map<string, number>([[first, 0]]);
  for (;;) {
    const current = walk[walk.length - 1];
    const next = (out.get(current) ?? []).find((e) => component.has(e.to))!.to;
    if (seen.has(next)) {
      const cycle = [...walk.slice(seen.get(next)!), next];
      const start = byId.get(cycle[0])!;
      issues.add('CYCLE', start.path, `steps form a cycle: ${cycle.join(' → ')}; the graph must be acyclic (repeat work with a loop step's body)`, start.id);
      return;
    }
    seen.set(next, walk.length);
    walk.push(next);
  }
}

function checkReachable(triggers: readonly StepDraft[], byId: ReadonlyMap<string, StepDraft>, out: ReadonlyMap<string, StepEdge[]>, issues: ValidationIssues): void {
  const reached = new Set<string>(triggers.map((t) => t.id as string));
  const queue = [...reached];
  while (queue.length) {
    for (const e of out.get(queue.pop()!) ?? []) {
      if (!reached.has(e.to)) {
        reached.add(e.to);
        queue.push(e.to);
      }
    }
  }
  for (const [id, step] of byId) {
    if (!reached.has(id)) issues.add('UNREACHABLE_STEP', step.path, `step ${JSON.stringify(id)} cannot be reached from the trigger`, id);
  }
}

function checkLoopBodies(
  byId: ReadonlyMap<string, StepDraft>,
  edges: readonly StepEdge[],
  out: ReadonlyMap<string, StepEdge[]>,
  cyclic: ReadonlySet<string>,
  issues: ValidationIssues,
): Set<string> {
  const inLoopBody = new Set<string>();
  const reported = new Set<string>();
  for (const [loopId, loop] of byId) {
    if (loop.type !== 'loop') continue;
    const entries = (out.get(loopId) ?? []).filter((e) => e.kind === 'body').map((e) => e.to);
    const body = new Set<string>(entries);
    const queue = [...entries];
    while (queue.length) {
      for (const e of out.get(queue.pop()!) ?? []) {
        if (!body.has(e.to)) {
          body.add(e.to);
          queue.push(e.to);
        }
      }
    }
    body.forEach((id) => inLoopBody.add(id));
    if (body.has(loopId) || cyclic.has(loopId)) continue; // the cycle is already reported
    for (const e of edges) {
      if (!body.has(e.to) || body.has(e.from) || (e.from === loopId && e.kind === 'body') || reported.has(e.path)) continue;
      reported.add(e.path);
      issues.add(
        'LOOP_BODY_ENTERED_FROM_OUTSIDE',
        e.path,
        `step ${JSON.stringify(e.to)} belongs to the body of loop ${JSON.stringify(loopId)} and may only be reached through that loop, not from ${JSON.stringify(e.from)}`,
        e.from,
      );
    }
  }
  return inLoopBody;
}
