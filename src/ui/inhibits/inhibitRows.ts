/**
 * The APICv / AVIC inhibit view, computed from the snapshot: every reason of
 * `enum kvm_apicv_inhibit` the vendor honours (VMX_REQUIRED_APICV_INHIBITS /
 * AVIC_REQUIRED_APICV_INHIBITS), set or clear, sticky or not, what set it, and the APIC-access
 * page. Pure: no store, no React.
 */
import { INHIBIT_REASONS, STICKY_INHIBITS, vendorHonours, type InhibitReason, type Vendor } from '../../core/inhibits';
import type { FinalState, StepResult } from '../../scenario/result';

export interface InhibitRow {
  reason: InhibitReason;
  /** Bit number in apicv_inhibit_reasons. */
  bit: number;
  set: boolean;
  sticky: boolean;
  /** What set it (the snapshot's inhibitCauses), when set. */
  cause: string | null;
  /** One line: what the reason means. */
  meaning: string;
  /** The KVM function that sets or clears it. */
  fn: string;
}

export const INHIBIT_INFO: Record<InhibitReason, { meaning: string; fn: string }> = {
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
  unused: InhibitReason[];
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

export function inhibitView(s: InhibitInput, vendor: Vendor = 'intel', opts: { deletedBy?: number | null } = {}): InhibitView {
  const set = new Set(s.inhibits);
  const rows: InhibitRow[] = INHIBIT_REASONS.flatMap((reason, bit) =>
    vendorHonours(vendor, reason)
      ? [{ reason, bit, set: set.has(reason), sticky: STICKY_INHIBITS.has(reason), cause: set.has(reason) ? (s.inhibitCauses[reason] ?? null) : null, ...INHIBIT_INFO[reason] }]
      : [],
  );
  rows.sort((a, b) => Number(b.set) - Number(a.set) || a.bit - b.bit);
  const engine = vendor === 'amd' ? 'AVIC' : 'APICv';
  return {
    engine,
    vendor,
    active: s.apicvActive,
    rows,
    unused: INHIBIT_REASONS.filter((r) => !vendorHonours(vendor, r)),
    accessPage: accessPageText(s, engine, opts),
  };
}

function accessPageText(s: InhibitInput, engine: string, opts: { deletedBy?: number | null }): AccessPage {
  switch (s.apicAccessPage) {
    case 'mapped':
      return { state: 'mapped', label: 'mapped', why: `at 0xfee00000 (xAPIC MMIO virtualized by ${engine})` };
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
