import { collectDefaultMetrics, Counter, Gauge, register } from 'prom-client';
import type { ExecutionActorHost, RecoverySweeper, TaskDispatcher } from '@jetflow/executions';
import type { LogProjector } from '@jetflow/projections';
import type { StepTaskWorker } from '@jetflow/step-workers';

/** The engine objects of one set of services whose counters this process exposes. */
export interface EngineParts {
  readonly host?: Pick<ExecutionActorHost, 'stats'>;
  readonly dispatcher?: Pick<TaskDispatcher, 'stats'>;
  readonly sweeper?: Pick<RecoverySweeper, 'stats'>;
  readonly worker?: Pick<StepTaskWorker, 'stats'>;
  readonly projectors?: readonly Pick<LogProjector, 'stats'>[];
}

const parts = new Set<EngineParts>();

/**
 * Exposes the engine's counters in prom-client's default registry (served by the gateway's
 * `/metrics`, or by the metrics listener of a process without a gateway). Nothing is counted on the
 * hot path but plain integers in the engine objects: the metrics read their `stats()` when scraped.
 * Several sets of services in one process (tests) are summed. Returns the function that removes
 * `p` again (on stop).
 */
export function registerEngineMetrics(p: EngineParts): () => void {
  ensureMetrics(p);
  parts.add(p);
  return () => void parts.delete(p);
}

type Labels = Record<string, string>;

/** Sums `read(part)` per label set over every registered part. */
function totals(read: (p: EngineParts) => [Labels, number][] | undefined): Map<string, [Labels, number]> {
  const out = new Map<string, [Labels, number]>();
  for (const p of parts) {
    for (const [labels, value] of read(p) ?? []) {
      const key = JSON.stringify(labels);
      const prev = out.get(key);
      out.set(key, [labels, (prev?.[1] ?? 0) + value]);
    }
  }
  return out;
}

function counter(name: string, help: string, labelNames: string[], read: (p: EngineParts) => [Labels, number][] | undefined): void {
  if (register.getSingleMetric(name)) return;
  new Counter({
    name,
    help,
    labelNames,
    collect() {
      this.reset();
      for (const [labels, value] of totals(read).values()) this.inc(labels, value);
    },
  });
}

function gauge(name: string, help: string, labelNames: string[], read: (p: EngineParts) => [Labels, number][] | undefined): void {
  if (register.getSingleMetric(name)) return;
  new Gauge({
    name,
    help,
    labelNames,
    collect() {
      this.reset();
      for (const [labels, value] of totals(read).values()) this.set(labels, value);
    },
  });
}

/** The process's own (CPU, memory, event-loop lag), as the gateway registers them; once per process. */
export function processMetrics(): void {
  if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
}

/** Registers the metrics of the kinds of parts `p` has (a steps-only process shows no actor series). */
function ensureMetrics(p: EngineParts): void {
  processMetrics();
  if (p.host) hostMetrics();
  if (p.dispatcher) dispatcherMetrics();
  if (p.worker) workerMetrics();
  if (p.sweeper) sweeperMetrics();
  if (p.projectors?.length) projectorMetrics();
}

function hostMetrics(): void {
  counter('jetflow_executions_started_total', 'Runs started by this process (ExecutionStarted appended)', [], (p) => p.host && [[{}, p.host.stats().started]]);
  counter('jetflow_executions_finished_total', 'Runs ended by this process, by final status', ['status'], (p) => p.host && Object.entries(p.host.stats().ended).map(([status, n]) => [{ status }, n]));
  counter('jetflow_log_appends_total', 'Decisions appended to execution logs', [], (p) => p.host && [[{}, p.host.stats().appends]]);
  counter('jetflow_log_append_conflicts_total', 'Appends that lost to another writer (the actor caught up and decided again)', [], (p) => p.host && [[{}, p.host.stats().conflicts]]);
  gauge('jetflow_actors_cached', 'Execution actors held in memory, by run state', ['state'], (p) => {
    if (!p.host) return undefined;
    const c = p.host.stats().cached;
    return [
      [{ state: 'running' }, c.running],
      [{ state: 'finished' }, c.finished],
    ];
  });
}

function dispatcherMetrics(): void {
  counter(
    'jetflow_step_tasks_dispatched_total',
    'Step tasks sent to workers: handed to a worker of this process (local), published to the work queue (queue), handed back to the queue by a local worker whose result was not recorded (requeue), published again by the recovery sweep (redispatch)',
    ['path'],
    (p) => {
      if (!p.dispatcher) return undefined;
      const s = p.dispatcher.stats();
      return [
        [{ path: 'local' }, s.local],
        [{ path: 'queue' }, s.queued],
        [{ path: 'requeue' }, s.requeued],
        [{ path: 'redispatch' }, s.redispatched],
      ];
    },
  );
  counter('jetflow_timers_dispatched_total', 'Durable timers published (delays, retries, timeouts): when scheduled (first) or again by the recovery sweep (redispatch)', ['path'], (p) => {
    if (!p.dispatcher) return undefined;
    const s = p.dispatcher.stats();
    return [
      [{ path: 'first' }, s.timers],
      [{ path: 'redispatch' }, s.timersRedispatched],
    ];
  });
}

function workerMetrics(): void {
  gauge('jetflow_step_tasks_running', 'Step handlers running in this process', [], (p) => p.worker && [[{}, p.worker.stats().running]]);
  gauge('jetflow_step_tasks_held', 'Step tasks this process runs outside the work queue (taken from its own actor host)', [], (p) => p.worker && [[{}, p.worker.stats().held]]);
  counter('jetflow_step_results_total', 'Step results reported by this process: completed / failed (recorded by the actor) or not_recorded (the task runs again)', ['step_type', 'outcome'], (p) =>
    p.worker?.stats().results.map((r) => [{ step_type: r.step_type, outcome: r.outcome }, r.count]),
  );
}

function sweeperMetrics(): void {
  counter('jetflow_recovery_sweeps_total', 'Recovery sweep passes, by result (what they published again: the dispatched metrics with path="redispatch")', ['result'], (p) => {
    if (!p.sweeper) return undefined;
    const s = p.sweeper.stats();
    return [
      [{ result: 'ok' }, s.passes],
      [{ result: 'failed' }, s.failures],
    ];
  });
}

function projectorMetrics(): void {
  counter('jetflow_projector_entries_total', 'Log entries applied to the read models, by durable consumer', ['durable'], (p) => p.projectors?.map((x) => [{ durable: x.stats().durable }, x.stats().entries]));
  counter('jetflow_projector_batches_total', 'Read-model batches committed, by durable consumer', ['durable'], (p) => p.projectors?.map((x) => [{ durable: x.stats().durable }, x.stats().batches]));
  counter('jetflow_projector_batch_failures_total', 'Read-model batches that failed and were retried, by durable consumer', ['durable'], (p) =>
    p.projectors?.map((x) => [{ durable: x.stats().durable }, x.stats().failures]),
  );
}
