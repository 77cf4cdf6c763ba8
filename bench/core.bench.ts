/**
 * `npm run bench`: the core's speed on a machine like CI's (medians; targets from issue 9).
 * Not a test: numbers are reported, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vm } from '../src/core/vm';
import { createLabStore } from '../src/store/labStore';
import { bench, report, summarize, type BenchResult } from './harness';

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

const results: BenchResult[] = [];
const big = x2apicVm(4096);

results.push(
  bench('rebuild the optimized map, 4096 vCPUs in x2APIC mode', () => {
    big.markMapDirty();
    big.recalculateApicMap();
  }, { samples: 50, warmup: 10, target: (v) => v <= 0.25, targetText: '<= 0.25 ms' }),
);

{
  const n = 20_000;
  const src = big.vcpus[0];
  results.push(
    bench('unicast Fixed IPIs, fast path, trace on', () => {
      for (let i = 0; i < n; i++) {
        big.wrmsr(src, 0x830, (BigInt(1 + (i % 4000)) << 32n) | 0x40n, false);
        big.takeTrace();
        big.takeDeliveries();
        big.vcpus[1 + (i % 4000)].apic.setVector(0x200, 0x40, false);
      }
    }, { samples: 9, unit: 'IPIs/s', scale: (ms) => (n / ms) * 1000, target: (v) => v >= 1_000_000, targetText: '>= 1,000,000 IPIs/s' }),
  );
}

results.push(
  bench('one broadcast IPI to 4096 vCPUs', () => {
    big.wrmsr(big.vcpus[0], 0x830, (0xffffffffn << 32n) | 0x41n, false);
    big.takeTrace();
    big.takeDeliveries();
  }, { samples: 30, warmup: 5, target: (v) => v <= 1, targetText: '<= 1 ms' }),
);

{
  // A 100,000-step scenario on 256 vCPUs, replayed by the headless runner in a new process.
  const steps = Array.from({ length: 100_000 }, (_, i) =>
    i % 2 ? { op: 'wrmsr', vcpu: i % 256, msr: '0x830', value: `0x${((i * 7) % 256).toString(16)}00000040` } : { op: 'wrmsr', vcpu: i % 256, msr: '0x808', value: `0x${(i % 256).toString(16)}` },
  );
  const prelude = Array.from({ length: 256 }, (_, v) => ({ op: 'wrmsr', vcpu: v, msr: '0x1b', value: v === 0 ? '0xfee00d00' : '0xfee00c00', host: true }));
  const dir = mkdtempSync(join(tmpdir(), 'lapic-bench-'));
  const file = join(dir, 'replay.json');
  writeFileSync(file, JSON.stringify({ format: 'apic-scenario/1', vm: { vcpus: 256 }, steps: [...prelude, ...steps] }));
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, ['scripts/scenario.mjs', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`runner failed: ${r.stderr}`);
  }
  results.push(summarize('replay 100,000 steps on 256 vCPUs (runner, process start included)', 's', times.map((t) => t / 1000), (v) => v <= 1.5, '<= 1.5 s'));
}

{
  const store = createLabStore({ vcpus: 16 });
  for (let i = 0; i < 10_000; i++) store.getState().apply({ op: 'mmio_write', vcpu: i % 16, offset: '0x80', value: i & 0xff });
  let k = 0;
  results.push(
    bench('time travel: show the state after a step of a 10,000-step log', () => {
      store.getState().travel((k = (k + 3571) % 10_000));
    }, { samples: 20, target: (v) => v <= 100, targetText: '<= 100 ms' }),
  );
}

report('Core benchmarks', results, 'bench/results/core.json');
