/** A small benchmark harness: warm-up, repeated samples, a figure with min / max, a table and a JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';

export interface BenchResult {
  name: string;
  unit: string;
  /** The row's figure, the one its target is on: the median of the samples, or as `stat` says. */
  value: number;
  /** What `value` is: the samples' median, their 95th percentile, or the one sample. */
  stat: 'median' | 'p95' | 'one';
  median: number;
  min: number;
  max: number;
  samples: number;
  target?: string;
  meets?: boolean;
}

/** Time `fn` (ms) `samples` times after `warmup` runs; `scale` turns ms into the reported unit. */
export function bench(name: string, fn: () => void, opts: { samples?: number; warmup?: number; unit?: string; scale?: (ms: number) => number; target?: (v: number) => boolean; targetText?: string } = {}): BenchResult {
  const { samples = 15, warmup = 3, unit = 'ms', scale = (ms) => ms } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const xs: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    fn();
    xs.push(scale(performance.now() - t));
  }
  return summarize(name, unit, xs, opts.target, opts.targetText);
}

export function summarize(name: string, unit: string, xs: number[], target?: (v: number) => boolean, targetText?: string): BenchResult {
  const s = [...xs].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)];
  return { name, unit, value: median, stat: s.length === 1 ? 'one' : 'median', median, min: s[0], max: s[s.length - 1], samples: s.length, target: targetText, meets: target ? target(median) : undefined };
}

/** A row whose figure is the 95th percentile of `xs`, its target `<= limit`. */
export function summarizeP95(name: string, unit: string, xs: number[], limit: number): BenchResult {
  const value = [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
  return { ...summarize(name, unit, xs), value, stat: 'p95', target: `<= ${limit} ${unit} p95`, meets: value <= limit };
}

const fmt = (v: number) => (v >= 1000 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3));

export function report(title: string, results: BenchResult[], file: string): void {
  const rows = results.map((r) => [r.name, fmt(r.value), r.stat, fmt(r.min), fmt(r.max), String(r.samples), r.unit, r.target ?? '', r.meets === undefined ? '' : r.meets ? 'yes' : 'NO']);
  const head = ['benchmark', 'measured', 'as', 'min', 'max', 'samples', 'unit', 'target', 'meets'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\n${title}\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(file, JSON.stringify({ title, date: new Date().toISOString(), node: process.version, results }, null, 2) + '\n');
  console.log(`\nwritten to ${file}`);
}
