/** W0 JetStream ceilings and W7 actor rebuild, with the same client library the engine uses. */
import '../apps/all-in-one/src/register-aliases';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { EventStore, ensureStreams } from '@jetflow/event-store';
import { foldEvents } from '@jetflow/engine';
import type { ExecutionEvent } from '@jetflow/contracts';
import { median, summarizeRuns, type LatencySummary } from './lib/util';

const enc = new TextEncoder();

export interface W0Result {
  /** Rates: the median of `runs` windows, with every window's rate; latency percentiles: the median of the windows'. */
  appendOneAtATime: { rate: number; rates: number[]; latency: LatencySummary };
  appendWindowed: { rate: number; rates: number[]; window: number };
  replay10k: { ms: number[]; medianMs: number; msgsPerSec: number };
}

async function timedAppends(js: JetStreamClient, subject: string, payload: Uint8Array, ms: number, window: number): Promise<{ n: number; lat: number[] }> {
  const lat: number[] = [];
  let n = 0;
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await js.publish(subject, payload);
      lat.push(performance.now() - t);
      n++;
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return { n, lat };
}

async function replay(js: JetStreamClient, stream: string, subject: string, count: number, parse = false): Promise<number> {
  const t = performance.now();
  const consumer = await js.consumers.get(stream, { filter_subjects: subject });
  const messages = await consumer.consume({ max_messages: 1000 });
  let n = 0;
  for await (const m of messages) {
    if (parse) JSON.parse(new TextDecoder().decode(m.data));
    if (++n >= count) break;
  }
  messages.stop();
  const ms = performance.now() - t;
  await consumer.delete().catch(() => undefined);
  return ms;
}

export async function w0(natsUrl: string, opts: { durationMs: number; runs: number }): Promise<W0Result> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH_W0', subjects: ['bench.>'], storage: StorageType.File });
  const js = jetstream(nc);
  const payload = enc.encode('x'.repeat(256));
  await timedAppends(js, 'bench.warm', payload, 300, 16); // warm-up
  // Alternating windows, so a slow moment of the machine does not fall on one kind only.
  const one: { n: number; lat: number[] }[] = [];
  const win: { n: number; lat: number[] }[] = [];
  for (let r = 0; r < opts.runs; r++) {
    one.push(await timedAppends(js, 'bench.one', payload, opts.durationMs, 1));
    win.push(await timedAppends(js, 'bench.win', payload, opts.durationMs, 256));
  }
  const rate = (w: { n: number }) => (w.n / opts.durationMs) * 1000;
  // 10k-message log on one subject, then replay it with an ordered consumer.
  await Promise.all(Array.from({ length: 10 }, async (_, k) => {
    for (let i = 0; i < 1000; i++) await js.publish('bench.replay', enc.encode(JSON.stringify({ type: 'X', k, i, pad: 'y'.repeat(200) })));
  }));
  const times: number[] = [];
  for (let r = 0; r < Math.max(3, opts.runs); r++) times.push(await replay(js, 'BENCH_W0', 'bench.replay', 10_000));
  await jsm.streams.delete('BENCH_W0');
  await nc.close();
  const m = median(times);
  return {
    appendOneAtATime: { rate: median(one.map(rate)), rates: one.map(rate), latency: summarizeRuns(one.map((w) => w.lat)) },
    appendWindowed: { rate: median(win.map(rate)), rates: win.map(rate), window: 256 },
    replay10k: { ms: times, medianMs: m, msgsPerSec: 10_000 / (m / 1000) },
  };
}

export interface W7Result {
  events: number;
  messages: number;
  rebuildMs: number[];
  rebuildMedianMs: number;
  rawReplayMs: number[];
  rawReplayMedianMs: number;
  ratioToRawReplay: number;
  foldedSteps: number;
}

/**
 * A loop execution's log of `n` events: `prefix` (ExecutionStarted, with `id` as execution id, and
 * the loop's StepStarted) then StepStarted/StepCompleted pairs of `bodyStep`, and, when `complete`,
 * an ExecutionCompleted as the n-th event.
 */
export function loopLog(prefix: ExecutionEvent[], id: string, bodyStep: string, n: number, complete: boolean): ExecutionEvent[] {
  const events: ExecutionEvent[] = prefix.map((e) => (e.type === 'ExecutionStarted' ? ({ ...e, execution_id: id } as ExecutionEvent) : e));
  const at = new Date().toISOString();
  const body = complete ? n - 1 : n;
  for (let i = 0; events.length < body; i++) {
    events.push({ type: 'StepStarted', step_id: bodyStep, step_type: 'data_transform', iteration: [i], attempt: 1, at } as unknown as ExecutionEvent);
    if (events.length < body) events.push({ type: 'StepCompleted', step_id: bodyStep, iteration: [i], attempt: 1, output: { i, ok: true }, branch: 'next', duration_ms: 0, at } as unknown as ExecutionEvent);
  }
  if (complete) events.push({ type: 'ExecutionCompleted', status: 'completed', result: { bench: true }, at } as unknown as ExecutionEvent);
  return events;
}

/** One event per message, in order (batches of 500 in flight; one subject keeps the publish order). */
async function publishInOrder(js: JetStreamClient, subject: string, events: ExecutionEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    await Promise.all(events.slice(i, i + 500).map((e) => js.publish(subject, enc.encode(JSON.stringify([e])))));
  }
}

/**
 * W6 late subscriber fixture: a finished execution `id` (a UUID, so the gateway serves it) whose
 * log holds `n` events, one per message, the last an ExecutionCompleted.
 */
export async function catchUpLog(natsUrl: string, prefix: ExecutionEvent[], id: string, bodyStep: string, n: number): Promise<number> {
  const nc: NatsConnection = await connect({ servers: natsUrl });
  try {
    const events = loopLog(prefix, id, bodyStep, n, true);
    await publishInOrder(jetstream(nc), `jetflow.exec.${id}.events`, events);
    return events.length;
  } finally {
    await nc.close();
  }
}

/**
 * W7: an execution log of 10,000 events, one event per JetStream message (the worst case: every
 * step result its own append), rebuilt the way the actor host does on a cache miss:
 * `EventStore.read()` + `foldEvents()`. Compared with a raw ordered-consumer replay of the same subject.
 */
export async function w7(natsUrl: string, prefix: ExecutionEvent[], bodyStep: string, runs: number): Promise<W7Result> {
  const nc: NatsConnection = await connect({ servers: natsUrl });
  await ensureStreams(nc, {});
  const js = jetstream(nc);
  const id = `w7${Date.now().toString(36)}`;
  const subject = `jetflow.exec.${id}.events`;
  const events = loopLog(prefix, id, bodyStep, 10_000, false);
  // Fixture, outside the measured window.
  await publishInOrder(js, subject, events);
  const store = new EventStore(nc, {});
  const rebuild: number[] = [];
  const raw: number[] = [];
  let folded = 0;
  const R = Math.max(3, runs);
  for (let r = 0; r < R; r++) {
    const t = performance.now();
    const entries = await store.read(id);
    const state = foldEvents(entries.flatMap((e) => e.events));
    rebuild.push(performance.now() - t);
    folded = state.steps.size;
    raw.push(await replay(js, 'JETFLOW_EXECUTIONS', subject, events.length));
  }
  await nc.close();
  const rm = median(rebuild);
  const rr = median(raw);
  return { events: events.length, messages: events.length, rebuildMs: rebuild, rebuildMedianMs: rm, rawReplayMs: raw, rawReplayMedianMs: rr, ratioToRawReplay: rm / rr, foldedSteps: folded };
}
