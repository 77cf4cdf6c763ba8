import { describe, expect, it } from 'vitest';
import { makeVm, mmioW, toX2apic, vcpu } from './testVm';

/** What a VMM does right after creating vCPUs: KVM_SET_LAPIC, which dirties and rebuilds the map. */
function vmmPutLapics(vm: ReturnType<typeof makeVm>): void {
  for (const v of vm.vcpus) vm.setLapic(v, vm.getLapic(v));
}

const phys = (vm: ReturnType<typeof makeVm>) => [...(vm.apicMap?.phys.entries() ?? [])].map(([id, v]) => [id, v.id]).sort((a, b) => a[0] - b[0]);

describe('kvm_recalculate_apic_map', () => {
  it('maps each xAPIC ID to its vCPU; max_apic_id is at least 255', () => {
    const vm = makeVm([0, 1, 2]);
    vmmPutLapics(vm);
    expect(phys(vm)).toEqual([[0, 0], [1, 1], [2, 2]]);
    expect(vm.apicMap!.maxApicId).toBe(255);
    expect(vm.apicMap!.logicalMode).toBe('SW_DISABLED');
  });

  it('without 32-bit IDs, vCPU 256 aliases xAPIC ID 0: no map, PHYSICAL/LOGICAL_ID_ALIASED', () => {
    const vm = makeVm([0, 1, 256]);
    vmmPutLapics(vm);
    expect(vm.apicMap).toBeNull();
    expect(vm.inhibits.list()).toEqual(['PHYSICAL_ID_ALIASED']); // Intel does not honour LOGICAL_ID_ALIASED
    const amd = makeVm([0, 1, 256], { vendor: 'amd' });
    vmmPutLapics(amd);
    expect(amd.inhibits.list()).toEqual(['PHYSICAL_ID_ALIASED', 'LOGICAL_ID_ALIASED']);
  });

  it('with 32-bit IDs the hotplug hack maps vCPU 256 at 256 and the first vCPU keeps slot 0', () => {
    const vm = makeVm([0, 1]);
    vm.enableX2apicApi(1n);
    vm.createVcpu(256);
    vmmPutLapics(vm);
    expect(phys(vm)).toEqual([[0, 0], [1, 1], [256, 256]]);
    expect(vm.apicMap!.maxApicId).toBe(256);
    expect(vm.inhibits.list()).toEqual([]);
  });

  it('a new vCPU is not in the map until the next rebuild (RESET rebuilds before it is online)', () => {
    const vm = makeVm([0, 1, 256]);
    expect(phys(vm)).toEqual([[0, 0], [1, 1]]);
    expect(vm.inhibits.list()).toEqual([]);
    const reversed = makeVm([256, 0, 1]);
    expect(reversed.apicMap).toBeNull(); // creating 1 rebuilt with 256 and 0 online: aliased
  });

  it('a guest-written duplicate xAPIC ID aliases and sets APIC_ID_MODIFIED', () => {
    const vm = makeVm([0, 1]);
    mmioW(vm, 1, 0x20, 0);
    expect(vm.apicMap).toBeNull();
    expect(vm.inhibits.list()).toEqual(['PHYSICAL_ID_ALIASED', 'APIC_ID_MODIFIED']);
    mmioW(vm, 1, 0x20, 0x01000000);
    expect(vm.inhibits.list()).toEqual([]);
  });

  it('x2APIC vCPUs occupy their 32-bit ID; logical mode X2APIC once software-enabled', () => {
    const vm = makeVm([0, 1]);
    for (const id of [0, 1]) {
      toX2apic(vm, id);
      vm.wrmsr(vcpu(vm, id), 0x80f, 0x1ffn, false);
    }
    expect(vm.apicMap!.logicalMode).toBe('X2APIC');
  });

  it('xAPIC flat: one bit per vCPU; a duplicate logical ID disables the logical map', () => {
    const vm = makeVm([0, 1], { vendor: 'amd' });
    for (const id of [0, 1]) {
      mmioW(vm, id, 0xf0, 0x1ff);
      mmioW(vm, id, 0xd0, (1 << id) << 24);
    }
    expect(vm.apicMap!.logicalMode).toBe('XAPIC_FLAT');
    expect(vm.apicMap!.flat[1]?.id).toBe(1);
    mmioW(vm, 1, 0xd0, 0x01000000);
    expect(vm.apicMap!.logicalMode).toBe('MAP_DISABLED');
    expect(vm.inhibits.list()).toEqual(['LOGICAL_ID_ALIASED']);
  });

  it('mixed flat and cluster DFR disables the logical map', () => {
    const vm = makeVm([0, 1], { vendor: 'amd' });
    for (const id of [0, 1]) {
      mmioW(vm, id, 0xf0, 0x1ff);
      mmioW(vm, id, 0xd0, 0x11000000 << id);
    }
    mmioW(vm, 1, 0xe0, 0x0fffffff);
    expect(vm.apicMap!.logicalMode).toBe('MAP_DISABLED');
  });

  it('a hardware-disabled APIC leaves the map', () => {
    const vm = makeVm([0, 1]);
    vm.wrmsr(vcpu(vm, 1), 0x1b, 0xfee00000n, false);
    expect(phys(vm)).toEqual([[0, 0]]);
  });
});
