/**
 * The core rows of `npm run bench` (scripts/bench.mjs runs this bundled, adds the replay rows,
 * prints and writes bench/results/core.json). Each row is measured beside its lean reference loop
 * (./lean.ts), sample for sample, so that both see the same machine load: the row prints the
 * core's median, its target, the lean loop's median and the ratio between them.
 *
 * Targets: issue 17. Not a test: nothing fails when a target is missed.
 */
import { Vm } from '../core/vm';
import { createLabStore } from '../store/labStore';
import { leanBroadcast, leanClearIrr, leanMapRebuild, leanTimeTravel, leanUnicast, leanX2apicVcpus } from './lean';

export interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number;
}

export interface BenchRow {
  name: string;
  /** Unit of `core` and `lean`: a time (ms, s) or a rate (IPIs/s). */
  unit: string;
  core: Stats;
  lean: Stats;
  /** What the lean loop does for this row. */
  leanLoop: string;
  /** How many times longer the core takes than the lean loop for the same work (median of the per-sample ratios). */
  ratio: number;
  /** The same from each side's fastest sample: what a quiet machine would show. */
  bestRatio: number;
  target: string;
  pass: boolean;
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], samples: s.length };
}

/**
 * Time `core` and `lean` alternately (which goes first alternates too): `samples` pairs after
 * `warmup` pairs, each sample running the function `reps` times. Returns ms per run.
 */
function paired(core: () => void, lean: () => void, o: { samples: number; warmup: number; reps: number }): { core: number[]; lean: number[] } {
  const time = (fn: () => void) => {
    const t = performance.now();
    for (let r = 0; r < o.reps; r++) fn();
    return (performance.now() - t) / o.reps;
  };
  const out = { core: [] as number[], lean: [] as number[] };
  for (let i = 0; i < o.warmup + o.samples; i++) {
    let c: number, l: number;
    if (i % 2) {
      c = time(core);
      l = time(lean);
    } else {
      l = time(lean);
      c = time(core);
    }
    if (i >= o.warmup) {
      out.core.push(c);
      out.lean.push(l);
    }
  }
  return out;
}

/** A row from per-run times (ms): `toUnit` turns a time into the row's unit (a rate for throughput rows). */
export function row(name: string, unit: string, leanLoop: string, t: { core: number[]; lean: number[] }, target: { text: string; pass: (core: number, ratio: number) => boolean }, toUnit = (ms: number) => ms): BenchRow {
  const ratio = stats(t.core.map((c, i) => c / t.lean[i])).median;
  const bestRatio = Math.min(...t.core) / Math.min(...t.lean);
  const core = stats(t.core.map(toUnit));
  // A rate's median is the rate of the median time (the order flips, the middle stays).
  return { name, unit, core, lean: stats(t.lean.map(toUnit)), leanLoop, ratio, bestRatio, target: target.text, pass: target.pass(core.median, ratio) };
}

function x2apicVm(n: number): Vm {
  const vm = new Vm({ maxVcpus: 4096 });
  for (let i = 0; i < n; i++) vm.createVcpu(i);
  for (const v of vm.vcpus) {
    vm.wrmsr(v, 0x1b, v.apicBase | 0x400n, true);
    vm.wrmsr(v, 0x80f, 0x1ffn, false);
  }
  vm.takeTrace();
  vm.takeDeliveries();
  return vm;
}

