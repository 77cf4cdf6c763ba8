/**
 * The APICv / AVIC inhibit view, computed from the snapshot: every reason of
 * `enum kvm_apicv_inhibit` the vendor honours (VMX_REQUIRED_APICV_INHIBITS /
 * AVIC_REQUIRED_APICV_INHIBITS), set or clear, sticky or not, what set it, and the APIC-access
 * page. The KVM release decides which reasons exist (the aliasing ones came with 6.3, the
 * historical X2APIC one went with 6.0) and whether APIC_ID_MODIFIED is sticky (5.19 - 6.2).
 * Pure: no store, no React.
 */
import { HISTORICAL_INHIBITS, INHIBIT_REASONS, STICKY_INHIBITS, vendorHonours, type AnyInhibitReason, type Vendor } from '../../core/inhibits';
import { KvmProfile, type BehaviourId } from '../../core/profile';
import type { FinalState, StepResult } from '../../scenario/result';

export interface InhibitRow {
  reason: AnyInhibitReason;
  /** Bit number in today's enum kvm_apicv_inhibit; null for a historical reason. */
  bit: number | null;
  set: boolean;
  sticky: boolean;
  /** What set it (the snapshot's inhibitCauses), when set. */
  cause: string | null;
  /** One line: what the reason means. */
  meaning: string;
  /** The KVM function that sets or clears it. */
  fn: string;
}

export const INHIBIT_INFO: Record<AnyInhibitReason, { meaning: string; fn: string }> = {
  DISABLED: { meaning: 'APICv/AVIC is off: module parameter or no hardware support', fn: 'kvm_apicv_init' },
  HYPERV: { meaning: 'the guest uses Hyper-V SynIC AutoEOI, which needs EOI exits', fn: 'synic_update_vector' },
  ABSENT: { meaning: 'no in-kernel irqchip yet (cleared by KVM_CREATE_IRQCHIP)', fn: 'kvm_apicv_init' },
  BLOCKIRQ: { meaning: 'KVM_GUESTDBG_BLOCKIRQ is set by the debugger', fn: 'kvm_arch_vcpu_guestdbg_update_apicv_inhibit' },
  PHYSICAL_ID_ALIASED: { meaning: 'vCPUs share a physical APIC ID without 32-bit IDs: no optimized map', fn: 'kvm_recalculate_apic_map' },
  APIC_ID_MODIFIED: { meaning: 'an xAPIC-mode vCPU has an xAPIC ID other than (u8)vcpu_id', fn: 'kvm_recalculate_apic_map' },
  APIC_BASE_MODIFIED: { meaning: 'an APIC was enabled at a base other than 0xfee00000', fn: 'kvm_lapic_set_base' },
  NESTED: { meaning: 'a vCPU runs L2, which AVIC doorbells cannot target', fn: 'avic_vcpu_get_apicv_inhibit_reasons' },
  IRQWIN: { meaning: 'KVM waits for an IRQ window through V_IRQ, which AVIC cannot inject', fn: 'svm_enable_irq_window' },
  PIT_REINJ: { meaning: 'the in-kernel PIT re-injects, which needs EOI intercepts', fn: 'kvm_pit_set_reinject' },
  SEV: { meaning: 'SEV guests cannot use AVIC', fn: 'sev_guest_init' },
  LOGICAL_ID_ALIASED: { meaning: 'the logical map is disabled: shared or multi-bit logical IDs, or mixed modes', fn: 'kvm_recalculate_apic_map' },
  PHYSICAL_ID_TOO_BIG: { meaning: "a vcpu_id is above AVIC's table (254; x2AVIC 511)", fn: 'avic_init_backing_page' },
  X2APIC: { meaning: 'the guest CPUID has x2APIC, which AVIC could not handle before 6.0', fn: 'svm_vcpu_after_set_cpuid' },
};

/** APIC_ID_MODIFIED as 5.19 - 6.2 had it: set for good by the write, compared untruncated. */
const APIC_ID_MODIFIED_5_19 = { meaning: 'an xAPIC ID other than vcpu_id (untruncated) was written: set for good', fn: 'kvm_lapic_xapic_id_updated' };

/** Reasons that a release may predate (the profile's behaviour change that brought them). */
const INTRODUCED_BY: Partial<Record<AnyInhibitReason, BehaviourId>> = {
  APIC_ID_MODIFIED: 'apicIdModifiedInhibit',
  APIC_BASE_MODIFIED: 'apicBaseModifiedInhibit',
  PHYSICAL_ID_ALIASED: 'architecturalAliasing',
  LOGICAL_ID_ALIASED: 'architecturalAliasing',
  PHYSICAL_ID_TOO_BIG: 'avicIdTooBigInhibit',
};

export interface AccessPage {
  state: 'none' | 'mapped' | 'deleted';
  /** A word or two: "mapped", "none", "deleted for good". */
  label: string;
  /** One line: why. */
  why: string;
}

