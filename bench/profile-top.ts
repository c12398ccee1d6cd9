/** `node dist/bench/profile-top.js <file.cpuprofile> [n]`: self time by function and by package/file. */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const file = process.argv[2]!;
const n = Number(process.argv[3] ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const byFn = new Map<string, number>();
const byArea = new Map<string, number>();
let total = 0;
for (const node of prof.nodes) {
  const us = self.get(node.id) ?? 0;
  total += us;
  const url = node.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/work\/main\//, '');
  const fn = `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + us);
  const area = url === '' ? node.callFrame.functionName || '(native)' : url.startsWith('node:') ? url : url.includes('node_modules/') ? url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1') : url.replace(/\/[^/]+$/, '');
  byArea.set(area, (byArea.get(area) ?? 0) + us);
}
const show = (m: Map<string, number>) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`total ${(total / 1000).toFixed(0)} ms sampled\n\n== self time by package / source folder ==\n${show(byArea)}\n\n== self time by function ==\n${show(byFn)}`);
