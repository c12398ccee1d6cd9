import {
  isStreamEvent,
  stepKey,
  type ErrorBody,
  type ExecutionEvent,
  type ExecutionStatus,
  type IterationPath,
  type Scope,
  type StepStatus,
  type StepType,
  type StreamEvent,
  type TimerScheduled,
  type TriggerInput,
  type WorkflowDefinition,
} from '@jetflow/contracts';
import { compileGraph, type WorkflowGraph } from '../graph/workflow-graph';

export interface StepRun {
  readonly key: string;
  readonly step_id: string;
  readonly step_type: StepType;
  readonly iteration: IterationPath;
  status: StepStatus;
  attempt: number;
  started_at: string | null;
  completed_at: string | null;
  /** When the current attempt started (duration of a failed attempt). */
  attempt_started_at: string | null;
  output?: unknown;
  error?: ErrorBody;
  branch?: 'next' | 'else';
  /** Chat agent steps: the turn in progress and the conversation after the first user message. */
  chat_turn?: number;
  chat?: { role: 'user' | 'assistant'; content: string }[];
  /** Chat message ids already applied (duplicates are ignored). */
  chat_ids?: string[];
}

/** Progress of one loop step instance. */
export interface LoopRun {
  readonly items: readonly unknown[];
  /** Iterations started so far (they start in index order). */
  started: number;
  readonly done: Set<number>;
  readonly results: unknown[];
}

export interface ExecutionState {
  status: 'new' | ExecutionStatus;
  execution_id: string;
  workflow_id: string;
  workflow_version: number;
  definition: WorkflowDefinition;
  graph: WorkflowGraph;
  scope: Scope;
  input: TriggerInput;
  context: Readonly<Record<string, unknown>>;
  user_id: string | null;
  session_id: string | null;
  started_at: string | null;
  completed_at: string | null;
  result?: unknown;
  error?: ErrorBody;
  readonly steps: Map<string, StepRun>;
  readonly loops: Map<string, LoopRun>;
  readonly timers: Map<string, TimerScheduled>;
  /** Number of events folded (diagnostics, replay tests). */
  version: number;
}

const EMPTY_DEFINITION: WorkflowDefinition = { name: '', steps: [] };

export function initialState(): ExecutionState {
  return {
    status: 'new',
    execution_id: '',
    workflow_id: '',
    workflow_version: 0,
    definition: EMPTY_DEFINITION,
    graph: compileGraph(EMPTY_DEFINITION),
    scope: { organization_id: '', project_id: '' },
    input: {},
    context: {},
    user_id: null,
    session_id: null,
    started_at: null,
    completed_at: null,
    steps: new Map(),
    loops: new Map(),
    timers: new Map(),
    version: 0,
  };
}

/** A deep-enough copy for the decider's working state (the caller's state stays untouched). */
export function cloneState(s: ExecutionState): ExecutionState {
  const steps = new Map<string, StepRun>();
  // chat_ids only exist beside chat (a chat step's messages and the id that ended it).
  for (const [k, v] of s.steps) steps.set(k, v.chat ? { ...v, chat: [...v.chat], chat_ids: [...(v.chat_ids ?? [])] } : { ...v });
  const loops = new Map<string, LoopRun>();
  for (const [k, v] of s.loops) loops.set(k, { items: v.items, started: v.started, done: new Set(v.done), results: [...v.results] });
  return { ...s, steps, loops, timers: new Map(s.timers) };
}

export const RESOLVED: ReadonlySet<StepStatus> = new Set(['completed', 'skipped', 'failed', 'cancelled']);
export const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'timeout']);

export function isTerminal(state: ExecutionState): boolean {
  return TERMINAL.has(state.status);
}

/**
 * Folds one event into the state. Never throws: an event that does not apply leaves the state as is.
 * It updates the given state's collections in place and returns it; fold a clone (`cloneState`)
 * when the previous state must survive.
 */
