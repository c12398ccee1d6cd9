import { dueTicks } from './schedule-ticks';

const at = (iso: string) => new Date(iso);
const iso = (ds: Date[]) => ds.map((d) => d.toISOString());

describe('dueTicks', () => {
  const opts = { graceMs: 2_000, catchUp: true };

  it('fires nothing before the next tick', () => {
    expect(dueTicks('* * * * * *', undefined, at('2026-01-01T00:00:05.000Z'), at('2026-01-01T00:00:05.900Z'), opts)).toEqual([]);
  });

  it('fires each on-time tick once, the boundary tick included', () => {
    expect(iso(dueTicks('* * * * * *', undefined, at('2026-01-01T00:00:05.000Z'), at('2026-01-01T00:00:07.000Z'), opts))).toEqual([
      '2026-01-01T00:00:06.000Z',
      '2026-01-01T00:00:07.000Z',
    ]);
  });

  it('collapses ticks missed while down into one catch-up run (the latest missed)', () => {
    expect(iso(dueTicks('0 * * * * *', undefined, at('2026-01-01T00:00:00.000Z'), at('2026-01-01T05:30:30.000Z'), opts))).toEqual(['2026-01-01T05:30:00.000Z']);
  });

  it('drops missed ticks without catch-up, still fires on-time ones', () => {
    const now = at('2026-01-01T00:01:00.500Z');
    expect(dueTicks('0 * * * * *', undefined, at('2026-01-01T00:00:00.000Z'), at('2026-01-01T00:00:59.000Z'), { ...opts, catchUp: false })).toEqual([]);
    expect(iso(dueTicks('0 * * * * *', undefined, at('2026-01-01T00:00:00.000Z'), now, { ...opts, catchUp: false }))).toEqual(['2026-01-01T00:01:00.000Z']);
  });

  it('catch-up plus the on-time ticks after a short outage', () => {
    expect(iso(dueTicks('* * * * * *', undefined, at('2026-01-01T00:00:00.000Z'), at('2026-01-01T00:00:10.000Z'), opts))).toEqual([
      '2026-01-01T00:00:08.000Z',
      '2026-01-01T00:00:09.000Z',
      '2026-01-01T00:00:10.000Z',
    ]);
  });

  it('reads the cron in its timezone', () => {
    const ticks = dueTicks('0 9 * * *', 'America/New_York', at('2026-01-01T00:00:00.000Z'), at('2026-01-01T14:00:01.000Z'), opts);
    expect(iso(ticks)).toEqual(['2026-01-01T14:00:00.000Z']);
  });
});