/** The in-process core rows, each with its lean loop. */
export function coreRows(): BenchRow[] {
  const rows: BenchRow[] = [];
  const big = x2apicVm(4096);
  const lean = leanX2apicVcpus(4096);

  rows.push(
    row('map rebuild, 4096 x2APIC vCPUs (core)', 'ms', 'phys/logical tables for 4096 x2APIC IDs in typed arrays', paired(
      () => {
        big.markMapDirty();
        big.recalculateApicMap();
        big.takeTrace();
      },
      () => leanMapRebuild(lean),
      { samples: 31, warmup: 5, reps: 20 },
    ), { text: '<= 4x the lean loop', pass: (_, ratio) => ratio <= 4 }),
  );

  {
    const n = 20_000;
    const src = big.vcpus[0];
    const map = leanMapRebuild(lean)!;
    const icr = (i: number) => (BigInt(1 + (i % 4000)) << 32n) | 0x40n;
    rows.push(
      row('unicast Fixed IPIs through the fast path, trace on', 'IPIs/s', 'decode the ICR, phys_map lookup, set IRR', paired(
        () => {
          for (let i = 0; i < n; i++) {
            big.wrmsr(src, 0x830, icr(i), false);
            big.takeTrace();
            big.takeDeliveries();
            big.vcpus[1 + (i % 4000)].apic.setVector(0x200, 0x40, false);
          }
        },
        () => {
          for (let i = 0; i < n; i++) {
            const t = leanUnicast(lean, map, icr(i));
            if (t >= 0) leanClearIrr(lean, t, 0x40);
          }
        },
        { samples: 15, warmup: 3, reps: 1 },
      ), { text: '>= 5 M/s', pass: (rate) => rate >= 5e6 }, (ms) => (n / ms) * 1000),
    );
  }

  rows.push(
    row('one broadcast IPI to 4096 vCPUs', 'ms', 'match 4096 APICs, set IRR in each', paired(
      () => {
        big.wrmsr(big.vcpus[0], 0x830, (0xffffffffn << 32n) | 0x41n, false);
        big.takeTrace();
        big.takeDeliveries();
      },
      () => leanBroadcast(lean, 0xffffffff, 0x41),
      { samples: 31, warmup: 5, reps: 10 },
    ), { text: '<= 0.1 ms', pass: (ms) => ms <= 0.1 }),
  );

  {
    // A 200,000-step log of TPR writes on 16 vCPUs, loaded as a scenario; travel to steps spread over it.
    const n = 200_000;
    const store = createLabStore({ vcpus: 16 });
    const steps = Array.from({ length: n }, (_, i) => ({ op: 'mmio_write', vcpu: i % 16, offset: '0x80', value: i & 0xff }));
    if (!store.getState().loadScenario({ format: 'apic-scenario/1', vm: { vcpus: 16 }, steps }, 'bench')) throw new Error(store.getState().error ?? 'load failed');
    let k = 0;
    let kl = 0;
    rows.push(
      row('time travel: the state after any step of a 200,000-step log (core)', 'ms', 'rebuild 16 register pages, replay k TPR writes from the start', paired(
        () => store.getState().travel((k = (k + 35_711) % n)),
        () => leanTimeTravel((kl = (kl + 35_711) % n), (s) => s & 0xff),
        { samples: 31, warmup: 3, reps: 1 },
      ), { text: '<= 16 ms', pass: (ms) => ms <= 16 }),
    );
  }
  return rows;
}

/** What else the machine was doing, as scripts/bench.mjs found it. */
export interface BenchEnv {
  node: string;
  cpus: string;
  loadStart: number[];
  loadEnd: number[];
  busy: string[];
}

const fmt = (v: number, unit: string) =>
  unit === 'IPIs/s' ? `${(v / 1e6).toFixed(2)} M/s` : unit === 's' ? `${v.toFixed(2)} s` : v >= 10 ? `${v.toFixed(1)} ms` : v >= 0.1 ? `${v.toFixed(3)} ms` : `${(v * 1000).toFixed(1)} us`;

/** The printed report: one line per row, then how loaded the machine was. */
export function formatReport(rows: BenchRow[], env: BenchEnv): string {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const head = ['core row', 'measured', 'target', 'result', 'best', 'lean loop', 'x lean', 'best x lean'];
  // A rate's best sample is its highest, a time's its lowest.
  const best = (r: BenchRow) => (r.unit === 'IPIs/s' ? r.core.max : r.core.min);
  const cells = rows.map((r) => [r.name, fmt(r.core.median, r.unit), r.target, r.pass ? 'PASS' : 'FAIL', fmt(best(r), r.unit), fmt(r.lean.median, r.unit), `${r.ratio.toFixed(1)}x`, `${r.bestRatio.toFixed(1)}x`]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 0 || i === 2 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  return [
    'Core benchmarks. measured: median (PASS/FAIL is on it); best: the fastest sample; x lean: how many times longer than the',
    'lean reference loop doing the same work, sampled alternately with it in this run (median of the pairs; best: fastest / fastest).',
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map(line),
    '',
    'Lean loops (src/bench/lean.ts, src/bench/leanReplay.mjs):',
    ...rows.map((r) => `  ${r.name}: ${r.leanLoop}`),
    '',
    `Machine: ${env.cpus}; node ${env.node}`,
    `Load average (1 / 5 / 15 min): ${load(env.loadStart)} at start, ${load(env.loadEnd)} at the end`,
    env.busy.length ? `Also running (by CPU share): ${env.busy.join('; ')}` : 'Nothing else busy was found running.',
    'Absolute figures move with the load of a shared machine; the ratios to the lean loops move much less.',
  ].join('\n');
}

export { replayCases, type ReplayCase } from './replay';
