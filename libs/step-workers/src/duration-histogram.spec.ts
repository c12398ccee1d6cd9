import { DurationHistogram, STEP_DURATION_BOUNDS } from './duration-histogram';

describe('DurationHistogram', () => {
  it('counts each duration in the first bucket whose bound holds it, cumulatively per bound', () => {
    const h = new DurationHistogram([0.01, 0.1, 1]);
    for (const s of [0.002, 0.01, 0.05, 0.3, 0.9, 5]) h.observe(s);
    const snap = h.snapshot();
    expect(snap.bounds).toEqual([0.01, 0.1, 1]);
    // ≤ 0.01: 0.002 and 0.01 (a bound is inclusive, as Prometheus' `le`); ≤ 0.1: + 0.05; ≤ 1: + 0.3, 0.9.
    expect(snap.cumulative).toEqual([2, 3, 5]);
    // 5 s is above every bound: only in the count (the `+Inf` bucket).
    expect(snap.count).toBe(6);
    expect(snap.sum).toBeCloseTo(6.262, 6);
  });

  it('ignores what is not a duration', () => {
    const h = new DurationHistogram();
    h.observe(Number.NaN);
    h.observe(-1);
    expect(h.snapshot()).toEqual({ bounds: STEP_DURATION_BOUNDS, cumulative: STEP_DURATION_BOUNDS.map(() => 0), count: 0, sum: 0 });
  });

  it('a snapshot is a copy: later observations do not change it', () => {
    const h = new DurationHistogram([1]);
    h.observe(0.5);
    const first = h.snapshot();
    h.observe(0.5);
    expect(first.cumulative).toEqual([1]);
    expect(h.snapshot().cumulative).toEqual([2]);
  });
});
