import { describe, expect, it } from 'vitest';
import { makeReadyVm, mmioW, takeEvents, toX2apic, vcpu } from './testVm';
import { ApicvInhibits } from './inhibits';

describe('APICv inhibit reasons', () => {
  it('a vendor ignores the reasons it does not require (VMX has no LOGICAL_ID_ALIASED or NESTED)', () => {
    const intel = new ApicvInhibits('intel');
    expect(intel.setOrClear('LOGICAL_ID_ALIASED', true)).toBe(false);
    expect(intel.setOrClear('NESTED', true)).toBe(false);
    const amd = new ApicvInhibits('amd');
    expect(amd.setOrClear('LOGICAL_ID_ALIASED', true)).toBe(true);
    expect(amd.list()).toEqual(['LOGICAL_ID_ALIASED']);
  });

  it('PHYSICAL_ID_TOO_BIG: AVIC above vcpu_id 254, x2AVIC above 511; sticky', () => {
    expect(makeReadyVm([0, 254], { vendor: 'amd', x2avic: false }).inhibits.list()).toEqual([]);
    expect(makeReadyVm([0, 255], { vendor: 'amd', x2avic: false }).inhibits.list()).toEqual(['PHYSICAL_ID_TOO_BIG']);
    expect(makeReadyVm([0, 511], { vendor: 'amd' }).inhibits.list()).toEqual([]);
    expect(makeReadyVm([0, 513], { vendor: 'amd' }).inhibits.list()).toEqual(['PHYSICAL_ID_TOO_BIG']);
    expect(makeReadyVm([0, 513], { vendor: 'intel' }).inhibits.list()).toEqual([]);
  });

  it('PHYSICAL_ID_TOO_BIG is set in svm_vcpu_create(), before the new vCPU\'s RESET rebuilds the map', () => {
    const vm = makeReadyVm([0], { vendor: 'amd' });
    takeEvents(vm);
    vm.createVcpu(600);
    expect(takeEvents(vm).map((e) => e.event)).toEqual(['kvm_apicv_inhibit_changed', 'kvm_recalculate_apic_map']);
  });

  it('APIC_ID_MODIFIED clears again when the ID is restored (dynamic since 6.3)', () => {
    const vm = makeReadyVm([0, 1]);
    mmioW(vm, 1, 0x20, 0x05000000);
    expect(vm.inhibits.list()).toEqual(['APIC_ID_MODIFIED']);
    expect(vm.apicvActive).toBe(false);
    mmioW(vm, 1, 0x20, 0x01000000);
    expect(vm.apicvActive).toBe(true);
  });

  it('NESTED follows vCPUs in guest mode on AMD only', () => {
    const amd = makeReadyVm([0, 1], { vendor: 'amd' });
    vcpu(amd, 1).guestMode = true;
    amd.updateNestedInhibit();
    expect(amd.inhibits.list()).toEqual(['NESTED']);
    vcpu(amd, 1).guestMode = false;
    amd.updateNestedInhibit();
    expect(amd.inhibits.list()).toEqual([]);
  });
});

describe('the APIC-access page (kvm_inhibit_apic_access_page)', () => {
  it('AVIC without x2AVIC deletes it for good when a vCPU enters x2APIC mode', () => {
    const vm = makeReadyVm([0, 1], { vendor: 'amd', x2avic: false });
    expect(vm.apicAccessPage).toBe('mapped');
    toX2apic(vm, 1);
    expect(vm.apicAccessPage).toBe('deleted');
    vm.wrmsr(vcpu(vm, 1), 0x1b, 0xfee00000n, false);
    expect(vm.apicAccessPage).toBe('deleted');
    expect(vm.apicvActive).toBe(true); // AVIC itself stays on (hybrid mode)
  });

  it('stays with x2AVIC and on Intel; does not exist without APICv', () => {
    for (const cfg of [{ vendor: 'amd' as const, x2avic: true }, { vendor: 'intel' as const }]) {
      const vm = makeReadyVm([0, 1], cfg);
      toX2apic(vm, 1);
      expect(vm.apicAccessPage).toBe('mapped');
    }
    expect(makeReadyVm([0], { apicv: false }).apicAccessPage).toBe('none');
  });
});

