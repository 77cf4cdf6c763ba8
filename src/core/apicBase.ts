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
  APIC_DEFAULT_PHYS_BASE, MSR_IA32_APICBASE, MSR_IA32_APICBASE_BASE, MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE,
} from './apicdef';
import type { RefusalCode, RefusalDecision } from './decisions';
import type { Vcpu } from './vcpu';
import { apicMode } from './vcpu';

/** Why kvm_apic_set_base() refuses a value (the caller adds #GP or EINVAL); null when it accepts it. */
export function apicBaseRefusal(vcpu: Vcpu, value: bigint, hostInitiated: boolean): RefusalDecision | null {
  if (vcpu.apicBase === value) return null;
  const cfg = vcpu.vm.config;
  const refuse = (code: RefusalCode, facts: Partial<RefusalDecision> = {}): RefusalDecision =>
    ({ kind: 'refusal', code, kvm: 'kvm_apic_set_base', vcpus: [vcpu.id], msr: MSR_IA32_APICBASE, value: '0x' + value.toString(16), ...facts });
  const reservedGpa = ((1n << 64n) - 1n) ^ ((1n << BigInt(cfg.maxPhyAddr)) - 1n);
  const reserved = reservedGpa | 0x2ffn | (cfg.x2apicCpuid ? 0n : X2APIC_ENABLE);
  if (value & reserved) {
    return refuse('APICBASE_RESERVED_BITS', { bits: '0x' + (value & reserved).toString(16), maxPhyAddr: cfg.maxPhyAddr, x2apicCpuid: cfg.x2apicCpuid });
  }
  const oldMode = vcpu.mode;
  const newMode = apicMode(value);
  if (newMode === 'invalid') return refuse('APICBASE_INVALID_MODE', { from: oldMode, to: newMode });
  if (!hostInitiated) {
    if (oldMode === 'x2apic' && newMode === 'xapic') return refuse('APICBASE_X2APIC_TO_XAPIC', { from: oldMode, to: newMode });
    if (oldMode === 'disabled' && newMode === 'x2apic') return refuse('APICBASE_DISABLED_TO_X2APIC', { from: oldMode, to: newMode });
  }
  return null;
}

/** kvm_apic_set_base(): returns the refusal, or null when the value was applied. */
export function setApicBase(vcpu: Vcpu, value: bigint, hostInitiated: boolean): RefusalDecision | null {
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
    else if ((value & MSR_IA32_APICBASE_ENABLE) && vm.profile.has.xapicIdReinitOnHostX2apicExit) apic.setXapicId(vcpu.id);
  }
  if (changed & (MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE)) {
    vcpu.apicvUpdatePending = vm.config.apicv; // kvm_make_request(KVM_REQ_APICV_UPDATE)
    vm.trace({ event: 'kvm_apicv_update_request', vcpu: vcpu.id, detail: `APIC mode ${apicMode(old)} -> ${apicMode(value)}` });
    vm.updateApicv(vcpu);
  }
  apic.baseAddress = Number(value & MSR_IA32_APICBASE_BASE);
  if (value & MSR_IA32_APICBASE_ENABLE && apic.baseAddress !== APIC_DEFAULT_PHYS_BASE) {
    if (vm.profile.has.apicBaseModifiedInhibit) vm.setApicvInhibit('APIC_BASE_MODIFIED', true, { kind: 'inhibit', code: 'APIC_BASE_RELOCATED', kvm: 'kvm_lapic_set_base', reason: 'APIC_BASE_MODIFIED', vcpus: [vcpu.id], base: '0x' + apic.baseAddress.toString(16) });
    else vm.trace({ event: 'printk', vcpu: vcpu.id, detail: 'APIC base relocation is unsupported by KVM' });
  }
}