export function evolve(state: ExecutionState, event: ExecutionEvent): ExecutionState {
  state.version++;
  switch (event.type) {
    case 'ExecutionStarted': {
      if (state.status !== 'new') return state;
      state.status = 'running';
      state.execution_id = event.execution_id;
      state.workflow_id = event.workflow_id;
      state.workflow_version = event.workflow_version;
      state.definition = event.definition;
      state.graph = compileGraph(event.definition);
      state.scope = event.scope;
      state.input = event.input;
      state.context = event.context;
      state.user_id = event.user_id;
      state.session_id = event.session_id;
      state.started_at = event.at;
      return state;
    }
    case 'StepStarted': {
      const key = stepKey(event.step_id, event.iteration);
      const prev = state.steps.get(key);
      if (prev && event.chat_turn) {
        // The next turn of a chat step: same record, running again.
        prev.status = 'running';
        prev.attempt = event.attempt;
        prev.chat_turn = event.chat_turn;
        prev.attempt_started_at = event.at;
        return state;
      }
      state.steps.set(key, {
        key,
        step_id: event.step_id,
        step_type: event.step_type,
        iteration: event.iteration ?? [],
        status: 'running',
        attempt: event.attempt,
        started_at: prev?.started_at ?? event.at,
        completed_at: null,
        attempt_started_at: event.at,
      });
      if (event.step_type === 'loop' && event.items && !state.loops.has(key)) {
        state.loops.set(key, { items: event.items, started: 0, done: new Set(), results: new Array(event.items.length).fill(null) });
      }
      noteIterationStarted(state, event.step_id, event.iteration);
      return state;
    }
    case 'StepWaiting': {
      const run = state.steps.get(stepKey(event.step_id, event.iteration));
      if (run) {
        run.status = 'waiting';
        if (event.chat) {
          run.chat_turn = event.chat.turn;
          run.output = event.chat.output;
          const response = (event.chat.output as { response?: unknown } | null)?.response;
          (run.chat ??= []).push({ role: 'assistant', content: typeof response === 'string' ? response : JSON.stringify(event.chat.output ?? null) });
        }
      }
      return state;
    }
    case 'UserMessageAdded': {
      const run = state.steps.get(stepKey(event.step_id, event.iteration));
      if (run) {
        (run.chat ??= []).push({ role: 'user', content: event.content });
        (run.chat_ids ??= []).push(event.message_id);
      }
      return state;
    }
    case 'StepCompleted': {
      const run = state.steps.get(stepKey(event.step_id, event.iteration));
      if (!run) return state;
      run.status = 'completed';
      run.output = event.output;
      run.branch = event.branch;
      run.completed_at = event.at;
      run.error = undefined;
      if (event.message_id !== undefined) (run.chat_ids ??= []).push(event.message_id);
      noteStepResolved(state, run);
      return state;
    }
    case 'StepFailed': {
      const run = state.steps.get(stepKey(event.step_id, event.iteration));
      if (!run) return state;
      run.error = event.error;
      run.status = event.will_retry ? 'pending' : 'failed';
      if (!event.will_retry) {
        run.completed_at = event.at;
        noteStepResolved(state, run);
      }
      return state;
    }
    case 'StepSkipped': {
      const key = stepKey(event.step_id, event.iteration);
      if (state.steps.has(key)) return state;
      const step = state.graph.steps.get(event.step_id);
      const run: StepRun = {
        key,
        step_id: event.step_id,
        step_type: step?.step_type ?? 'data_transform',
        iteration: event.iteration ?? [],
        status: 'skipped',
        attempt: 0,
        started_at: null,
        completed_at: event.at,
        attempt_started_at: null,
      };
      state.steps.set(key, run);
      noteStepResolved(state, run);
      return state;
    }
    case 'StepCancelled': {
      const run = state.steps.get(stepKey(event.step_id, event.iteration));
      if (run && !RESOLVED.has(run.status)) {
        run.status = 'cancelled';
        run.completed_at = event.at;
      }
      return state;
    }
    case 'TimerScheduled':
      state.timers.set(event.timer_id, event);
      return state;
    case 'ExecutionStatusChanged':
      if (!isTerminal(state)) state.status = event.status;
      return state;
    case 'ErrorRaised':
      if (!isTerminal(state)) state.error = event.error;
      return state;
    case 'ExecutionCompleted':
      if (isTerminal(state)) return state;
      state.status = event.status;
      state.result = event.result;
      if (event.error) state.error = event.error;
      state.completed_at = event.at;
      return state;
    default: {
      const _exhaustive: never = event;
      return state;
    }
  }
}

/** Folds a whole history into a fresh state; stream-only events an entry may hold (a step's journal) are skipped. */
export function foldEvents(events: Iterable<ExecutionEvent | StreamEvent>, state: ExecutionState = initialState()): ExecutionState {
  for (const e of events) if (!isStreamEvent(e)) evolve(state, e);
  return state;
}

/** The loop instance key owning an iteration path's region (`loopId` at the parent path). */
export function loopKeyOf(loopId: string, iteration: IterationPath): string {
  return stepKey(loopId, iteration.slice(0, -1));
}

function noteIterationStarted(state: ExecutionState, stepId: string, iteration: IterationPath | undefined): void {
  const loopId = state.graph.regionOf.get(stepId);
  if (!loopId || !iteration?.length) return;
  const loop = state.loops.get(loopKeyOf(loopId, iteration));
  const index = iteration[iteration.length - 1]!;
  if (loop && index + 1 > loop.started) loop.started = index + 1;
}

/** When the last body step of an iteration resolves, record the iteration as done with its result. */
function noteStepResolved(state: ExecutionState, run: StepRun): void {
  const loopId = state.graph.regionOf.get(run.step_id);
  if (!loopId || !run.iteration.length) return;
  const loop = state.loops.get(loopKeyOf(loopId, run.iteration));
  if (!loop) return;
  const index = run.iteration[run.iteration.length - 1]!;
  if (loop.done.has(index)) return;
  const body = state.graph.regionSteps.get(loopId) ?? [];
  let result: unknown = null;
  for (const id of body) {
    const r = state.steps.get(stepKey(id, run.iteration));
    if (!r || !RESOLVED.has(r.status)) return;
    if (r.status === 'completed') result = r.output;
  }
  loop.done.add(index);
  loop.results[index] = result;
}

/** Key of a step attempt's timers and task: chat turns after the first get their own. */
export function attemptKey(run: Pick<StepRun, 'key' | 'chat_turn'>): string {
  return run.chat_turn ? `${run.key}~t${run.chat_turn}` : run.key;
}
