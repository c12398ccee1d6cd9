/** A dependency-free SVG: throughput (x) vs latency p50 (solid) and p99 (dashed), log-scale y. */
export interface Series {
  name: string;
  points: { x: number; p50: number; p99: number }[];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function renderChart(series: Series[], title: string): string {
  const W = 860, H = 480, L = 70, R = 250, T = 40, B = 50;
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.p50));
  const xmax = Math.max(1, ...pts.map((p) => p.x)) * 1.08;
  const ys = pts.flatMap((p) => [p.p50, p.p99]).filter((v) => Number.isFinite(v) && v > 0);
  const ymin = Math.max(0.1, Math.min(1, ...ys) / 1.5);
  const ymax = Math.max(10, ...ys) * 1.5;
  const X = (x: number) => L + (x / xmax) * (W - L - R);
  const Y = (y: number) => T + (1 - (Math.log10(Math.max(y, ymin)) - Math.log10(ymin)) / (Math.log10(ymax) - Math.log10(ymin))) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`);
  // axes + grid
  for (let e = Math.floor(Math.log10(ymin)); e <= Math.ceil(Math.log10(ymax)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < ymin || v > ymax) continue;
      out.push(`<line x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/><text x="${L - 6}" y="${Y(v) + 4}" text-anchor="end">${v}</text>`);
    }
  }
  const step = 10 ** Math.floor(Math.log10(xmax / 5));
  const xs = Math.ceil(xmax / 5 / step) * step;
  for (let x = 0; x <= xmax; x += xs) out.push(`<line x1="${X(x)}" x2="${X(x)}" y1="${T}" y2="${H - B}" stroke="#eee"/><text x="${X(x)}" y="${H - B + 16}" text-anchor="middle">${x}</text>`);
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">completed executions/s (open loop at 10%, 50% of max; last point: closed-loop max)</text>`);
  out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">latency ms (log) — p50 solid, p99 dashed</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const ps = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.p50)).sort((a, b) => a.x - b.x);
    for (const [k, dash] of [['p50', ''], ['p99', ' stroke-dasharray="5 4"']] as const) {
      const d = ps.filter((p) => Number.isFinite(p[k])).map((p, j) => `${j ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p[k]).toFixed(1)}`).join(' ');
      if (d) out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"${dash}/>`);
      for (const p of ps) if (Number.isFinite(p[k])) out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p[k]).toFixed(1)}" r="3" fill="${c}"/>`);
    }
    out.push(`<rect x="${W - R + 15}" y="${T + i * 22}" width="14" height="4" fill="${c}"/><text x="${W - R + 35}" y="${T + i * 22 + 6}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
