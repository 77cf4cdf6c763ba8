/**
 * APICv / AVIC inhibit reasons: arch/x86/include/asm/kvm_host.h `enum kvm_apicv_inhibit`,
 * the vendor masks VMX_REQUIRED_APICV_INHIBITS (vmx/main.c) and AVIC_REQUIRED_APICV_INHIBITS
 * (svm/svm.h), and __kvm_set_or_clear_apicv_inhibit() (x86.c): setting a reason the vendor
 * does not honour is a no-op.
 *
 * Inaccuracies: per-vCPU reasons (NESTED is checked per vCPU by SVM) are held VM-wide;
 * HYPERV, BLOCKIRQ, IRQWIN, PIT_REINJ and SEV have no source in this model yet.
 */

import type { KvmFunction } from './decisions';
import { KvmProfile, type BehaviourId } from './profile';

export const INHIBIT_REASONS = [
  'DISABLED',
  'HYPERV',
  'ABSENT',
  'BLOCKIRQ',
  'PHYSICAL_ID_ALIASED',
  'APIC_ID_MODIFIED',
  'APIC_BASE_MODIFIED',
  'NESTED',
  'IRQWIN',
  'PIT_REINJ',
  'SEV',
  'LOGICAL_ID_ALIASED',
  'PHYSICAL_ID_TOO_BIG',
] as const;

/** Reasons that existed in older KVMs only (listed after the current enum). */
export const HISTORICAL_INHIBITS = ['X2APIC'] as const;

export type InhibitReason = (typeof INHIBIT_REASONS)[number];
/** A current or historical reason. */
export type AnyInhibitReason = InhibitReason | (typeof HISTORICAL_INHIBITS)[number];
export type Vendor = 'intel' | 'amd';

const VMX_REQUIRED: ReadonlySet<AnyInhibitReason> = new Set([
  'DISABLED',
  'ABSENT',
  'HYPERV',
  'BLOCKIRQ',
  'PHYSICAL_ID_ALIASED',
  'APIC_ID_MODIFIED',
  'APIC_BASE_MODIFIED',
]);

const AVIC_REQUIRED: ReadonlySet<AnyInhibitReason> = new Set([
  ...VMX_REQUIRED,
  'NESTED',
  'IRQWIN',
  'PIT_REINJ',
  'SEV',
  'LOGICAL_ID_ALIASED',
  'PHYSICAL_ID_TOO_BIG',
  'X2APIC',
]);

/** Reasons that, once set, are never cleared by KVM. */
export const STICKY_INHIBITS: ReadonlySet<AnyInhibitReason> = new Set(['DISABLED', 'APIC_BASE_MODIFIED', 'SEV', 'PHYSICAL_ID_TOO_BIG', 'X2APIC']);

export function vendorHonours(vendor: Vendor, reason: AnyInhibitReason): boolean {
  return (vendor === 'intel' ? VMX_REQUIRED : AVIC_REQUIRED).has(reason);
}

/** The VM-wide `apicv_inhibit_reasons` bitmask. */
export class ApicvInhibits {
  private readonly set = new Set<AnyInhibitReason>();

  constructor(private readonly vendor: Vendor) {}

  /** kvm_set_or_clear_apicv_inhibit(); returns true when the mask changed. */
  setOrClear(reason: AnyInhibitReason, set: boolean): boolean {
    if (!vendorHonours(this.vendor, reason)) return false;
    if (set === this.set.has(reason)) return false;
    if (set) this.set.add(reason);
    else this.set.delete(reason);
    return true;
  }

  has(reason: AnyInhibitReason): boolean {
    return this.set.has(reason);
  }

  /** Set reasons in enum order (historical ones last). */
  list(): AnyInhibitReason[] {
    return [...INHIBIT_REASONS, ...HISTORICAL_INHIBITS].filter((r) => this.set.has(r));
  }

