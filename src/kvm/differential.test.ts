/**
 * The differential test (issue 3): seeded random scenarios replayed on the model and on the real
 * /dev/kvm must agree on everything the kernel lets userspace observe. fast-check shrinks a
 * failing scenario to a small one. DIFF_RUNS and DIFF_SEED make longer or other runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBackends, formatComparison } from '../scenario/compare';
import { ModelBackend } from '../scenario/modelBackend';
import { scenarioArb, toDocument } from '../scenario/randomScenario';
import type { StepResult } from '../scenario/result';
import type { Scenario, Step } from '../scenario/schema';
import { KvmBackend, probeHost } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { field } from '../scenario/result';
import { kvmAvailability, openKvm } from './kvmIoctl';

const avail = kvmAvailability();
if (!avail.ok) console.warn(`[src/kvm] differential test skipped: ${avail.reason}`);

const RUNS = Number(process.env.DIFF_RUNS ?? 300);

const MODES = ['Fixed', 'LowestPrio', 'SMI', 'RemoteRead', 'NMI', 'INIT', 'StartUp', 'ExtINT'];

/** The model, noting which delivery situations the random scenarios reached. */
class CoveredModel extends ModelBackend {
  constructor(vm: Scenario['vm'], overrides: ConstructorParameters<typeof ModelBackend>[1], private readonly seen: Set<string>) {
    super(vm, overrides);
  }
  override applyStep(step: Step, i: number): StepResult {
    const map = this.vm.apicMap;
    const sends = step.op === 'msi' ? { data: Number(step.data), logical: (Number(step.addressLo) & 4) !== 0, shorthand: 0 }
      : step.op === 'wrmsr' && step.msr === 0x830n ? { data: Number(step.value & 0xffffffffn), logical: (step.value & 0x800n) !== 0n, shorthand: Number((step.value >> 18n) & 3n) }
      : null;
    const r = super.applyStep(step, i);
    if (sends && field(r, 'path')) {
      const s = this.seen;
      s.add(`mode ${MODES[(sends.data >> 8) & 7]}`);
      s.add(sends.logical ? 'logical' : 'physical');
      s.add(`shorthand ${sends.shorthand}`);
      s.add(`path ${field(r, 'path')}`);
      s.add(map ? `logical map ${map.logicalMode}` : 'no map (aliased physical IDs)');
      if (map && this.vm.x2apicFormat && this.vm.vcpus.some((v) => !v.apic.x2apicMode && v.apic.hwEnabled && v.id > 0xff)) s.add('32-bit IDs with xAPIC vCPUs above 255');
      if (field(r, 'delivered')?.length) s.add('delivered');
    }
    return r;
  }
}
const SEED = Number(process.env.DIFF_SEED ?? 20261121);

describe.skipIf(!avail.ok)('model versus the real kernel (differential)', () => {
  it(`agrees on ${RUNS} random scenarios (seed ${SEED})`, async () => {
    const sys = await openKvm();
    const host = probeHost(sys);
    let steps = 0;
    let scenarios = 0;
    const seen = new Set<string>();
    const stopped: string[] = [];
    try {
      fc.assert(
        fc.property(scenarioArb(), (s: Scenario) => {
          const c = compareBackends(s, new CoveredModel(s.vm, hostOverrides(host), seen), new KvmBackend(sys, s.vm), { unsupported: 'stop' });
          scenarios++;
          steps += c.steps;
          if (c.stoppedAt) stopped.push(c.stoppedAt.reason.replace(/^step \d+ /, ''));
          if (c.differences.length) {
            throw new Error(formatComparison(c, [JSON.stringify(toDocument({ vm: s.vm, steps: s.steps }))]));
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: false },
      );
    } finally {
      sys.close();
      console.log(`[differential] ${scenarios} scenarios, ${steps} steps compared on Linux ${host.kernel}`);
    }
    expect(scenarios).toBeGreaterThanOrEqual(RUNS);
    // Every delivery mode, destination mode, shorthand, logical mode and aliasing situation.
    const wanted = [
      ...MODES.map((m) => `mode ${m}`), 'physical', 'logical', 'shorthand 0', 'shorthand 1', 'shorthand 2', 'shorthand 3',
      'path fast', 'path slow', 'delivered', 'no map (aliased physical IDs)', '32-bit IDs with xAPIC vCPUs above 255',
      ...['SW_DISABLED', 'XAPIC_FLAT', 'XAPIC_CLUSTER', 'X2APIC', 'MAP_DISABLED'].map((m) => `logical map ${m}`),
    ];
    expect(wanted.filter((w) => !seen.has(w))).toEqual([]);
  }, 300_000);
});
