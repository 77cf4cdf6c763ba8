/**
 * The fuzzer's scenarios: the differential test's random scenarios (src/scenario/randomScenario.ts)
 * plus ops the kernel oracle cannot run (guest MMIO and APICBASE writes, ack, run, nested and SMM
 * ops), under random KVM releases and vendors.
 */
import fc from 'fast-check';
import { scenarioArb } from '../scenario/randomScenario';
import { createVm } from '../scenario/runner';
import { parseScenario, ScenarioInputError, type Scenario, type Step } from '../scenario/schema';
import type { Vm } from '../core/vm';

const RELEASES = ['current', '7.0', '6.19', '6.18', '6.12', '6.11', '6.3', '6.2', '6.0', '5.19', '5.18', '5.17', '5.11', '5.10'];

function guestStep(ids: number[]): fc.Arbitrary<Step> {
  const vcpu = fc.constantFrom(...ids);
  return fc.oneof(
    fc.record({ vcpu, offset: fc.integer({ min: 0, max: 0x3ff }), value: fc.integer({ min: 0, max: 0xffffffff }) }).map(({ vcpu, offset, value }): Step => ({ op: 'mmio_write', vcpu, offset: BigInt(offset & ~3), value: BigInt(value) })),
    fc.record({ vcpu, offset: fc.integer({ min: 0, max: 0x1003 }) }).map(({ vcpu, offset }): Step => ({ op: 'mmio_read', vcpu, offset: BigInt(offset) })),
    fc.record({ vcpu, value: fc.constantFrom(0xfee00c00n, 0xfee00800n, 0xfee00000n, 0xfed00800n, 0xfee00d00n, 0xfee00400n) }).map(({ vcpu, value }): Step => ({ op: 'wrmsr', vcpu, msr: 0x1bn, value })),
    vcpu.map((vcpu): Step => ({ op: 'ack', vcpu })),
    vcpu.map((vcpu): Step => ({ op: 'run', vcpu })),
    fc.record({ vcpu, op: fc.constantFrom('vmxon', 'vmxoff', 'leave_guest', 'enter_smm', 'rsm', 'clgi', 'stgi') }).map(({ vcpu, op }) => ({ op, vcpu }) as Step),
    fc.record({ vcpu, activity: fc.constantFrom('active', 'wait-for-sipi') as fc.Arbitrary<'active' | 'wait-for-sipi'>, interceptInit: fc.boolean() }).map(({ vcpu, activity, interceptInit }): Step => ({ op: 'enter_guest', vcpu, activity, interceptInit })),
  );
}

export function fuzzScenarioArb(): fc.Arbitrary<Scenario> {
  return scenarioArb(30).chain((s) => {
    const ids = (Array.isArray(s.vm.vcpus) ? s.vm.vcpus : [0, 1]) as number[];
    return fc
      .record({
        kvm: fc.constantFrom(...RELEASES),
        vendor: fc.constantFrom('intel', 'amd') as fc.Arbitrary<'intel' | 'amd'>,
        apicv: fc.boolean(),
        x2avicExt: fc.boolean(),
        extra: fc.array(fc.tuple(fc.nat(), guestStep(ids)), { maxLength: 15 }),
      })
      .map(({ kvm, vendor, apicv, x2avicExt, extra }) => {
        const steps = [...s.steps];
        for (const [at, step] of extra) steps.splice(at % (steps.length + 1), 0, step);
        return parseScenario({ ...s.raw, vm: { ...s.raw.vm as object, kvm, vendor, apicv, x2avicExt }, steps: steps.map(toJson) });
      });
  });
}

const toJson = (step: Step) => JSON.parse(JSON.stringify(step, (_k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v)));

/** Steps the fuzzer's scenarios lack: timers, local interrupts, PV IPIs (the model runs them, the kernel oracle not all). */
function timerStep(ids: number[]): fc.Arbitrary<Step> {
  const vcpu = fc.constantFrom(...ids);
  const w = (offset: number, value: fc.Arbitrary<number>) => fc.record({ vcpu, value }).map(({ vcpu, value }): Step => ({ op: 'mmio_write', vcpu, offset: BigInt(offset), value: BigInt(value) }));
  return fc.oneof(
    w(0x320, fc.constantFrom(0x40, 0x20040, 0x40040, 0x10040, 0x400)), // LVTT: one-shot, periodic, TSC-deadline, masked, NMI
    w(0x380, fc.constantFrom(0, 1, 1000, 100_000)), // TMICT
    w(0x3e0, fc.constantFrom(0, 3, 0xb)), // TDCR
    w(0x350, fc.constantFrom(0x400, 0x700, 0x10000)), // LVT0: NMI, ExtINT, masked
    fc.record({ vcpu, value: fc.constantFrom(1n, 1000n, 1n << 40n) }).map(({ vcpu, value }): Step => ({ op: 'wrmsr', vcpu, msr: 0x6e0n, value })),
    fc.constantFrom(1, 999, 10_000, 250_000, 5_000_000).map((ns): Step => ({ op: 'advance', ns: BigInt(ns) })),
    fc.constant<Step>({ op: 'advance', until: 'next-timer-expiry' }),
    fc.record({ vcpu, lvt: fc.constantFrom('LINT0', 'LINT1', 'PERF', 'CMCI') }).map(({ vcpu, lvt }) => ({ op: 'local_irq', vcpu, lvt }) as Step),
    fc.constant<Step>({ op: 'nmi_watchdog' }),
    fc
      .record({
        vcpu,
        min: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ids, 0) }, { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 0xfffffff0) }, { weight: 1, arbitrary: fc.nat() }),
        low: fc.oneof({ weight: 2, arbitrary: fc.constantFrom(1n, 3n, 0xffn, 0xffffffffn) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
        high: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
        icr: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 0xffff }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xfffff }) }),
        op64: fc.boolean(),
      })
      .map(({ vcpu, min, low, high, icr, op64 }): Step => ({ op: 'pv_send_ipi', vcpu, bitmapLow: low, bitmapHigh: high, min: BigInt(min), icr: BigInt(icr), op64 })),
  );
}

/** The fuzzer's scenarios with timer, local-interrupt and watchdog steps mixed in. */
export function fuzzScenarioWithTimersArb(): fc.Arbitrary<Scenario> {
  return fuzzScenarioArb().chain((s) =>
    fc.array(fc.tuple(fc.nat(), timerStep(s.vm.vcpus as number[])), { maxLength: 12 }).map((extra) => {
      const steps = [...s.steps];
      for (const [at, step] of extra) steps.splice(at % (steps.length + 1), 0, step);
      return { ...s, steps };
    }),
  );
}

/** The VM of a random scenario, or null when the modelled kernel refuses to create it (a vCPU set a release refuses). */
export function randomScenarioVm(s: Scenario): Vm | null {
  try {
    return createVm(s.vm);
  } catch (e) {
    if (e instanceof ScenarioInputError) return null;
    throw e;
  }
}
