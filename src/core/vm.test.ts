import { describe, expect, it } from 'vitest';
import { KvmProfile, BEHAVIOUR_CHANGES } from './profile';
import { makeVm } from './testVm';
import { Vm } from './vm';

describe('KVM_CREATE_VCPU', () => {
  it('creates APs UNINITIALIZED and the boot vCPU RUNNABLE', () => {
    const vm = makeVm([0, 1]);
    expect(vm.vcpu(0)!.mpState).toBe('RUNNABLE');
    expect(vm.vcpu(1)!.mpState).toBe('UNINITIALIZED');
  });

  it('refuses a duplicate id (EEXIST) and ids at or above KVM_MAX_VCPU_IDS (EINVAL)', () => {
    const vm = makeVm([0]);
    expect(vm.createVcpu(0)).toMatchObject({ error: 'EEXIST', code: 'VCPU_EXISTS', kvm: 'kvm_vm_ioctl_create_vcpu' });
    expect(vm.createVcpu(16384)).toMatchObject({ error: 'EINVAL', code: 'VCPU_ID_TOO_BIG', limit: 16384 });
    expect(vm.createVcpu(16383)).toBeNull();
  });
});

describe('KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)', () => {
  it('accepts USE_32BIT_IDS and DISABLE_BROADCAST_QUIRK, refuses unknown flags', () => {
    const vm = new Vm();
    expect(vm.enableX2apicApi(3n)).toBeNull();
    expect(vm.x2apicFormat && vm.broadcastQuirkDisabled).toBe(true);
    expect(vm.enableX2apicApi(4n)).toMatchObject({ error: 'EINVAL', code: 'X2APIC_API_BAD_FLAGS' }); // split-irqchip only
    expect(vm.enableX2apicApi(8n)).toBeNull(); // DISABLE_SUPPRESS_EOI_BROADCAST
    expect(new Vm({ kvm: '6.18' }).enableX2apicApi(8n)).toMatchObject({ error: 'EINVAL', validFlags: '0x3' });
    expect(vm.enableX2apicApi(0x100n)).toMatchObject({ error: 'EINVAL' });
  });

  it('flags only turn on: enabling again with 0 keeps them', () => {
    const vm = new Vm();
    vm.enableX2apicApi(1n);
    expect(vm.enableX2apicApi(0n)).toBeNull();
    expect(vm.x2apicFormat).toBe(true);
  });
});

describe('APICv inhibits', () => {
  it('apicv off sets DISABLED; a healthy VM has APICv active', () => {
    expect(new Vm({ apicv: false }).inhibits.list()).toEqual(['DISABLED']);
    expect(makeVm().apicvActive).toBe(true);
  });
});

describe('KVM releases', () => {
  it('accepts "current" and X.Y from 5.10, refuses others', () => {
    expect(() => new KvmProfile('5.9')).toThrow();
    expect(() => new KvmProfile('latest')).toThrow();
    expect(new KvmProfile('6.2').hasNew('x2apicHighBitsGp')).toBe(false);
    expect(new KvmProfile('6.3').hasNew('x2apicHighBitsGp')).toBe(true);
    for (const c of BEHAVIOUR_CHANGES) expect(new KvmProfile('current').hasNew(c.id)).toBe(true);
  });
});
