import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@jetflow/bus';
import type { ScheduleTarget } from '@jetflow/contracts';
import { TestNatsServer } from '../../../test/support/nats-server';
import { eventually } from '../../../test/support/eventually';
import { Scheduler, ScheduleStateStore } from './index';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('Scheduler against a real nats-server (KV watermark)', () => {
  let server: TestNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await TestNatsServer.start();
    nc = await connectNats({ servers: server.url, name: 'scheduler-test' });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  /** A scheduler over one per-second schedule, a settable clock and a log of fired ticks. */
  async function harness(prefix: string, target: ScheduleTarget, fired: string[], catchUp = true) {
    let now = T0;
    const state = await ScheduleStateStore.open(nc, { prefix });
    const scheduler = new Scheduler(
      { listSchedules: async () => [target], fire: async (_t, tick) => void fired.push(tick), state, clock: () => new Date(now) },
      { catchUp, refreshMs: 50, checkMs: 10 },
    );
    await scheduler.start();
    return { scheduler, setNow: (ms: number) => (now = ms) };
  }

  const target = (): ScheduleTarget => ({
    workflow_id: randomUUID(),
    scope: { organization_id: 'o', project_id: 'p' },
    version: 1,
    cron: '* * * * * *',
    active_since: iso(T0 - 500),
  });

  it('a restart neither re-fires nor skips; a long outage gives exactly one catch-up run', async () => {
    const prefix = `S${randomUUID().slice(0, 8)}_`;
    const t = target();
    const fired: string[] = [];
    const a = await harness(prefix, t, fired);
    a.setNow(T0 + 2_100);
    await eventually(() => fired.length === 3);
    expect(fired).toEqual([iso(T0), iso(T0 + 1_000), iso(T0 + 2_000)]);
    await a.scheduler.stop();

    // Back right away: continues with the next tick, nothing repeated, nothing skipped.
    const b = await harness(prefix, t, fired);
    b.setNow(T0 + 3_050);
    await eventually(() => fired.length === 4);
    expect(fired.at(-1)).toBe(iso(T0 + 3_000));
    await b.scheduler.stop();

    // Down for an hour: one catch-up (the latest missed tick), then the on-time ticks.
    const c = await harness(prefix, t, fired);
    c.setNow(T0 + 3_600_000 + 100);
    await eventually(() => fired.length >= 5);
    c.setNow(T0 + 3_601_100);
    await eventually(() => fired.includes(iso(T0 + 3_601_000)));
    await c.scheduler.stop();
    const afterOutage = fired.slice(4);
    expect(afterOutage[0]).toBe(iso(T0 + 3_598_000));
    expect(afterOutage.slice(1)).toEqual([iso(T0 + 3_599_000), iso(T0 + 3_600_000), iso(T0 + 3_601_000)]);
    expect(new Set(fired).size).toBe(fired.length);
  });

  it('SCHEDULE_CATCH_UP=false drops ticks missed while down', async () => {
    const prefix = `S${randomUUID().slice(0, 8)}_`;
    const t = target();
    const fired: string[] = [];
    const a = await harness(prefix, t, fired, false);
    a.setNow(T0 + 100);
    await eventually(() => fired.length === 1);
    await a.scheduler.stop();
    const b = await harness(prefix, t, fired, false);
    b.setNow(T0 + 600_000 + 100);
    await eventually(() => fired.length >= 2);
    await b.scheduler.stop();
    // Only the ticks inside the grace window (not a catch-up of the ten missed minutes).
    expect(fired.slice(1).every((tick) => Date.parse(tick) >= T0 + 598_000)).toBe(true);
  });

  it('two schedulers sharing the watermark fire every tick, and the mark only moves forward', async () => {
    const prefix = `S${randomUUID().slice(0, 8)}_`;
    const t = target();
    const firedA: string[] = [];
    const firedB: string[] = [];
    const a = await harness(prefix, t, firedA);
    const b = await harness(prefix, t, firedB);
    for (let s = 0; s <= 3; s++) {
      a.setNow(T0 + s * 1_000 + 50);
      b.setNow(T0 + s * 1_000 + 50);
      await eventually(() => new Set([...firedA, ...firedB]).has(iso(T0 + s * 1_000)));
    }
    await a.scheduler.stop();
    await b.scheduler.stop();
    // Every tick fired by at least one replica (the executions service dedupes repeats by key).
    expect([...new Set([...firedA, ...firedB])].sort()).toEqual([0, 1, 2, 3].map((s) => iso(T0 + s * 1_000)));
    const state = await ScheduleStateStore.open(nc, { prefix });
    expect((await state.get(t.workflow_id))?.last_tick).toBe(iso(T0 + 3_000));
  });
});
