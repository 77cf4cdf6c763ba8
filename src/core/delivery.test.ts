import { describe, expect, it } from 'vitest';
import { makeReadyVm as makeVm, mmioW, takeEvents, toX2apic, vcpu } from './testVm';
import type { Vm } from './vm';

const swEnable = (vm: Vm, ids: number[]) => {
  for (const id of ids) {
    const v = vcpu(vm, id);
    if (v.apic.x2apicMode) vm.wrmsr(v, 0x80f, 0x1ffn, false);
    else mmioW(vm, id, 0xf0, 0x1ff);
  }
};
const xapicIpi = (vm: Vm, from: number, dest: number, low: number) => {
  mmioW(vm, from, 0x310, dest << 24);
  mmioW(vm, from, 0x300, low);
  return vm.takeDeliveries()[0];
};
const irr = (vm: Vm, id: number) => vcpu(vm, id).apic.vectors(0x200);

describe('IPIs through the optimized map (fast path)', () => {
  it('a fixed physical IPI sets IRR (and TMR for level) on the target only', () => {
    const vm = makeVm([0, 1, 2]);
    swEnable(vm, [0, 1, 2]);
    const d = xapicIpi(vm, 0, 2, 0x0000c040);
    expect(d).toMatchObject({ path: 'fast', count: 1, delivered: [{ vcpu: 2, mode: 'Fixed', vector: 0x40 }] });
    expect(irr(vm, 2)).toEqual([0x40]);
    expect(vcpu(vm, 2).apic.vectors(0x180)).toEqual([0x40]);
    expect(irr(vm, 1)).toEqual([]);
  });

  it('a fixed IPI to a software-disabled APIC is dropped', () => {
    const vm = makeVm([0, 1]);
    swEnable(vm, [0]);
    expect(xapicIpi(vm, 0, 1, 0x40)).toMatchObject({ path: 'fast', count: 0, delivered: [] });
  });

  it('NMI and INIT need no software enable; INIT discards a pending SIPI', () => {
    const vm = makeVm([0, 1]);
    xapicIpi(vm, 0, 1, 0x400);
    expect(vcpu(vm, 1).nmiPending).toBe(1);
    xapicIpi(vm, 0, 1, 0x600 | 0x12);
    expect(vcpu(vm, 1).apic.pendingSipi).toBe(true);
    xapicIpi(vm, 0, 1, 0x4500);
    expect([vcpu(vm, 1).apic.pendingInit, vcpu(vm, 1).apic.pendingSipi]).toEqual([true, false]);
  });

  it('three NMIs leave two pending (process_nmi limit)', () => {
    const vm = makeVm([0, 1]);
    for (let i = 0; i < 3; i++) xapicIpi(vm, 0, 1, 0x400);
    expect(vcpu(vm, 1).nmiPending).toBe(2);
  });

  it('logical flat: every vCPU whose bit is in the mask', () => {
    const vm = makeVm([0, 1, 2]);
    swEnable(vm, [0, 1, 2]);
    for (const id of [0, 1, 2]) mmioW(vm, id, 0xd0, (1 << id) << 24);
    const d = xapicIpi(vm, 0, 0x06, 0x0850);
    expect(d.path).toBe('fast');
    expect(d.delivered.map((x) => x.vcpu)).toEqual([1, 2]);
  });

  it('x2APIC logical: cluster from the destination, reusing the physical map', () => {
    const vm = makeVm([0, 1, 16, 17]);
    for (const id of [0, 1, 16, 17]) toX2apic(vm, id);
    swEnable(vm, [0, 1, 16, 17]);
    vm.wrmsr(vcpu(vm, 0), 0x830, (0x00010003n << 32n) | 0x860n, false);
    const d = vm.takeDeliveries()[0];
    expect(d.path).toBe('fast');
    expect(d.delivered.map((x) => x.vcpu)).toEqual([16, 17]);
  });

  it('lowest priority with vector hashing picks the (vector % n)-th target', () => {
    const vm = makeVm([0, 1, 2, 3]);
    swEnable(vm, [0, 1, 2, 3]);
    for (const id of [0, 1, 2, 3]) mmioW(vm, id, 0xd0, (1 << id) << 24);
    const d = xapicIpi(vm, 0, 0x0f, 0x0900 | 0x41); // 0x41 % 4 = 1
    expect(d.delivered).toEqual([{ vcpu: 1, mode: 'LowestPrio', vector: 0x41 }]);
    expect(vcpu(vm, 1).arbPrio).toBe(1);
  });

  it('a physical destination above max_apic_id goes nowhere, on the fast path', () => {
    const vm = makeVm([0, 1]);
    vm.wrmsr(vcpu(vm, 0), 0x1b, 0xfee00d00n, false);
    vm.wrmsr(vcpu(vm, 0), 0x830, (1000n << 32n) | 0x400n, false);
    expect(vm.takeDeliveries()[0]).toMatchObject({ path: 'fast', count: 0 });
  });
});

