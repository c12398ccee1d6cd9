/**
 * Micro-benchmark of the decider's hot path (pure, no I/O). Not a test: run it by hand.
 *
 *   npx tsc -p libs/engine/src/bench/tsconfig.json && node dist/engine-bench/libs/engine/src/bench/decide.bench.js
 *
 * - W1a start: StartExecution of trigger → 3 × data_transform with its inline steps, 10,000 times.
 * - loop inline: StartExecution of trigger → loop of 1,000 items over a data_transform (every
 *   iteration computed inline in the one decision).
 * - loop worker: the same loop over a tool_call body, driven by 1,000 CompleteStep commands, each
 *   decided on the state the previous one produced (the per-command cost on a growing state);
 *   `wide`: the same at concurrency 100 (100 iterations open at a time).
 *
 * `node …/decide.bench.js [w1a|loop|worker|wide]` runs one of them.
 */
import './aliases';
import type { StepDefinition, WorkflowDefinition } from '@jetflow/contracts';
import { decideWithInline, initialState, type ExecutionState } from '../index';
import { startCommand } from '../testing/start-command.fixture';

const start = (definition: WorkflowDefinition, input: Record<string, unknown>) => startCommand('bench', definition, input);

const T0 = '2026-01-01T00:00:00.000Z';


const step = (step_id: string, step_type: StepDefinition['step_type'], parameters: Record<string, unknown>, next_steps: string[]): StepDefinition => ({ step_id, step_type, parameters, next_steps });

const w1a: WorkflowDefinition = {
  name: 'w1a',
  steps: [
    step('trigger', 'trigger', { kind: 'api' }, ['s1']),
    step('s1', 'data_transform', { mapping: { step: 's1', n: '{{input.n}}' } }, ['s2']),
    step('s2', 'data_transform', { mapping: { step: 's2', n: '{{input.n}}' } }, ['s3']),
    step('s3', 'data_transform', { mapping: { step: 's3', n: '{{input.n}}' } }, []),
  ],
};
const loopOf = (body: StepDefinition, concurrency = 1): WorkflowDefinition => ({
  name: 'loop',
  steps: [
    step('trigger', 'trigger', { kind: 'api' }, ['each']),
    step('each', 'loop', { items: '{{input.items}}', body: ['work'], max_iterations: 10_000, concurrency }, []),
    body,
  ],
});
const loopInline = loopOf(step('work', 'data_transform', { mapping: { i: '{{loop.index}}' } }, []));
const toolBody = step('work', 'tool_call', { tool: 'noop', arguments: { i: '{{loop.index}}' } }, []);
const loopWorker = loopOf(toolBody);
const loopWide = loopOf(toolBody, 100);
const items = Array.from({ length: 1000 }, (_, i) => i);

async function w1aStart(): Promise<number> {
  const cmd = start(w1a, { kind: 'api', n: 1 });
  const { state } = await decideWithInline(initialState(), cmd);
  check(state, 'completed');
  return 1;
}

async function loopInlineStart(): Promise<number> {
  const { state } = await decideWithInline(initialState(), start(loopInline, { kind: 'api', items }));
  check(state, 'completed');
  return 1;
}

async function loopWorkerResults(definition: WorkflowDefinition): Promise<number> {
  let { state } = await decideWithInline(initialState(), start(definition, { kind: 'api', items }));
  for (let i = 0; i < items.length; i++) {
    const r = await decideWithInline(state, { type: 'CompleteStep', step_id: 'work', iteration: [i], attempt: 1, output: { ok: i }, now: T0 });
    state = r.state;
  }
  check(state, 'completed');
  return items.length;
}

function check(state: ExecutionState, status: string): void {
  if (state.status !== status) throw new Error(`expected ${status}, got ${state.status}`);
}

/**
 * Runs `op` for `rounds` rounds of `perRound` calls after a warm-up. Prints the median rate (ops =
 * what `op` returns) per second of wall time and per second of this process's CPU time (steadier
 * on a busy machine).
 */
async function measure(name: string, op: () => Promise<number>, perRound: number, rounds: number): Promise<void> {
  for (let i = 0; i < Math.max(1, perRound / 10); i++) await op();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let ops = 0;
    const t = process.hrtime.bigint();
    const c = process.cpuUsage();
    for (let i = 0; i < perRound; i++) ops += await op();
    const used = process.cpuUsage(c);
    wall.push(ops / (Number(process.hrtime.bigint() - t) / 1e9));
    cpu.push(ops / ((used.user + used.system) / 1e6));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`${name.padEnd(52)} ${fmt(median(wall)).padStart(10)} ops/s wall ${fmt(median(cpu)).padStart(10)} ops/s CPU   (${rounds} rounds)`);
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

async function main(): Promise<void> {
  const only = process.argv[2];
  if (!only || only === 'w1a') await measure('W1a start (trigger → 3 × data_transform), 10,000 ×', w1aStart, 10_000, 7);
  if (!only || only === 'loop') await measure('loop of 1,000 inline iterations (one start)', loopInlineStart, 5, 7);
  if (!only || only === 'worker') await measure('loop of 1,000 tool_call iterations (per result)', () => loopWorkerResults(loopWorker), 2, 7);
  if (!only || only === 'wide') await measure('same, concurrency 100 (per result)', () => loopWorkerResults(loopWide), 2, 7);
}

void main();