describe('IPI virtualization notes', () => {
  const note = (vm: ReturnType<typeof makeReadyVm>) => takeEvents(vm).find((e) => e.event === 'ipi_virtualization')?.detail;

  it('IPIv handles fixed physical unicast in hardware and exits for the rest', () => {
    const vm = makeReadyVm([0, 1], { ipiv: true });
    toX2apic(vm, 0);
    vm.takeTrace();
    vm.wrmsr(vcpu(vm, 0), 0x830, (1n << 32n) | 0x30n, false);
    expect(note(vm)).toMatch(/^IPIv: the CPU posts vector 48/);
    vm.wrmsr(vcpu(vm, 0), 0x830, (1n << 32n) | 0x400n, false);
    expect(note(vm)).toMatch(/APIC-write VM exit/);
  });

  it('IPIv (SDM "IPI virtualization"): a vector below 16 or a level-triggered IPI is not virtualized, it exits and KVM delivers it', () => {
    const vm = makeReadyVm([0, 1], { ipiv: true });
    toX2apic(vm, 0);
    vm.takeTrace();
    vm.wrmsr(vcpu(vm, 0), 0x830, (1n << 32n) | 0x0fn, false);
    expect(vm.takeDeliveries()[0]).toMatchObject({ exit: 'apic-write', route: { vcpus: [1], vector: 15 } });
    vm.wrmsr(vcpu(vm, 0), 0x830, (1n << 32n) | 0xc031n, false);
    expect(vm.takeDeliveries()[0].exit).toBe('apic-write');
    vm.wrmsr(vcpu(vm, 0), 0x830, (1n << 32n) | 0x10n, false);
    expect(vm.takeDeliveries()[0].exit).toBe('ipiv');
  });

  it('an ICR write with the self shorthand has an exit path; a SELF_IPI register write has none', () => {
    const vm = makeReadyVm([0, 1], { apicv: false });
    toX2apic(vm, 0);
    vm.takeTrace();
    vm.wrmsr(vcpu(vm, 0), 0x830, 0x40041n, false);
    expect(vm.takeDeliveries()[0].exit).toBe('wrmsr-fastpath');
    vm.wrmsr(vcpu(vm, 0), 0x83f, 0x41n, false);
    expect(vm.takeDeliveries()[0].exit).toBeUndefined();
  });

  it('AVIC (svm/avic.c): a Fixed self-IPI, by shorthand or by the sender\'s own ID, stays in the running sender, no exit; other Fixed IPIs exit (targets not running), other modes too', () => {
    const vm = makeReadyVm([0, 1], { vendor: 'amd' });
    toX2apic(vm, 0);
    vm.takeTrace();
    vm.wrmsr(vcpu(vm, 0), 0x830, 0x40041n, false); // Fixed, self shorthand
    expect(vm.takeDeliveries()[0].exit).toBe('avic');
    vm.wrmsr(vcpu(vm, 0), 0x830, (1n << 32n) | 0x41n, false); // Fixed, to vCPU 1
    expect(vm.takeDeliveries()[0].exit).toBe('avic-incomplete-ipi');
    vm.wrmsr(vcpu(vm, 0), 0x830, 0x41n, false); // Fixed, physical, to the sender's own ID: IsRunning is set
    expect(vm.takeDeliveries()[0].exit).toBe('avic');
    vm.wrmsr(vcpu(vm, 0), 0x830, (1n << 32n) | 0x841n, false); // Fixed, logical, to the sender alone: reported as an exit (see the module's inaccuracies)
    expect(vm.takeDeliveries()[0].exit).toBe('avic-incomplete-ipi');
    vm.wrmsr(vcpu(vm, 0), 0x830, 0x40400n, false); // NMI, self shorthand: not a Fixed IPI
    expect(vm.takeDeliveries()[0].exit).toBe('avic-incomplete-ipi');
    vm.wrmsr(vcpu(vm, 0), 0x830, 0x4c041n, false); // Fixed but level-triggered, self shorthand
    expect(vm.takeDeliveries()[0].exit).toBe('avic-incomplete-ipi');
  });

  it('without APICv every ICR write exits to KVM', () => {
    const vm = makeReadyVm([0, 1], { apicv: false });
    mmioW(vm, 0, 0x300, 0x30);
    expect(note(vm)).toMatch(/exits to KVM/);
  });
});
