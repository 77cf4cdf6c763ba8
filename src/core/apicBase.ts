/**
 * IA32_APIC_BASE (MSR 0x1b): legal values and transitions, and what a change does.
 *
 * Models lapic.c kvm_apic_set_base() and __kvm_apic_set_base() (before the 2024 cleanup:
 * x86.c kvm_set_apic_base + lapic.c kvm_lapic_set_base), reached from kvm_set_msr_common and
 * KVM_SET_SREGS.
 *
 * Inaccuracies: CPUID.1:EDX.APIC (cpuid_dynamic_bits_dirty) and the vendor's
 * set_virtual_apic_mode are not modelled; the APICv update request is a trace event.
 */
import {
  APIC_DEFAULT_PHYS_BASE, MSR_IA32_APICBASE_BASE, MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE,
} from './apicdef';
import type { Vcpu } from './vcpu';
import { apicMode } from './vcpu';

/** Why kvm_apic_set_base() refused a value, in words; null when it accepts it. */
export function apicBaseRefusal(vcpu: Vcpu, value: bigint, hostInitiated: boolean): string | null {
  if (vcpu.apicBase === value) return null;
  const cfg = vcpu.vm.config;
  const reservedGpa = ((1n << 64n) - 1n) ^ ((1n << BigInt(cfg.maxPhyAddr)) - 1n);
  const reserved = reservedGpa | 0x2ffn | (cfg.x2apicCpuid ? 0n : X2APIC_ENABLE);
  if (value & reserved) {
    const bits = value & reserved;
    return `reserved bits set (0x${bits.toString(16)}): bits 0-7 and 9, bits at and above MAXPHYADDR ${cfg.maxPhyAddr}` +
      (cfg.x2apicCpuid ? '' : ', and bit 10 because the guest CPUID has no x2APIC');
  }
  const oldMode = vcpu.mode;
  const newMode = apicMode(value);
  if (newMode === 'invalid') return 'EXTD (bit 10) without EN (bit 11) is the invalid mode';
  if (!hostInitiated) {
    if (oldMode === 'x2apic' && newMode === 'xapic') return 'x2APIC -> xAPIC is illegal for the guest (disable the APIC first)';
    if (oldMode === 'disabled' && newMode === 'x2apic') return 'disabled -> x2APIC is illegal for the guest (enable xAPIC first)';
  }
  return null;
}

/** kvm_apic_set_base(): returns the refusal reason, or null when the value was applied. */
export function setApicBase(vcpu: Vcpu, value: bigint, hostInitiated: boolean): string | null {
  if (vcpu.apicBase === value) return null;
  const refusal = apicBaseRefusal(vcpu, value, hostInitiated);
  if (refusal !== null) return refusal;
  setApicBaseRaw(vcpu, value);
  vcpu.vm.recalculateApicMap();
  return null;
}

/** __kvm_apic_set_base(): apply a value already known to be legal. */
export function setApicBaseRaw(vcpu: Vcpu, value: bigint): void {
  const old = vcpu.apicBase;
  const apic = vcpu.apic;
  const vm = vcpu.vm;
  vcpu.apicBase = value;
  const changed = old ^ value;

  if (changed & MSR_IA32_APICBASE_ENABLE) {
    if (value & MSR_IA32_APICBASE_ENABLE) apic.setXapicId(vcpu.id);
    else vm.markMapDirty();
  }
  if (changed & X2APIC_ENABLE) {
    if (value & X2APIC_ENABLE) apic.setX2apicId(vcpu.id);
    else if ((value & MSR_IA32_APICBASE_ENABLE) && vm.profile.hasNew('xapicIdReinitOnHostX2apicExit')) apic.setXapicId(vcpu.id);
  }
  if (changed & (MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE)) {
    vm.trace({ event: 'kvm_apicv_update_request', vcpu: vcpu.id, detail: `APIC mode ${apicMode(old)} -> ${apicMode(value)}` });
    vm.updateApicv(vcpu);
  }
  apic.baseAddress = Number(value & MSR_IA32_APICBASE_BASE);
  if (value & MSR_IA32_APICBASE_ENABLE && apic.baseAddress !== APIC_DEFAULT_PHYS_BASE) {
    if (vm.profile.hasNew('apicBaseModifiedInhibit')) vm.setApicvInhibit('APIC_BASE_MODIFIED', true, `vCPU ${vcpu.id} enabled its APIC at base 0x${apic.baseAddress.toString(16)}`);
    else vm.trace({ event: 'printk', vcpu: vcpu.id, detail: 'APIC base relocation is unsupported by KVM' });
  }
}
