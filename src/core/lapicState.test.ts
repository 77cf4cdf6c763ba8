import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeVm, toX2apic, vcpu } from './testVm';

describe('KVM_GET_LAPIC / KVM_SET_LAPIC (kvm_apic_state_fixup)', () => {
  it('xAPIC: the image is the register page', () => {
    const vm = makeVm();
    const img = vm.getLapic(vcpu(vm, 1));
    expect(img[0x20 >> 2]).toBe(0x01000000);
    expect(img[0x30 >> 2]).toBe(0x50014);
    expect(img[0x350 >> 2]).toBe(0x10000);
    expect(vm.getLapic(vcpu(vm, 0))[0x350 >> 2]).toBe(0x700);
  });

  it('x2APIC without 32-bit IDs: GET shows vcpu_id << 24, SET ignores the ID', () => {
    const vm = makeVm([0, 1, 256]);
    toX2apic(vm, 256);
    const v = vcpu(vm, 256);
    const img = vm.getLapic(v);
    expect(img[0x20 >> 2]).toBe(0); // 256 << 24 truncated
    img[0x20 >> 2] = 0x77000000;
    expect(vm.setLapic(v, img)).toBeNull();
    expect(v.apic.getReg(0x20)).toBe(256);
  });

  it('before 6.11, SET_LAPIC installed the ID userspace gave', () => {
    const vm = makeVm([0, 1], { kvm: '6.10' });
    toX2apic(vm, 1);
    const v = vcpu(vm, 1);
    const img = vm.getLapic(v);
    img[0x20 >> 2] = 0x77000000;
    vm.setLapic(v, img);
    expect(v.apic.getReg(0x20)).toBe(0x77); // *id >>= 24
    expect(v.apic.getReg(0xd0)).toBe(0x00070080); // the LDR follows the installed ID
  });

  it('x2APIC with 32-bit IDs: GET shows the x2APIC ID, SET with another ID is EINVAL', () => {
    const vm = makeVm([0, 1, 256]);
    vm.enableX2apicApi(1n);
    toX2apic(vm, 256);
    const v = vcpu(vm, 256);
    const img = vm.getLapic(v);
    expect(img[0x20 >> 2]).toBe(256);
    img[0x20 >> 2] = 5;
    expect(vm.setLapic(v, img)).toMatchObject({ error: 'EINVAL', code: 'LAPIC_X2APIC_ID_MISMATCH', kvm: 'kvm_apic_state_fixup' });
  });

  it('Intel: the 64-bit ICR high half appears in the ICR2 slot and is merged back', () => {
    const vm = makeVm();
    toX2apic(vm, 0);
    const v = vcpu(vm, 0);
    vm.wrmsr(v, 0x830, 0x0000000100000030n, false);
    const img = vm.getLapic(v);
    expect([img[0x300 >> 2], img[0x310 >> 2]]).toEqual([0x30, 1]);
    img[0x310 >> 2] = 9;
    vm.setLapic(v, img);
    expect(vm.rdmsr(v, 0x830, false).value).toBe(0x0000000900000030n);
  });

  it('SET forces the x2APIC LDR, recomputes LVR and PPR, and applies SPIV sw-enable', () => {
    const vm = makeVm();
    toX2apic(vm, 1);
    const v = vcpu(vm, 1);
    const img = new Uint32Array(256);
    img[0xf0 >> 2] = 0x1ff;
    img[0x80 >> 2] = 0x30;
    img[0xd0 >> 2] = 0xdead;
    expect(vm.setLapic(v, img)).toBeNull();
    expect(v.apic.getReg(0xd0)).toBe(2);
    expect(v.apic.getReg(0x30)).toBe(0x50014);
    expect(v.apic.getReg(0xa0)).toBe(0x30);
    expect(v.apic.swEnabled).toBe(true);
  });

  it('GET then SET is an identity (xAPIC and x2APIC, any register contents)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint32Array({ minLength: 256, maxLength: 256 }), (x2, raw) => {
        const vm = makeVm([0, 1]);
        if (x2) toX2apic(vm, 1);
        const v = vcpu(vm, 1);
        vm.setLapic(v, raw);
        const first = vm.getLapic(v);
        vm.setLapic(v, first);
        expect(vm.getLapic(v)).toEqual(first);
      }),
      { numRuns: 200 },
    );
  });
});
