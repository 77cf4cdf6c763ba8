import { describe, expect, it } from 'vitest';
import { makeVm, mmioR, takeEvents, vcpu } from './testVm';

const w = (vm: ReturnType<typeof makeVm>, id: number, value: bigint, host = false) => vm.wrmsr(vcpu(vm, id), 0x1b, value, host);

describe('IA32_APIC_BASE (kvm_apic_set_base)', () => {
  it('RESET values: BSP 0xfee00900, APs 0xfee00800; KVM_SET_BOOT_CPU_ID moves the BSP', () => {
    expect(vcpu(makeVm(), 0).apicBase).toBe(0xfee00900n);
    expect(vcpu(makeVm(), 1).apicBase).toBe(0xfee00800n);
    const vm = makeVm([0, 7], { bspVcpuId: 7 });
    expect(vcpu(vm, 7).apicBase).toBe(0xfee00900n);
    expect(vcpu(vm, 0).apicBase).toBe(0xfee00800n);
  });

  it('guest transitions: xAPIC->x2APIC, x2APIC->disabled, disabled->xAPIC are legal', () => {
    const vm = makeVm();
    expect(w(vm, 0, 0xfee00d00n).ok).toBe(true);
    expect(w(vm, 0, 0xfee00100n).ok).toBe(true);
    expect(vcpu(vm, 0).mode).toBe('disabled');
    expect(w(vm, 0, 0xfee00900n).ok).toBe(true);
    expect(vcpu(vm, 0).mode).toBe('xapic');
  });

  it('guest transitions x2APIC->xAPIC and disabled->x2APIC #GP; the host may do both', () => {
    const vm = makeVm();
    w(vm, 0, 0xfee00d00n);
    expect(w(vm, 0, 0xfee00900n)).toMatchObject({ ok: false, fault: '#GP' });
    expect(w(vm, 0, 0xfee00900n, true).ok).toBe(true);
    w(vm, 1, 0xfee00000n);
    expect(w(vm, 1, 0xfee00c00n)).toMatchObject({ ok: false, fault: '#GP' });
    expect(w(vm, 1, 0xfee00c00n, true).ok).toBe(true);
  });

  it('EXTD without EN is invalid, even for the host (error EINVAL)', () => {
    const vm = makeVm();
    expect(w(vm, 0, 0xfee00500n, true)).toMatchObject({ ok: false, error: 'EINVAL' });
  });

  it('reserved bits: 0-7, 9, at and above MAXPHYADDR, and 10 without x2APIC in CPUID', () => {
    const vm = makeVm([0], { maxPhyAddr: 36 });
    for (const bit of [0, 7, 9, 36, 63]) expect(w(vm, 0, 0xfee00900n | (1n << BigInt(bit))).ok, `bit ${bit}`).toBe(false);
    expect(w(vm, 0, 0xfee00900n | (1n << 35n)).ok).toBe(true);
    const noX2 = makeVm([0], { x2apicCpuid: false });
    expect(w(noX2, 0, 0xfee00d00n).ok).toBe(false);
  });

  it('writing the current value succeeds without effect, even with reserved bits absent', () => {
    const vm = makeVm();
    expect(w(vm, 0, 0xfee00900n).ok).toBe(true);
  });

  it('entering x2APIC sets the 32-bit ID and LDR; leaving via the host reinitialises the xAPIC ID', () => {
    const vm = makeVm([0, 1, 256]);
    w(vm, 256, 0xfee00c00n);
    const a = vcpu(vm, 256).apic;
    expect(a.getReg(0x20)).toBe(256);
    expect(a.getReg(0xd0)).toBe(0x00100001);
    w(vm, 256, 0xfee00800n, true);
    expect(a.getReg(0x20)).toBe(0); // (u8)256 << 24
    expect(a.getReg(0xd0)).toBe(0x00100001); // LDR is left alone
  });

  it('relocation moves the MMIO window and sets the sticky APIC_BASE_MODIFIED inhibit', () => {
    const vm = makeVm();
    w(vm, 0, 0xfed00900n);
    expect(vcpu(vm, 0).apic.baseAddress).toBe(0xfed00000);
    expect(mmioR(vm, 0, 0x30)).toBe(0x50014);
    const v = vcpu(vm, 0);
    expect(vm.mmioRead(v, 0xfee00030n)).toEqual({ unclaimed: true });
    expect(vm.inhibits.list()).toContain('APIC_BASE_MODIFIED');
    w(vm, 0, 0xfee00900n);
    expect(vm.inhibits.list()).toContain('APIC_BASE_MODIFIED');
  });

  it('before 5.19 relocation only printed a warning', () => {
    const vm = makeVm([0], { kvm: '5.18' });
    w(vm, 0, 0xfed00900n);
    expect(vm.inhibits.list()).toEqual([]);
    expect(takeEvents(vm).some((e) => e.detail.includes('relocation is unsupported'))).toBe(true);
  });

  it('disabling keeps the registers; re-enabling resets the xAPIC ID to vcpu_id', () => {
    const vm = makeVm();
    const v = vcpu(vm, 1);
    vm.mmioWrite(v, 0xfee00020n, 0x05000000);
    w(vm, 1, 0xfee00000n);
    expect(mmioR(vm, 1, 0x20)).toBe(0xffffffff); // the MMIO hole while disabled
    expect(v.apic.getReg(0x20)).toBe(0x05000000);
    w(vm, 1, 0xfee00800n);
    expect(mmioR(vm, 1, 0x20)).toBe(0x01000000);
  });
});
