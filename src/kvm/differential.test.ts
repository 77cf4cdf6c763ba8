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
    const s = this.seen;
    const guest = step.op === 'mmio_read' || step.op === 'mmio_write' || step.op === 'ack' || step.op === 'run' || ((step.op === 'wrmsr' || step.op === 'rdmsr') && !step.host);
    if (guest) s.add(`guest ${step.op}${step.op === 'wrmsr' && step.msr === 0x1bn ? ' APICBASE' : ''}`);
    if (guest && r.fault === '#GP') s.add('guest #GP');
    if (field(r, 'vector') != null) s.add('ack took an interrupt');
    for (const e of field(r, 'events') ?? []) s.add(`event ${e.code}`);
    if (sends && field(r, 'path')) {
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
    /** Differences the kernel did not show again on two replays of the same scenario, with no host event to explain them. */
    const notReproduced: string[] = [];
    /** The same, after the kernel's guest took an event mid-step (Comparison.hostEvents): host timing. */
    const hostTimed: string[] = [];
    try {
      fc.assert(
        fc.property(scenarioArb(), (s: Scenario) => {
          const c = compareBackends(s, new CoveredModel(s.vm, hostOverrides(host), seen), new KvmBackend(sys, s.vm), { unsupported: 'stop' });
          scenarios++;
          steps += c.steps;
          if (c.stoppedAt) stopped.push(c.stoppedAt.reason.replace(/^step \d+ /, ''));
          if (c.differences.length) {
            // The model is deterministic, the kernel's timing is not: a difference must show again
            // when the kernel replays the scenario. One that does not is timing, and reported. The
            // known kind: a guest self-NMI that this backend injects at the next KVM_RUN, unless the
            // host preempts the vCPU thread mid-step and KVM enters the guest again (the kernel
            // backend reports it, in hostEvents). At most a few unexplained ones may be seen.
            const agreedOnReplay = [0, 1].some(() => compareBackends(s, new ModelBackend(s.vm, hostOverrides(host)), new KvmBackend(sys, s.vm), { unsupported: 'stop' }).differences.length === 0);
            const report = formatComparison(c, [JSON.stringify(toDocument({ vm: s.vm, steps: s.steps }))]);
            if (!agreedOnReplay) throw new Error(report);
            // Host timing explains only what shows from the step the kernel took its event on.
            const since = Math.min(...(c.hostEvents ?? []).map((e) => e.step));
            const afterHostEvent = c.differences.every((d) => (d.step ?? -1) >= since);
            (afterHostEvent ? hostTimed : notReproduced).push(report);
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: false },
      );
    } finally {
      sys.close();
      const why = new Map<string, number>();
      for (const r of stopped) why.set(r, (why.get(r) ?? 0) + 1);
      console.log(`[differential] ${scenarios} scenarios, ${steps} steps compared on Linux ${host.kernel}; ${stopped.length} ended early at a step the kernel cannot run:`);
      for (const [r, n] of why) console.log(`  ${n} x ${r}`);
      for (const r of hostTimed) console.warn(`[differential] a difference after the kernel's guest took an event mid-step (host timing), not shown again on replay:\n${r}`);
      for (const r of notReproduced) console.warn(`[differential] a difference the kernel did not show again on replay (timing):\n${r}`);
    }
    expect(notReproduced.length, 'differences that did not reproduce').toBeLessThanOrEqual(2);
    expect(scenarios).toBeGreaterThanOrEqual(RUNS);
    // Every delivery mode, destination mode, shorthand, logical mode and aliasing situation.
    const wanted = [
      ...MODES.map((m) => `mode ${m}`), 'physical', 'logical', 'shorthand 0', 'shorthand 1', 'shorthand 2', 'shorthand 3',
      'path fast', 'path slow', 'delivered', 'no map (aliased physical IDs)', '32-bit IDs with xAPIC vCPUs above 255',
      ...['SW_DISABLED', 'XAPIC_FLAT', 'XAPIC_CLUSTER', 'X2APIC', 'MAP_DISABLED'].map((m) => `logical map ${m}`),
      // Guest code: every guest op, faults, interrupts taken, NMIs injected, INIT and SIPI processed on entry.
      'guest mmio_read', 'guest mmio_write', 'guest wrmsr', 'guest wrmsr APICBASE', 'guest rdmsr', 'guest ack', 'guest run', 'guest #GP',
      'ack took an interrupt', 'event NMI_INJECTED', 'event INIT_RESET', 'event SIPI_STARTED',
    ];
    expect(wanted.filter((w) => !seen.has(w))).toEqual([]);
  }, 300_000);
});
