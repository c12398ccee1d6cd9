import { readFileSync, readdirSync } from 'node:fs';

// One copy of the port helpers for tests and bench (plain node:net, no jest): compiled into
// dist/test/support by the import.
export { freePort, waitForPort } from '../../test/support/ports';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Percentile (nearest rank) of an unsorted array; NaN when empty. */
export function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(values: number[]): LatencySummary {
  // A loop, not Math.max(...values): a fast window holds more samples than a call's argument limit.
  let max = values.length ? -Infinity : NaN;
  for (const v of values) if (v > max) max = v;
  return { n: values.length, p50: pct(values, 50), p99: pct(values, 99), p999: pct(values, 99.9), max };
}

/** Percentiles over several runs: each the median of the runs' own, with the range of their p99. */
export interface RunsSummary extends LatencySummary {
  runs: number;
  p99Range: [number, number];
}

/** Summarizes each run on its own, then takes the median of each percentile (runs without samples are left out). */
export function summarizeRuns(runs: number[][]): RunsSummary {
  const per = runs.map(summarize).filter((s) => s.n > 0);
  if (per.length === 0) return { n: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN, runs: 0, p99Range: [NaN, NaN] };
  const p99s = per.map((s) => s.p99);
  return {
    n: per.reduce((a, s) => a + s.n, 0),
    p50: median(per.map((s) => s.p50)),
    p99: median(p99s),
    p999: median(per.map((s) => s.p999)),
    max: Math.max(...per.map((s) => s.max)),
    runs: per.length,
    p99Range: [Math.min(...p99s), Math.max(...p99s)],
  };
}

/** `; p99 per run 41–65 ms` when there were several runs, else nothing. */
export function p99RangeNote(s: RunsSummary, what = 'p99'): string {
  return s.runs > 1 ? `; ${what} per run ${round(s.p99Range[0], 1)}–${round(s.p99Range[1], 1)} ms (median of ${s.runs})` : '';
}

export function median(values: number[]): number {
  return pct(values, 50);
}

export const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

/** utime+stime of a process in ms, or undefined if it is gone. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14, stime field 15
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Peak resident set (VmHWM) in MiB. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Current resident set (VmRSS) in MiB. */
export function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Descendant pids of `root` (inclusive), from /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}
