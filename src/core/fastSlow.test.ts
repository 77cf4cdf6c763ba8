/**
 * The optimized map is a cache of kvm_apic_match_dest(): over random VMs and destinations the
 * fast path must reach exactly the vCPUs the slow path matches, except where KVM's two paths are
 * known to differ. Each such deviation is named, and checked on its own below.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapGetDestLapic, matchDest, type LapicIrq } from './delivery';
import { DEVIATIONS, explainFastSlow as explain, fastSlowDifference, type Deviation } from './fastSlowDeviations';
import { makeReadyVm, makeVm, mmioW, vcpu } from './testVm';
import type { Vm } from './vm';

interface VcpuSetup { mode: 'xapic' | 'x2apic' | 'disabled'; sw: boolean; xid: number | null; ldr: number; cluster: boolean }

function buildVm(ids: number[], setups: VcpuSetup[], flags: number): Vm {
  const vm = makeReadyVm(ids);
  if (flags) vm.enableX2apicApi(BigInt(flags));
  ids.forEach((id, n) => {
    const s = setups[n];
    const v = vcpu(vm, id);
    if (s.mode === 'x2apic') vm.wrmsr(v, 0x1b, 0xfee00c00n, true);
    if (s.mode === 'xapic') {
      if (s.xid !== null) mmioW(vm, id, 0x20, s.xid << 24);
      mmioW(vm, id, 0xe0, s.cluster ? 0x0fffffff : 0xffffffff);
      mmioW(vm, id, 0xd0, s.ldr << 24);
    }
    if (s.sw) vm.setLapic(v, Object.assign(vm.getLapic(v), { [0xf0 >> 2]: 0x1ff }));
    if (s.mode === 'disabled') vm.wrmsr(v, 0x1b, 0xfee00000n, true);
  });
  for (const v of vm.vcpus) vm.setLapic(v, vm.getLapic(v)); // every vCPU online in the map
  return vm;
}

const setupArb = fc.record({
  mode: fc.constantFrom<VcpuSetup['mode']>('xapic', 'xapic', 'x2apic', 'x2apic', 'disabled'),
  sw: fc.boolean(),
  xid: fc.option(fc.integer({ min: 0, max: 7 }), { nil: null }),
  ldr: fc.constantFrom(0, 1, 2, 4, 8, 0x10, 0x21, 0x12, 3),
  cluster: fc.boolean(),
});

const caseArb = fc
  .uniqueArray(fc.oneof(fc.integer({ min: 0, max: 7 }), fc.constantFrom(16, 17, 255, 256, 257, 300)), { minLength: 1, maxLength: 6 })
  .chain((ids) =>
    fc.record({
      ids: fc.constant(ids),
      setups: fc.array(setupArb, { minLength: ids.length, maxLength: ids.length }),
      flags: fc.constantFrom(0, 1, 2, 3),
      irq: fc.record({
        destId: fc.oneof(fc.constantFrom(...ids), fc.constantFrom(0, 1, 2, 3, 0xf, 0x12, 0xff, 0x10001, 0x10003, 0xffffffff, 300)),
        logical: fc.boolean(),
        deliveryMode: fc.constantFrom(0, 4, 5),
      }),
      src: fc.option(fc.constantFrom(...ids), { nil: null }),
    }),
  );

describe('fast path = slow path (kvm_apic_map_get_dest_lapic vs kvm_apic_match_dest)', () => {
  const seen = new Map<Deviation, number>();
  it('agree on random VMs and destinations, except the named deviations', () => {
    let compared = 0;
    fc.assert(
      fc.property(caseArb, ({ ids, setups, flags, irq: f, src }) => {
        const vm = buildVm(ids, setups, flags);
        const srcApic = src === null ? null : vcpu(vm, src).apic;
        const irq: LapicIrq = { ...f, vector: 0x40, level: true, trigLevel: false, shorthand: 0, msiRedirHint: false };
        const slots = mapGetDestLapic(vm, srcApic, irq);
        if (!slots) return; // refused: the slow path decides alone
        compared++;
        const fastSet = new Set(slots.filter((t) => t !== undefined).map((t) => t!.id));
        const slowSet = new Set(vm.vcpus.filter((v) => v.apic.hwEnabled && matchDest(vm, v.apic, srcApic, irq)).map((v) => v.id));
        if ([...fastSet].sort().join() === [...slowSet].sort().join()) return;
        const why = explain(vm, irq, fastSet, slowSet);
        if (!why) throw new Error(`fast ${[...fastSet]} != slow ${[...slowSet]} for ${JSON.stringify({ ids, setups, flags, irq: f, src, map: vm.apicMap?.logicalMode })}`);
        for (const w of why) seen.set(w, (seen.get(w) ?? 0) + 1);
      }),
      { numRuns: 6000, seed: 42 },
    );
    expect(compared).toBeGreaterThan(1000);
  });

  it('only named deviations occur, and several of them', () => {
    expect(seen.size).toBeGreaterThanOrEqual(4);
  });
});

describe('each named deviation, shown on its own', () => {
  const irq = (destId: number, logical = false): LapicIrq => ({ destId, logical, deliveryMode: 4, vector: 0, level: true, trigLevel: false, shorthand: 0, msiRedirHint: false });
  const sw = (vm: Vm, id: number) => vm.setLapic(vcpu(vm, id), Object.assign(vm.getLapic(vcpu(vm, id)), { [0xf0 >> 2]: 0x1ff }));
  const why = (vm: Vm, i: LapicIrq, src: number | null = null) => fastSlowDifference(vm, src === null ? null : vcpu(vm, src).apic, i)?.why;

  it('hotplug hack, first vCPU wins with 32-bit IDs', () => {
    const vm = makeReadyVm([0, 1, 256]);
    vm.enableX2apicApi(1n);
    sw(vm, 256);
    expect(why(vm, irq(0))).toEqual([DEVIATIONS[0]]);
  });
  it('hotplug hack on the slow path only without 32-bit IDs', () => {
    expect(why(makeReadyVm([0, 1, 300]), irq(300))).toEqual([DEVIATIONS[1]]);
  });
  it('broadcast decided by the source on the fast path', () => {
    const vm = makeReadyVm([0, 1]);
    vm.wrmsr(vcpu(vm, 0), 0x1b, 0xfee00d00n, true);
    expect(why(vm, irq(0xff), 0)).toEqual([DEVIATIONS[2]]);
  });
  it('a software-disabled APIC is not in the logical map', () => {
    const vm = makeReadyVm([0, 1]);
    sw(vm, 0);
    mmioW(vm, 0, 0xd0, 0x01000000);
    mmioW(vm, 1, 0xd0, 0x02000000);
    expect(why(vm, irq(0x02, true))).toEqual([DEVIATIONS[3]]);
  });
  it('an APIC of another logical mode is not in the logical map', () => {
    const vm = makeReadyVm([0, 1]);
    sw(vm, 0);
    mmioW(vm, 0, 0xd0, 0x01000000);
    vm.wrmsr(vcpu(vm, 1), 0x1b, 0xfee00c00n, true);
    expect(why(vm, irq(0x02, true))).toEqual([DEVIATIONS[4]]);
  });
  it('xAPIC cluster lookups truncate the destination to 8 bits', () => {
    const vm = makeReadyVm([1, 300, 257]);
    vm.enableX2apicApi(1n);
    mmioW(vm, 300, 0xe0, 0x0fffffff);
    mmioW(vm, 300, 0xd0, 0x01000000);
    sw(vm, 300);
    expect(why(vm, irq(257, true))).toEqual([DEVIATIONS[5]]);
  });
  it('KVM_CREATE_VCPU leaves the newest vCPU out of the map', () => {
    expect(why(makeVm([0, 1]), irq(1))).toEqual([DEVIATIONS[6]]);
  });
  it('a DFR neither flat nor cluster, stored by KVM_SET_LAPIC', () => {
    const vm = makeReadyVm([0, 1]);
    vm.setLapic(vcpu(vm, 1), Object.assign(vm.getLapic(vcpu(vm, 1)), { [0xf0 >> 2]: 0x1ff, [0xe0 >> 2]: 0xf535d521, [0xd0 >> 2]: 0x12000000 }));
    expect(why(vm, irq(0x12, true))).toEqual([DEVIATIONS[8]]);
  });
  it('before 6.11, an x2APIC LDR set through KVM_SET_LAPIC that is not the ID\'s', () => {
    const vm = makeReadyVm([0, 1], { kvm: '6.3' });
    for (const id of [0, 1]) vm.wrmsr(vcpu(vm, id), 0x1b, 0xfee00c00n, true);
    vm.setLapic(vcpu(vm, 1), Object.assign(new Uint32Array(256), { [0xf0 >> 2]: 0x1ff })); // ID 0: LDR 0x1
    expect(why(vm, irq(0x12, true))).toEqual([DEVIATIONS[7]]);
  });
});
