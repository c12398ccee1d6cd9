import type { StepDefinition, WorkflowDefinition } from '@jetflow/contracts';

/**
 * A validated definition compiled for planning. A region is the top level (`null`) or the body of
 * one loop step; edges never cross regions (the validator guarantees it).
 */
export interface WorkflowGraph {
  readonly steps: ReadonlyMap<string, StepDefinition>;
  readonly trigger: string;
  /** Predecessors through `next_steps`/`else_steps`, same region. */
  readonly preds: ReadonlyMap<string, readonly string[]>;
  /** Owning loop step of each step, `null` at top level. */
  readonly regionOf: ReadonlyMap<string, string | null>;
  /** Steps of each region in topological order. */
  readonly regionSteps: ReadonlyMap<string | null, readonly string[]>;
  /** Per loop step: its body entry step ids. */
  readonly bodyEntries: ReadonlyMap<string, readonly string[]>;
  /** Per step inside a parallel branch (before the join): the parallel step and the branch head. */
  readonly branchOf: ReadonlyMap<string, { readonly parallel: string; readonly head: string }>;
  /** Per parallel step: step ids of each branch (keyed by head). */
  readonly branches: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>;
}

const cache = new WeakMap<WorkflowDefinition, WorkflowGraph>();

/** Compiles (and caches per definition object) the planning graph. */
export function compileGraph(definition: WorkflowDefinition): WorkflowGraph {
  const cached = cache.get(definition);
  if (cached) return cached;
  const steps = new Map(definition.steps.map((s) => [s.step_id, s] as const));
  const trigger = definition.steps.find((s) => s.step_type === 'trigger')?.step_id ?? definition.steps[0]?.step_id ?? '';
  const preds = new Map<string, string[]>();
  for (const s of definition.steps) preds.set(s.step_id, []);
  for (const s of definition.steps) {
    for (const to of edgesOf(s)) preds.get(to)?.push(s.step_id);
  }
  const regionOf = new Map<string, string | null>();
  const bodyEntries = new Map<string, string[]>();
  const assign = (roots: readonly string[], region: string | null): void => {
    const queue = [...roots];
    while (queue.length) {
      const id = queue.shift()!;
      const step = steps.get(id);
      if (!step || regionOf.has(id)) continue;
      regionOf.set(id, region);
      queue.push(...edgesOf(step));
      if (step.step_type === 'loop') {
        const body = bodyOf(step);
        bodyEntries.set(id, body);
        assign(body, id);
      }
    }
  };
  assign([trigger], null);
  for (const s of definition.steps) if (!regionOf.has(s.step_id)) regionOf.set(s.step_id, null);
  const regionSteps = new Map<string | null, string[]>();
  for (const id of topologicalOrder(definition.steps, preds)) {
    const region = regionOf.get(id) ?? null;
    const list = regionSteps.get(region) ?? [];
    list.push(id);
    regionSteps.set(region, list);
  }
  const { branchOf, branches } = parallelBranches(definition.steps, steps);
  const graph: WorkflowGraph = { steps, trigger, preds, regionOf, regionSteps, bodyEntries, branchOf, branches };
  cache.set(definition, graph);
  return graph;
}

/** Every outgoing edge of a step (both branches). */
export function edgesOf(step: StepDefinition): readonly string[] {
  return step.else_steps?.length ? [...step.next_steps, ...step.else_steps] : step.next_steps;
}

/** Edges taken for a branch. */
export function branchEdges(step: StepDefinition, branch: 'next' | 'else'): readonly string[] {
  return branch === 'else' ? (step.else_steps ?? []) : step.next_steps;
}

export function bodyOf(step: StepDefinition): string[] {
  const body = step.parameters['body'];
  return Array.isArray(body) ? body.filter((b): b is string => typeof b === 'string') : [];
}

/**
 * A parallel's branches: the steps reachable from each of its `next_steps` that no other branch
 * reaches (the first shared step is the join). Inner parallels claim their own steps first.
 */
function parallelBranches(list: readonly StepDefinition[], steps: ReadonlyMap<string, StepDefinition>) {
  const branchOf = new Map<string, { parallel: string; head: string }>();
  const branches = new Map<string, Map<string, Set<string>>>();
  const reach = (from: string): Set<string> => {
    const seen = new Set<string>();
    const queue = [from];
    while (queue.length) {
      const id = queue.shift()!;
      const step = steps.get(id);
      if (!step || seen.has(id)) continue;
      seen.add(id);
      queue.push(...edgesOf(step));
    }
    return seen;
  };
  const parallels = list.filter((s) => s.step_type === 'parallel');
  // Inner (later-reached) parallels first, so a step belongs to its closest parallel.
  for (const p of [...parallels].reverse()) {
    const reached = new Map(p.next_steps.map((h) => [h, reach(h)] as const));
    const perHead = new Map<string, Set<string>>();
    for (const [head, set] of reached) {
      const own = new Set([...set].filter((id) => [...reached].every(([h, other]) => h === head || !other.has(id))));
      perHead.set(head, own);
      for (const id of own) if (!branchOf.has(id)) branchOf.set(id, { parallel: p.step_id, head });
    }
    branches.set(p.step_id, perHead);
  }
  return { branchOf, branches };
}

function topologicalOrder(steps: readonly StepDefinition[], preds: ReadonlyMap<string, readonly string[]>): string[] {
  const indegree = new Map<string, number>();
  for (const s of steps) indegree.set(s.step_id, preds.get(s.step_id)?.length ?? 0);
  const byId = new Map(steps.map((s) => [s.step_id, s] as const));
  const queue = steps.filter((s) => indegree.get(s.step_id) === 0).map((s) => s.step_id);
  const order: string[] = [];
  while (queue.length) {
    const id = queue.shift()!;
    order.push(id);
    for (const to of edgesOf(byId.get(id)!)) {
      const d = (indegree.get(to) ?? 0) - 1;
      indegree.set(to, d);
      if (d === 0) queue.push(to);
    }
  }
  // A cyclic definition never gets here (validation); keep every step anyway.
  for (const s of steps) if (!order.includes(s.step_id)) order.push(s.step_id);
  return order;
}