describe('the slow path (kvm_apic_match_dest on every vCPU)', () => {
  it('broadcasts and all-shorthands take the slow path', () => {
    const vm = makeVm([0, 1, 2]);
    swEnable(vm, [0, 1, 2]);
    const b = xapicIpi(vm, 0, 0xff, 0x30);
    expect(b.path).toBe('slow');
    expect(b.delivered.map((x) => x.vcpu)).toEqual([0, 1, 2]);
    const allBut = xapicIpi(vm, 0, 0, 0xc0031);
    expect(allBut.delivered.map((x) => x.vcpu)).toEqual([1, 2]);
  });

  it('aliased xAPIC IDs without 32-bit IDs: no map, both vCPUs with ID 0 receive', () => {
    const vm = makeVm([0, 1, 256]);
    swEnable(vm, [0, 1, 256]);
    const d = xapicIpi(vm, 1, 0, 0x30);
    expect(d.path).toBe('slow');
    expect(d.delivered.map((x) => x.vcpu)).toEqual([0, 256]);
  });

  it('the hotplug hack: an xAPIC-mode vCPU above 255 is reached by its 32-bit ID', () => {
    const vm = makeVm([0, 1, 256]);
    vm.enableX2apicApi(1n);
    vm.setLapic(vcpu(vm, 0), vm.getLapic(vcpu(vm, 0))); // the cap alone does not rebuild the map
    toX2apic(vm, 0);
    vm.wrmsr(vcpu(vm, 0), 0x830, (256n << 32n) | 0x500n, false); // INIT to 256
    expect(vm.takeDeliveries()[0]).toMatchObject({ path: 'fast', delivered: [{ vcpu: 256, mode: 'INIT' }] });
    vm.wrmsr(vcpu(vm, 0), 0x830, (0n << 32n) | 0x400n, false); // NMI to 0: first vCPU wins
    expect(vm.takeDeliveries()[0].delivered.map((x) => x.vcpu)).toEqual([0]);
  });

  it('an MSI to 0xff reaches x2APIC vCPUs through the broadcast quirk', () => {
    const vm = makeVm([0, 1]);
    toX2apic(vm, 1);
    expect(vm.signalMsi(0xfeeff000, 0, 0x400)).toEqual({ count: 2 });
    vm.enableX2apicApi(2n);
    expect(vm.signalMsi(0xfeeff000, 0, 0x400)).toEqual({ count: 1 });
  });

  it('an MSI nobody matches on the slow path is EPERM; on the fast path it is a count of 0', () => {
    const vm = makeVm([0, 1]);
    expect(vm.signalMsi(0xfee05000, 0, 0x400)).toEqual({ count: 0 });
    mmioW(vm, 1, 0x20, 0); // alias: no map
    expect(vm.signalMsi(0xfee05000, 0, 0x400)).toMatchObject({ error: 'EPERM', refusal: { code: 'MSI_NO_TARGET' } });
  });

  it('with 32-bit IDs an MSI takes destination bits 31:8 from address_hi, whose bits 7:0 must be 0', () => {
    const vm = makeVm([0, 300]);
    vm.enableX2apicApi(1n);
    vm.setLapic(vcpu(vm, 0), vm.getLapic(vcpu(vm, 0)));
    expect(vm.signalMsi(0xfee2c000, 0x100, 0x400)).toEqual({ count: 1 }); // dest 0x12c = 300
    expect(vm.signalMsi(0xfee2c000, 0x101, 0x400)).toMatchObject({ error: 'EINVAL', refusal: { code: 'MSI_ROUTE_INVALID', kvm: 'kvm_msi_route_invalid' } });
  });

  it("kvm_msi_set_irq traces the address as KVM saw it then, though the trace is read after enabling 32-bit IDs", () => {
    const vm = makeVm([0, 1]);
    vm.takeTrace();
    vm.signalMsi(0xfee01000, 0x100, 0x22); // address_hi ignored without x2apic_format: dst 1
    vm.enableX2apicApi(1n);
    const line = takeEvents(vm).find((e) => e.event === 'kvm_msi_set_irq');
    expect(line?.detail).toBe('dst 1 vec 34 (Fixed|physical|edge)');
  });
});

describe('SELF_IPI', () => {
  it('delivers to the sender and leaves the ICR alone', () => {
    const vm = makeVm([0, 1]);
    toX2apic(vm, 1);
    swEnable(vm, [1]);
    vm.wrmsr(vcpu(vm, 1), 0x83f, 0x55n, false);
    expect(irr(vm, 1)).toEqual([0x55]);
    expect(vm.rdmsr(vcpu(vm, 1), 0x830, false).value).toBe(0n);
  });
});

describe('4096 vCPUs', () => {
  it('all in x2APIC mode: a unicast looks at one map slot, a broadcast matches every vCPU', () => {
    const ids = Array.from({ length: 4096 }, (_, i) => i);
    const vm = makeVm(ids, { maxVcpus: 4096 });
    for (const v of vm.vcpus) {
      vm.wrmsr(v, 0x1b, v.apicBase | 0x400n, true);
      vm.wrmsr(v, 0x80f, 0x1ffn, false);
    }
    expect(vm.apicMap!.maxApicId).toBe(4095);
    expect(vm.apicMap!.phys.size).toBe(4096);
    vm.wrmsr(vcpu(vm, 0), 0x830, (4095n << 32n) | 0x41n, false);
    expect(vm.takeDeliveries()[0]).toMatchObject({ path: 'fast', examined: 1, delivered: [{ vcpu: 4095, mode: 'Fixed', vector: 0x41 }] });
    vm.wrmsr(vcpu(vm, 0), 0x830, (0xffffffffn << 32n) | 0x42n, false);
    const b = vm.takeDeliveries()[0];
    expect(b).toMatchObject({ path: 'slow', examined: 4096, count: 4096 });
  }, 60_000);
});
