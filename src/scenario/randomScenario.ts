/**
 * Random scenarios (fast-check arbitraries) made of the ops that both the model and the real
 * kernel can run: host and guest MSR accesses (APICBASE transitions, every x2APIC register), ICR
 * writes of every kind, xAPIC MMIO of every register, `ack` and `run`, KVM_SET/GET_LAPIC,
 * X2APIC_API flags, MSIs, MP states and vCPU hotplug, over vCPU id sets that alias.
 * Used by the differential test against /dev/kvm and by the fuzzer.
 */
import fc from 'fast-check';
import { slotKey } from '../core/apicdef';
import type { MpState } from '../core/types';
import type { Scenario, Step } from './schema';
import { parseScenario } from './schema';
import { toDocument } from './document';

const h = (v: number | bigint) => '0x' + v.toString(16);
export { toDocument };

/** vCPU id sets: small, aliasing above 255, and random ones below 4096. */
const vcpuSets = fc.oneof(
  fc.constantFrom<number[]>([0, 1], [0, 1, 2, 3], [0, 1, 256], [256, 0, 1], [0, 256, 512], [1, 257, 2], [0, 15, 16, 17]),
  fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 250, max: 300 }), fc.integer({ min: 0, max: 4095 })), { minLength: 1, maxLength: 6 }),
);

const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0xff, 0x100, 0x1ff, 0x10ff, 0x700, 0x10000, 0xffffffff, 0x0fffffff, 0xff000000, 0x01000000),
  fc.integer({ min: 0, max: 0xffffffff }),
);

const X2APIC_REGS = [0x802, 0x803, 0x808, 0x809, 0x80a, 0x80b, 0x80c, 0x80d, 0x80e, 0x80f, 0x810, 0x817, 0x818, 0x820, 0x827, 0x828, 0x82f, 0x830, 0x831, 0x832, 0x833, 0x834, 0x835, 0x836, 0x837, 0x838, 0x839, 0x83e, 0x83f];
const x2apicMsr = fc.oneof(fc.constantFrom(...X2APIC_REGS), fc.integer({ min: 0x800, max: 0x8ff }));
/** Every register slot of the xAPIC page, weighted towards the ones with rules (ICR, IDs, SPIV, TPR, EOI). */
const mmioOffset = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x300, 0x310, 0x020, 0x0d0, 0x0e0, 0x0f0, 0x080, 0x0b0) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0x3f }).map((n) => n << 4) },
);

