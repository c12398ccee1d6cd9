import { collectDefaultMetrics, register } from 'prom-client';
import type { ExecutionActorHost, RecoverySweeper, TaskDispatcher } from '@jetflow/executions';
import { regexSandbox } from '@jetflow/expressions';
import type { LogProjector } from '@jetflow/projections';
import type { StepTaskWorker } from '@jetflow/step-workers';
import { scrapedCounter, scrapedGauge, scrapedHistogram, type HistogramSample, type Labels, type Samples } from '../../gateway/src/metrics/scraped-metrics';

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

/** The process's own (CPU, memory, event-loop lag), as the gateway registers them; once per process. */
export function processMetrics(): void {
  if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
}

type Read = (p: EngineParts) => Samples | undefined;

/** `read` of every registered part, summed per label set with `add`. */
function sumOver<V>(read: (p: EngineParts) => Iterable<readonly [Labels, V]> | undefined, add: (a: V, b: V) => V): Iterable<readonly [Labels, V]> {
  const out = new Map<string, [Labels, V]>();
  for (const p of parts) {
    for (const [labels, value] of read(p) ?? []) {
      const key = JSON.stringify(labels);
      const prev = out.get(key);
      out.set(key, [labels, prev ? add(prev[1], value) : value]);
    }
  }
  return out.values();
}

const addNumbers = (a: number, b: number) => a + b;
/** Histograms with the same bounds. */
const addHistograms = (a: HistogramSample, b: HistogramSample): HistogramSample => ({
  bounds: b.bounds,
  cumulative: b.cumulative.map((n, i) => n + (a.cumulative[i] ?? 0)),
  count: a.count + b.count,
  sum: a.sum + b.sum,
});

const counter = (name: string, help: string, read: Read) => scrapedCounter(name, help, () => sumOver(read, addNumbers));
const gauge = (name: string, help: string, read: Read) => scrapedGauge(name, help, () => sumOver(read, addNumbers));

/** Samples from the stats of the part `pick` finds, if this set of services has one. */
const from =
  <T>(pick: (p: EngineParts) => { stats(): T } | undefined, samples: (s: T) => Samples): Read =>
  (p) => {
    const x = pick(p);
    return x && samples(x.stats());
  };
const one = (value: number): Samples => [[{}, value]];
const byLabel = (label: string, values: Record<string, number>): Samples => Object.entries(values).map(([v, n]) => [{ [label]: v }, n] as const);
/** One sample per projector, labelled with its durable. */
const perProjector =
  (field: 'entries' | 'batches' | 'failures' | 'skipped'): Read =>
  (p) =>
    p.projectors?.map((x) => {
      const s = x.stats();
      return [{ durable: s.durable }, s[field]] as const;
    });

/** Registers the metrics of the kinds of parts `p` has (a steps-only process shows no actor series). */
function ensureMetrics(p: EngineParts): void {
  processMetrics();
  if (p.host || p.worker) {
    // Process-wide: the actor host (inline steps) and the step workers (tool schemas) share one sandbox.
    scrapedCounter('jetflow_regex_sandbox_matches_total', 'User regex matches answered by the sandbox thread (patterns V8 cannot run in linear time)', () => one(regexSandbox.stats().done));
    scrapedCounter(
      'jetflow_regex_sandbox_refusals_total',
      'Uses of a user regex refused with VALIDATION_ERROR, by reason: over_budget (its sandboxed matches took over 500 ms), unavailable (the sandbox thread could not start)',
      () => {
        const s = regexSandbox.stats();
        return byLabel('reason', { over_budget: s.over_budget, unavailable: s.unavailable });
      },
    );
  }
  if (p.host) {
    const host = (q: EngineParts) => q.host;
    counter('jetflow_executions_started_total', 'Runs started by this process (ExecutionStarted appended)', from(host, (s) => one(s.started)));
    counter('jetflow_executions_finished_total', 'Runs ended by this process, by final status', from(host, (s) => byLabel('status', s.ended)));
    counter('jetflow_log_appends_total', 'Decisions appended to execution logs', from(host, (s) => one(s.appends)));
    counter('jetflow_log_append_conflicts_total', 'Appends that lost to another writer (the actor caught up and decided again)', from(host, (s) => one(s.conflicts)));
    gauge('jetflow_actors_cached', 'Execution actors held in memory, by run state', from(host, (s) => byLabel('state', s.cached)));
  }
  if (p.dispatcher) {
    const dispatcher = (q: EngineParts) => q.dispatcher;
    counter(
      'jetflow_step_tasks_dispatched_total',
      'Step tasks sent to workers: handed to a worker of this process (local), published to the work queue (queue), handed back to the queue by a local worker whose result was not recorded (requeue), published again by the recovery sweep (redispatch)',
      from(dispatcher, (s) => byLabel('path', { local: s.local, queue: s.queued, requeue: s.requeued, redispatch: s.redispatched })),
    );
    counter(
      'jetflow_timers_dispatched_total',
      'Durable timers published (delays, retries, timeouts): when scheduled (first) or again by the recovery sweep (redispatch)',
      from(dispatcher, (s) => byLabel('path', { first: s.timers, redispatch: s.timersRedispatched })),
    );
  }
  if (p.worker) {
    const worker = (q: EngineParts) => q.worker;
    gauge('jetflow_step_tasks_running', 'Step handlers running in this process', from(worker, (s) => one(s.running)));
    gauge('jetflow_step_tasks_held', 'Step tasks this process runs outside the work queue (taken from its own actor host)', from(worker, (s) => one(s.held)));
    counter(
      'jetflow_step_results_total',
      'Step results reported by this process: completed / failed (recorded by the actor) or not_recorded (the task runs again)',
      from(worker, (s) => s.results.map((r) => [{ step_type: r.step_type, outcome: r.outcome }, r.count] as const)),
    );
    scrapedHistogram('jetflow_step_duration_seconds', 'How long step handlers took in this process, by step type and outcome (completed / failed)', () =>
      sumOver((p) => p.worker?.stats().durations.map((d) => [{ step_type: d.step_type, outcome: d.outcome }, d.histogram] as const), addHistograms),
    );
  }
  if (p.sweeper) {
    counter(
      'jetflow_recovery_sweeps_total',
      'Recovery sweep passes, by result (what they published again: the dispatched metrics with path="redispatch")',
      from((q) => q.sweeper, (s) => byLabel('result', { ok: s.passes, failed: s.failures })),
    );
  }
  if (p.projectors?.length) {
    counter('jetflow_projector_entries_total', 'Log entries applied to the read models, by durable consumer', perProjector('entries'));
    counter('jetflow_projector_batches_total', 'Read-model batches committed, by durable consumer', perProjector('batches'));
    counter('jetflow_projector_batch_failures_total', 'Read-model batches that failed and were retried, by durable consumer', perProjector('failures'));
    counter('jetflow_projector_skipped_total', 'Log entries a read model could not apply even on their own and skipped (logged with their ids), by durable consumer', perProjector('skipped'));
  }
}
