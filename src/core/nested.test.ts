import { describe, expect, it } from 'vitest';
import { runVcpu, setMpState } from './mpState';
import { enterGuest, enterSmm, leaveGuest, rsm, setGif, vmxoff, vmxon } from './nested';
import { makeReadyVm, toX2apic, vcpu } from './testVm';
import type { Vm } from './vm';

/** Send INIT (mode 5) or SIPI (mode 6) from vCPU 0 in x2APIC mode. */
const sendTo = (vm: Vm, dest: number, low: number) => vm.wrmsr(vcpu(vm, 0), 0x830, (BigInt(dest) << 32n) | BigInt(low), false);
const INIT = 0x4500;
const SIPI = (vec: number) => 0x4600 | vec;

function vmWith(vendor: 'intel' | 'amd' = 'intel', kvm = 'current'): Vm {
  const vm = makeReadyVm([0, 1], { vendor, kvm });
  toX2apic(vm, 0);
  return vm;
}

describe('INIT/SIPI blocking (kvm_apic_init_sipi_allowed)', () => {
  it('VMX root operation latches INIT and drops SIPI; VMXOFF releases the INIT', () => {
    const vm = vmWith();
    const v = vcpu(vm, 1);
    v.mpState = 'RUNNABLE';
    vmxon(v);
    sendTo(vm, 1, INIT);
    sendTo(vm, 1, SIPI(0x10));
    runVcpu(v);
    expect([v.mpState, v.apic.pendingInit, v.apic.pendingSipi]).toEqual(['RUNNABLE', true, false]);
    vmxoff(v);
    runVcpu(v);
    expect(v.mpState).toBe('INIT_RECEIVED');
  });

  it('SMM latches INIT until RSM', () => {
    const vm = vmWith();
    const v = vcpu(vm, 1);
    enterSmm(v);
    sendTo(vm, 1, INIT);
    runVcpu(v);
    expect(v.apic.pendingInit).toBe(true);
    rsm(v);
    runVcpu(v);
    expect(v.mpState).toBe('INIT_RECEIVED');
  });

  it('AMD: GIF clear latches INIT until STGI', () => {
    const vm = vmWith('amd');
    const v = vcpu(vm, 1);
    setGif(v, false);
    sendTo(vm, 1, INIT);
    runVcpu(v);
    expect(v.apic.pendingInit).toBe(true);
    setGif(v, true);
    runVcpu(v);
    expect(v.mpState).toBe('INIT_RECEIVED');
  });
});

describe('nested VMX: wait-for-SIPI and the INIT / SIPI VM-exits (bf0cd88ce363)', () => {
  it('INIT while L2 runs exits to L1 with reason 3; later INITs latch in VMX root', () => {
    const vm = vmWith();
    const v = vcpu(vm, 1);
    vmxon(v);
    enterGuest(v, 'active', true);
    sendTo(vm, 1, INIT);
    runVcpu(v);
    expect(v.lastVmexit).toEqual({ reason: 'INIT', code: 3, qualification: 0 });
    expect([v.guestMode, v.mpState, v.apic.pendingInit]).toEqual([false, 'RUNNABLE', false]);
    sendTo(vm, 1, INIT);
    runVcpu(v);
    expect(v.apic.pendingInit).toBe(true);
  });

  it('L2 in wait-for-SIPI: INIT is consumed, a SIPI exits with reason 4 and the vector', () => {
    const vm = vmWith();
    const v = vcpu(vm, 1);
    vmxon(v);
    enterGuest(v, 'wait-for-sipi', true);
    expect(v.mpState).toBe('INIT_RECEIVED');
    sendTo(vm, 1, INIT);
    runVcpu(v);
    expect([v.guestMode, v.lastVmexit]).toEqual([true, null]);
    sendTo(vm, 1, SIPI(0x9a));
    runVcpu(v);
    expect(v.lastVmexit).toEqual({ reason: 'SIPI', code: 4, qualification: 0x9a });
    expect([v.guestMode, v.mpState]).toEqual([false, 'RUNNABLE']);
  });

  it('a SIPI to an active L2 is ignored', () => {
    const vm = vmWith();
    const v = vcpu(vm, 1);
    vmxon(v);
    enterGuest(v, 'active', true);
    sendTo(vm, 1, SIPI(0x10));
    runVcpu(v);
    expect([v.guestMode, v.lastVmexit, v.apic.pendingSipi]).toEqual([true, null, false]);
  });

  it('5.10 has no wait-for-SIPI for L2', () => {
    const vm = vmWith('intel', '5.10');
    const v = vcpu(vm, 1);
    vmxon(v);
    expect(enterGuest(v, 'wait-for-sipi', true).ok).toBe(false);
  });
});

describe('nested SVM', () => {
  it('an intercepted INIT exits with 0x63, clears GIF and stays latched', () => {
    const vm = vmWith('amd');
    const v = vcpu(vm, 1);
    enterGuest(v, 'active', true);
    expect(vm.inhibits.list()).toEqual(['NESTED']);
    sendTo(vm, 1, INIT);
    runVcpu(v);
    expect(v.lastVmexit).toEqual({ reason: 'INIT', code: 0x63, qualification: 0 });
    expect([v.guestMode, v.gif, v.apic.pendingInit]).toEqual([false, false, true]);
    expect(vm.inhibits.list()).toEqual([]);
  });

  it('an INIT L1 does not intercept resets the vCPU and drops L2', () => {
    const vm = vmWith('amd');
    const v = vcpu(vm, 1);
    enterGuest(v, 'active', false);
    sendTo(vm, 1, INIT);
    runVcpu(v);
    expect([v.guestMode, v.mpState, v.lastVmexit]).toEqual([false, 'INIT_RECEIVED', null]);
  });

  it('leaving L2 on AMD clears GIF (#VMEXIT)', () => {
    const vm = vmWith('amd');
    const v = vcpu(vm, 1);
    enterGuest(v, 'active', true);
    leaveGuest(v);
    expect(v.gif).toBe(false);
  });
});

describe('KVM_SET_MP_STATE vs KVM_RUN for wait-for-SIPI with INIT blocked', () => {
  it('6.17+: SET_MP_STATE accepts, KVM_RUN refuses', () => {
    const vm = vmWith();
    const v = vcpu(vm, 1);
    vmxon(v);
    expect(setMpState(v, 'INIT_RECEIVED')).toBeNull();
    expect(runVcpu(v)).toMatchObject({ code: 'RUN_WAIT_FOR_SIPI_BLOCKED', blocker: 'VMX_ROOT', kvm: 'kvm_arch_vcpu_ioctl_run' });
  });

  it('6.16: SET_MP_STATE refuses up front', () => {
    const vm = vmWith('intel', '6.16');
    const v = vcpu(vm, 1);
    vmxon(v);
    expect(setMpState(v, 'INIT_RECEIVED')).toMatchObject({ code: 'MP_STATE_INIT_BLOCKED', blocker: 'VMX_ROOT' });
    expect(setMpState(v, 'RUNNABLE')).toBeNull();
  });
});