function stepArb(ids: number[], maxPhyAddr: number): fc.Arbitrary<Step> {
  const vcpu = fc.constantFrom(...ids);
  const dest = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ids) },
    { weight: 2, arbitrary: fc.constantFrom(0xff, 0xffffffff, 0xf, 0x3, 0x10001, 0x10003, 0x20000, 0) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1ff }) },
  );
  // Delivery modes, weighted towards the ones that land: Fixed, LowestPrio, NMI, INIT, StartUp.
  const mode = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(0, 1) },
    { weight: 3, arbitrary: fc.constantFrom(4, 5, 6) },
    { weight: 1, arbitrary: fc.constantFrom(2, 3, 7) },
  );
  const icr = fc
    .record({
      vector: fc.oneof(fc.integer({ min: 0x20, max: 0xff }), fc.integer({ min: 0, max: 0x1f })),
      mode,
      logical: fc.boolean(),
      level: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      trig: fc.boolean(),
      shorthand: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
      busy: fc.boolean(),
      reserved: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1 << 13, 1 << 16, 1 << 20, 1 << 31) }),
      dest,
    })
    .map((f) => {
      const low = (f.vector | (f.mode << 8) | (f.logical ? 0x800 : 0) | (f.busy ? 0x1000 : 0) | (f.level ? 0x4000 : 0) | (f.trig ? 0x8000 : 0) | (f.shorthand << 18) | f.reserved) >>> 0;
      return (BigInt(f.dest >>> 0) << 32n) | BigInt(low);
    });
  const apicBase = fc
    .record({
      base: fc.constantFrom(0xfee00000n, 0xfed00000n, 0x1fee00000n, 0n),
      en: fc.boolean(),
      extd: fc.boolean(),
      bsp: fc.boolean(),
      reserved: fc.oneof({ weight: 6, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: fc.constantFrom(1n, 1n << 9n, 1n << BigInt(maxPhyAddr), 1n << 63n) }),
    })
    .map((f) => f.base | (f.en ? 0x800n : 0n) | (f.extd ? 0x400n : 0n) | (f.bsp ? 0x100n : 0n) | f.reserved);
  const slot = fc.constantFrom(0x20, 0x80, 0xa0, 0xb0, 0xd0, 0xe0, 0xf0, 0x100, 0x170, 0x180, 0x200, 0x270, 0x280, 0x300, 0x310, 0x320, 0x350, 0x370, 0x380, 0x3e0);
  const image = fc.dictionary(slot.map(slotKey), u32.map(h), { minKeys: 1, maxKeys: 6 });
  const msiDest = fc.oneof(fc.constantFrom(...ids.map((i) => i & 0xff)), fc.constantFrom(0xff, 0, 1), fc.integer({ min: 0, max: 0xff }));

  return fc.oneof(
    { weight: 1, arbitrary: fc.record({ vcpu, value: apicBase, host: fc.boolean() }).map(({ vcpu, value, host }): Step => ({ op: 'wrmsr', vcpu, msr: 0x1bn, value, host })) },
    // Guest code: xAPIC MMIO of every register (ICR with IPIs of every kind), taking interrupts, KVM_RUN.
    {
      weight: 4,
      arbitrary: fc
        .record({ vcpu, offset: mmioOffset, value: u32, icr, dest: fc.constantFrom(...ids.map((i) => i & 0xff), 0xff, 0x0f, 0x03) })
        .map(({ vcpu, offset, value, icr, dest }): Step => ({
          op: 'mmio_write', vcpu, offset: BigInt(offset),
          value: offset === 0x300 ? icr & 0xffffffffn : offset === 0x310 ? BigInt((dest << 24) >>> 0) : BigInt(value),
        })),
    },
    { weight: 2, arbitrary: fc.record({ vcpu, offset: mmioOffset }).map(({ vcpu, offset }): Step => ({ op: 'mmio_read', vcpu, offset: BigInt(offset) })) },
    { weight: 2, arbitrary: vcpu.map((vcpu): Step => ({ op: 'ack', vcpu })) },
    { weight: 1, arbitrary: vcpu.map((vcpu): Step => ({ op: 'run', vcpu })) },
    { weight: 1, arbitrary: fc.record({ vcpu, host: fc.boolean() }).map(({ vcpu, host }): Step => ({ op: 'rdmsr', vcpu, msr: 0x1bn, host })) },
    {
      weight: 2,
      arbitrary: fc.record({ vcpu, msr: x2apicMsr, host: fc.boolean() }).map(({ vcpu, msr, host }): Step => ({ op: 'rdmsr', vcpu, msr: BigInt(msr), host })),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({ vcpu, msr: x2apicMsr, value: u32, high: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 0x80000000) }), host: fc.boolean() })
        .map(({ vcpu, msr, value, high, host }): Step => ({ op: 'wrmsr', vcpu, msr: BigInt(msr), value: (BigInt(high) << 32n) | BigInt(value), host })),
    },
    { weight: 8, arbitrary: fc.record({ vcpu, value: icr, host: fc.boolean() }).map(({ vcpu, value, host }): Step => ({ op: 'wrmsr', vcpu, msr: 0x830n, value, host })) },
    {
      weight: 3,
      arbitrary: fc.record({ vcpu, regs: image, merge: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }).map(
        ({ vcpu, regs, merge }): Step => ({ op: 'set_lapic', vcpu, merge, regs: Object.fromEntries(Object.entries(regs).map(([k, v]) => [k, BigInt(v)])) }),
      ),
    },
    { weight: 1, arbitrary: vcpu.map((vcpu): Step => ({ op: 'get_lapic', vcpu })) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 8, 0x10).map((f): Step => ({ op: 'enable_cap', cap: 'X2APIC_API', flags: BigInt(f) })) },
    {
      weight: 5,
      arbitrary: fc
        .record({
          dest: msiDest,
          logical: fc.boolean(),
          rh: fc.boolean(),
          hi: fc.oneof(fc.constant(0), fc.constantFrom(0x100, 0x200, 0x1), fc.integer({ min: 0, max: 0xffff })),
          vector: fc.integer({ min: 0x10, max: 0xff }),
          mode,
          trig: fc.boolean(),
        })
        .map((f): Step => ({
          op: 'msi',
          addressLo: BigInt((0xfee00000 | (f.dest << 12) | (f.logical ? 4 : 0) | (f.rh ? 8 : 0)) >>> 0),
          addressHi: BigInt(f.hi),
          data: BigInt(f.vector | (f.mode << 8) | (f.trig ? 0x8000 : 0)),
        })),
    },
    { weight: 1, arbitrary: vcpu.map((vcpu): Step => ({ op: 'get_mp_state', vcpu })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ vcpu, state: fc.constantFrom<MpState>('RUNNABLE', 'UNINITIALIZED', 'INIT_RECEIVED', 'HALTED', 'SIPI_RECEIVED', 'STOPPED', 'AP_RESET_HOLD') })
        .map(({ vcpu, state }): Step => ({ op: 'set_mp_state', vcpu, state })),
    },
    { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(4095, 4096, 5000)).map((vcpu): Step => ({ op: 'create_vcpu', vcpu })) },
  );
}