export interface InhibitView {
  /** "APICv" (Intel) or "AVIC" (AMD). */
  engine: 'APICv' | 'AVIC';
  vendor: Vendor;
  active: boolean;
  /** Honoured reasons: set ones first, each group in enum order. */
  rows: InhibitRow[];
  /** Reasons the vendor does not honour (setting them is a no-op). */
  unused: AnyInhibitReason[];
  /** Reasons this KVM release does not have yet. */
  notYet: AnyInhibitReason[];
  /** The release, as the VM input names it ("current" or "X.Y"). */
  release: string;
  accessPage: AccessPage;
}

export type InhibitInput = Pick<FinalState, 'inhibits' | 'inhibitCauses' | 'apicvActive' | 'apicAccessPage' | 'vcpus'>;

/** The vCPU whose x2APIC entry deleted the APIC-access page, from the steps' KVM trace. */
export function accessPageDeleter(results: readonly StepResult[]): number | null {
  for (const r of results) {
    const trace = r.trace as { event: string; vcpu?: number }[] | undefined;
    const e = trace?.find((t) => t.event === 'kvm_inhibit_apic_access_page');
    if (e) return e.vcpu ?? null;
  }
  return null;
}

export interface InhibitOptions {
  /** The vCPU whose x2APIC entry deleted the APIC-access page (from the trace). */
  deletedBy?: number | null;
  /** The KVM release ("current" or "X.Y"). */
  release?: string;
  /** The VM's x2avic setting (AMD). */
  x2avic?: boolean;
}

export function inhibitView(s: InhibitInput, vendor: Vendor = 'intel', opts: InhibitOptions = {}): InhibitView {
  const release = opts.release ?? 'current';
  const profile = new KvmProfile(release);
  const set = new Set(s.inhibits);
  const exists = (r: AnyInhibitReason) => {
    if (r === 'X2APIC') return !profile.hasNew('hybridAvic');
    const since = INTRODUCED_BY[r];
    return since === undefined || profile.hasNew(since);
  };
  const stickyIn = (r: AnyInhibitReason) =>
    STICKY_INHIBITS.has(r) || (r === 'APIC_ID_MODIFIED' && profile.hasNew('apicIdModifiedInhibit') && !profile.hasNew('apicIdModifiedDynamic'));
  const all: readonly AnyInhibitReason[] = [...INHIBIT_REASONS, ...HISTORICAL_INHIBITS];
  const rows: InhibitRow[] = [];
  const unused: AnyInhibitReason[] = [];
  const notYet: AnyInhibitReason[] = [];
  for (const reason of all) {
    const isSet = set.has(reason);
    if (!isSet && reason === 'X2APIC' && !exists(reason)) continue;
    if (!isSet && !vendorHonours(vendor, reason)) {
      unused.push(reason);
      continue;
    }
    if (!isSet && !exists(reason)) {
      notYet.push(reason);
      continue;
    }
    const bit = (INHIBIT_REASONS as readonly string[]).indexOf(reason);
    const info = reason === 'APIC_ID_MODIFIED' && stickyIn(reason) ? APIC_ID_MODIFIED_5_19 : INHIBIT_INFO[reason];
    rows.push({ reason, bit: bit < 0 ? null : bit, set: isSet, sticky: stickyIn(reason), cause: isSet ? (s.inhibitCauses[reason] ?? null) : null, ...info });
  }
  const order = (r: InhibitRow) => (r.bit === null ? 100 : r.bit);
  rows.sort((a, b) => Number(b.set) - Number(a.set) || order(a) - order(b));
  const engine = vendor === 'amd' ? 'AVIC' : 'APICv';
  return {
    engine,
    vendor,
    active: s.apicvActive,
    rows,
    unused,
    notYet,
    release,
    accessPage: accessPageText(s, engine, { ...opts, vendor, profile }),
  };
}

function accessPageText(s: InhibitInput, engine: string, opts: InhibitOptions & { vendor: Vendor; profile: KvmProfile }): AccessPage {
  switch (s.apicAccessPage) {
    case 'mapped': {
      const x2 = s.vcpus.find((v) => v.mode === 'x2apic');
      if (opts.vendor === 'amd' && opts.x2avic === false && x2 && !opts.profile.hasNew('apicAccessPageInhibit')) {
        return { state: 'mapped', label: 'mapped', why: `at 0xfee00000 although vCPU ${x2.vcpu} is in x2APIC mode without x2AVIC: before 6.3 the xAPIC page stayed visible` };
      }
      return { state: 'mapped', label: 'mapped', why: `at 0xfee00000 (xAPIC MMIO virtualized by ${engine})` };
    }
    case 'deleted': {
      const who = opts.deletedBy ?? s.vcpus.find((v) => v.mode === 'x2apic')?.vcpu;
      return {
        state: 'deleted',
        label: 'deleted for good',
        why: `AVIC without x2AVIC, and ${who === undefined || who === null ? 'a vCPU' : `vCPU ${who}`} entered x2APIC mode (kvm_inhibit_apic_access_page)`,
      };
    }
    default:
      return { state: 'none', label: 'none', why: `${engine} disabled by the module parameter` };
  }
}
