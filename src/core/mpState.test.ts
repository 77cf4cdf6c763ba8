import { describe, expect, it } from 'vitest';
import { getMpState, setMpState } from './mpState';
import { makeVm, mmioR, mmioW, vcpu } from './testVm';

describe('KVM_SET_MP_STATE / KVM_GET_MP_STATE (6.17+)', () => {
  it('accepts the x86 states an in-kernel LAPIC allows and refuses the rest (Linux 6.18 agrees)', () => {
    const accepted = ['RUNNABLE', 'UNINITIALIZED', 'INIT_RECEIVED', 'HALTED', 'SIPI_RECEIVED', 'AP_RESET_HOLD'] as const;
    const refused = ['STOPPED', 'CHECK_STOP', 'OPERATING', 'LOAD', 'SUSPENDED'] as const;
    for (const s of accepted) expect(setMpState(vcpu(makeVm(), 1), s), s).toBeNull();
    for (const s of refused) expect(setMpState(vcpu(makeVm(), 1), s), s).toMatchObject({ code: 'MP_STATE_INVALID', error: 'EINVAL' });
  });

  it('SIPI_RECEIVED becomes INIT_RECEIVED with a pending SIPI, which GET_MP_STATE then takes', () => {
    const v = vcpu(makeVm(), 1);
    setMpState(v, 'SIPI_RECEIVED');
    expect(v.mpState).toBe('INIT_RECEIVED');
    expect(getMpState(v)).toBe('RUNNABLE');
  });
});

describe('kvm_apic_accept_events', () => {
  it('INIT resets the LAPIC (INIT values, APIC base kept) and parks an AP in INIT_RECEIVED', () => {
    const vm = makeVm();
    const v = vcpu(vm, 1);
    mmioW(vm, 1, 0xf0, 0x1ff);
    mmioW(vm, 1, 0x20, 0x07000000);
    mmioW(vm, 1, 0x80, 0x20);
    v.apic.pendingInit = true;
    expect(getMpState(v)).toBe('INIT_RECEIVED');
    expect(mmioR(vm, 1, 0xf0)).toBe(0xff);
    expect(mmioR(vm, 1, 0x80)).toBe(0);
    expect(mmioR(vm, 1, 0x20)).toBe(0x07000000); // the xAPIC ID survives INIT
    expect(v.apicBase).toBe(0xfee00800n);
  });

  it('a SIPI starts an AP in wait-for-SIPI at vector << 12; otherwise it is dropped', () => {
    const vm = makeVm();
    const v = vcpu(vm, 1);
    v.apic.pendingSipi = true;
    v.apic.sipiVector = 0x12;
    expect(getMpState(v)).toBe('UNINITIALIZED');
    v.apic.pendingInit = true;
    v.apic.pendingSipi = true;
    expect(getMpState(v)).toBe('RUNNABLE');
    expect([v.csSelector, v.csBase, v.rip]).toEqual([0x1200, 0x12000, 0]);
  });

  it('the BSP (APICBASE.BSP) returns to RUNNABLE after INIT', () => {
    const v = vcpu(makeVm(), 0);
    v.apic.pendingInit = true;
    expect(getMpState(v)).toBe('RUNNABLE');
  });

  it('INIT stays latched in SMM and VMX root operation, and a SIPI is dropped', () => {
    const v = vcpu(makeVm(), 1);
    v.smm = true;
    v.apic.pendingInit = true;
    v.apic.pendingSipi = true;
    expect(getMpState(v)).toBe('UNINITIALIZED');
    expect([v.apic.pendingInit, v.apic.pendingSipi]).toEqual([true, false]);
    v.smm = false;
    v.vmxon = true;
    expect(getMpState(v)).toBe('UNINITIALIZED');
    v.vmxon = false;
    expect(getMpState(v)).toBe('INIT_RECEIVED');
  });
});

describe('APIC base above 4 GiB', () => {
  it('decodes at the full address: MSR_IA32_APICBASE_BASE sign-extends to 64 bits', () => {
    const vm = makeVm([0]);
    const v = vcpu(vm, 0);
    expect(vm.wrmsr(v, 0x1b, 0x1fee00900n, false).ok).toBe(true);
    expect(v.apic.baseAddress).toBe(0x1fee00000);
    expect(vm.mmioRead(v, 0x1fee00030n)).toEqual({ value: 0x50014 });
    expect(vm.mmioRead(v, 0xfee00030n)).toEqual({ unclaimed: true });
  });
});