/**
 * Setup a VMM (or a booted guest) would have done, as host steps: some vCPUs switched to x2APIC,
 * most software-enabled, xAPIC ones with flat or cluster logical IDs, so that deliveries land.
 */
function setupArb(ids: number[]): fc.Arbitrary<Step[]> {
  const one = (vcpu: number) =>
    fc
      .record({
        mode: fc.oneof({ weight: 3, arbitrary: fc.constant('xapic') }, { weight: 3, arbitrary: fc.constant('x2apic') }, { weight: 1, arbitrary: fc.constant('disabled') }),
        swEnable: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        cluster: fc.boolean(),
        ldrBit: fc.integer({ min: 0, max: 7 }),
        clusterId: fc.integer({ min: 0, max: 15 }),
      })
      .map((c): Step[] => {
        const steps: Step[] = [];
        if (c.mode !== 'xapic') steps.push({ op: 'wrmsr', vcpu, msr: 0x1bn, value: c.mode === 'x2apic' ? 0xfee00c00n : 0xfee00000n, host: true });
        const regs: Record<string, bigint> = { '0x0f0': c.swEnable ? 0x1ffn : 0xffn };
        if (c.mode === 'xapic') {
          regs['0x0e0'] = c.cluster ? 0x0fffffffn : 0xffffffffn;
          regs['0x0d0'] = BigInt((c.cluster ? (c.clusterId << 28) | (1 << (24 + (c.ldrBit & 3))) : 1 << (24 + c.ldrBit)) >>> 0);
        }
        steps.push({ op: 'set_lapic', vcpu, merge: true, regs });
        return steps;
      });
  return fc.tuple(...ids.map(one)).map((s) => s.flat());
}

/**
 * The kernel's timer runs in host time while these scenarios take no `advance`: an armed timer would
 * fire on the kernel at a moment the model's virtual clock never reaches. So the timer is never
 * armed here (initial count 0 wherever it is written); src/kvm/timerOnKvm.test.ts judges it.
 */
function timerStopped(step: Step): Step {
  if (step.op === 'wrmsr' && step.msr === 0x838n) return { ...step, value: 0n };
  if (step.op === 'mmio_write' && step.offset === 0x380n) return { ...step, value: 0n };
  if (step.op === 'set_lapic' && step.regs['0x380'] !== undefined) return { ...step, regs: { ...step.regs, '0x380': 0n } };
  return step;
}

/** A random scenario: a VM, a setup, and up to `maxSteps` random steps. */
export function scenarioArb(maxSteps = 30): fc.Arbitrary<Scenario> {
  return fc
    .record({ ids: vcpuSets, x2apicCpuid: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), maxPhyAddr: fc.constantFrom(36, 39, 46) })
    .chain(({ ids, x2apicCpuid, maxPhyAddr }) =>
      fc
        .record({
          bsp: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(...ids) }),
          flags: fc.constantFrom([], [1], [2], [3]).map((f) => f.map((x): Step => ({ op: 'enable_cap', cap: 'X2APIC_API', flags: BigInt(x) }))),
          setup: fc.oneof({ weight: 4, arbitrary: setupArb(ids) }, { weight: 1, arbitrary: fc.constant([] as Step[]) }),
          steps: fc.array(stepArb(ids, maxPhyAddr), { minLength: 1, maxLength: maxSteps }),
        })
        .map(({ bsp, flags, setup, steps }) => ({ ids, x2apicCpuid, maxPhyAddr, bsp, steps: [...flags, ...setup, ...steps] })),
    )
    .map(({ ids, x2apicCpuid, maxPhyAddr, bsp, steps }) =>
      parseScenario(toDocument({ vm: { vcpus: ids, x2apicCpuid, maxPhyAddr, bspVcpuId: bsp }, steps: steps.map(timerStopped) })),
    );
}
