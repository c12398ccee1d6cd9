import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeJson, encodeJson } from '@jetflow/bus';

/** Last fired tick of one schedule, with the KV revision it was read at (for compare-and-set). */
export interface ScheduleMark {
  readonly last_tick: string;
  readonly revision: number;
}

/**
 * The last fired tick per workflow, in the JetStream KV bucket `<prefix>jetflow_schedules`. Writes
 * are compare-and-set and only move forward, so replicas and restarts agree on the watermark.
 */
export class ScheduleStateStore {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, opts: { prefix?: string; replicas?: number } = {}): Promise<ScheduleStateStore> {
    const kv = await new Kvm(nc).create(`${opts.prefix ?? ''}jetflow_schedules`, { history: 1, replicas: opts.replicas ?? 1 });
    return new ScheduleStateStore(kv);
  }

  async get(workflowId: string): Promise<ScheduleMark | null> {
    const entry = await this.kv.get(workflowId);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return null;
    return { last_tick: decodeJson<{ last_tick: string }>(entry.value).last_tick, revision: entry.revision };
  }

  /** The stored mark, created with `initial` when there is none (first writer wins). */
  async getOrCreate(workflowId: string, initial: string): Promise<ScheduleMark> {
    for (let i = 0; i < 5; i++) {
      const found = await this.get(workflowId);
      if (found) return found;
      try {
        const revision = await this.kv.create(workflowId, encodeJson({ last_tick: initial }));
        return { last_tick: initial, revision };
      } catch {
        // Another replica created it first: read theirs.
      }
    }
    throw new Error(`schedule state for ${workflowId} could not be created`);
  }

  /** Moves the mark forward to `tick` (never back). Returns the mark now stored. */
  async advance(workflowId: string, mark: ScheduleMark, tick: string): Promise<ScheduleMark> {
    let current = mark;
    for (let i = 0; i < 10; i++) {
      if (Date.parse(current.last_tick) >= Date.parse(tick)) return current;
      try {
        const revision = await this.kv.update(workflowId, encodeJson({ last_tick: tick }), current.revision);
        return { last_tick: tick, revision };
      } catch {
        const fresh = await this.get(workflowId);
        if (!fresh) return this.getOrCreate(workflowId, tick);
        current = fresh;
      }
    }
    throw new Error(`schedule state for ${workflowId} kept changing`);
  }
}
