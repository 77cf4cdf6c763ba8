/**
 * APICv / AVIC inhibit reasons: arch/x86/include/asm/kvm_host.h `enum kvm_apicv_inhibit`,
 * the vendor masks VMX_REQUIRED_APICV_INHIBITS (vmx/main.c) and AVIC_REQUIRED_APICV_INHIBITS
 * (svm/svm.h), and __kvm_set_or_clear_apicv_inhibit() (x86.c): setting a reason the vendor
 * does not honour is a no-op.
 *
 * Inaccuracies: per-vCPU reasons (NESTED is checked per vCPU by SVM) are held VM-wide;
 * HYPERV, BLOCKIRQ, IRQWIN, PIT_REINJ and SEV have no source in this model yet.
 */

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