  /** The apicv_inhibit_reasons bitmask (historical reasons are not in today's enum: bit 31). */
  mask(): number {
    let m = 0;
    for (const r of this.set) {
      const bit = (INHIBIT_REASONS as readonly string[]).indexOf(r);
      m |= 1 << (bit < 0 ? 31 : bit);
    }
    return m >>> 0;
  }

  get any(): boolean {
    return this.set.size > 0;
  }
}

/** The behaviour change that brought a reason (src/core/profile.ts); absent: every modelled release has it. */
const INTRODUCED_BY: Partial<Record<AnyInhibitReason, BehaviourId>> = {
  APIC_ID_MODIFIED: 'apicIdModifiedInhibit',
  APIC_BASE_MODIFIED: 'apicBaseModifiedInhibit',
  PHYSICAL_ID_ALIASED: 'architecturalAliasing',
  LOGICAL_ID_ALIASED: 'architecturalAliasing',
  PHYSICAL_ID_TOO_BIG: 'avicIdTooBigInhibit',
};

/** The KVM function that sets or clears each reason. */
const SET_BY: Record<AnyInhibitReason, KvmFunction | 'synic_update_vector' | 'kvm_arch_vcpu_guestdbg_update_apicv_inhibit' | 'svm_enable_irq_window' | 'kvm_pit_set_reinject' | 'sev_guest_init'> = {
  DISABLED: 'kvm_apicv_init',
  HYPERV: 'synic_update_vector',
  ABSENT: 'kvm_apicv_init',
  BLOCKIRQ: 'kvm_arch_vcpu_guestdbg_update_apicv_inhibit',
  PHYSICAL_ID_ALIASED: 'kvm_recalculate_apic_map',
  APIC_ID_MODIFIED: 'kvm_recalculate_apic_map',
  APIC_BASE_MODIFIED: 'kvm_lapic_set_base',
  NESTED: 'avic_vcpu_get_apicv_inhibit_reasons',
  IRQWIN: 'svm_enable_irq_window',
  PIT_REINJ: 'kvm_pit_set_reinject',
  SEV: 'sev_guest_init',
  LOGICAL_ID_ALIASED: 'kvm_recalculate_apic_map',
  PHYSICAL_ID_TOO_BIG: 'avic_init_backing_page',
  X2APIC: 'svm_vcpu_after_set_cpuid',
};

export interface InhibitInfo {
  reason: AnyInhibitReason;
  /** Bit in today's enum kvm_apicv_inhibit; null for a reason gone from it. */
  bit: number | null;
  /** The vendor's REQUIRED_APICV_INHIBITS has it (setting it is otherwise a no-op). */
  honoured: boolean;
  /** The release has the reason at all. */
  exists: boolean;
  /** Once set, KVM never clears it. */
  sticky: boolean;
  /** Who sets and clears it at this release. */
  kvm: string;
}

/** Every inhibit reason as a vendor and a KVM release ("current" or "X.Y") have it. */
export function inhibitTable(vendor: Vendor, release = 'current'): InhibitInfo[] {
  const profile = new KvmProfile(release);
  const apicIdModifiedSticky = profile.has.apicIdModifiedInhibit && !profile.has.apicIdModifiedDynamic;
  return [...INHIBIT_REASONS, ...HISTORICAL_INHIBITS].map((reason) => {
    const since = INTRODUCED_BY[reason];
    const bit = (INHIBIT_REASONS as readonly string[]).indexOf(reason);
    return {
      reason,
      bit: bit < 0 ? null : bit,
      honoured: vendorHonours(vendor, reason),
      exists: reason === 'X2APIC' ? !profile.has.hybridAvic : since === undefined || profile.hasNew(since),
      sticky: STICKY_INHIBITS.has(reason) || (reason === 'APIC_ID_MODIFIED' && apicIdModifiedSticky),
      kvm: reason === 'APIC_ID_MODIFIED' && apicIdModifiedSticky ? 'kvm_lapic_xapic_id_updated' : SET_BY[reason],
    };
  });
}
