/**
 * The APICv / AVIC inhibit view, computed from the snapshot: every reason of
 * `enum kvm_apicv_inhibit` the vendor honours, set or clear, sticky or not, what set it, and the
 * APIC-access page. Which reasons exist at a release, which the vendor honours, which are sticky
 * and who sets them come from the core (inhibitTable); what set one is the decision the snapshot
 * records (inhibitWhy), put into words by src/explain. Pure: no store, no React.
 */
import type { InhibitCause } from '../../core/decisions';
import { inhibitTable, type AnyInhibitReason, type Vendor } from '../../core/inhibits';
import { explainInhibitCause } from '../../explain/explain';
import { accessPageWords, engineName, inhibitMeaning, inhibitTitle } from '../../explain/panels';
import type { FinalState, StepResult } from '../../scenario/result';

export interface InhibitRow {
  reason: AnyInhibitReason;
  /** Bit number in today's enum kvm_apicv_inhibit; null for a historical reason. */
  bit: number | null;
  set: boolean;
  sticky: boolean;
  /** The decision that set it (the snapshot's inhibitWhy), when set and recorded. */
  cause: InhibitCause | null;
  /** That decision in words (long form). */
  causeText: string | null;
  /** One line: what the reason means. */
  meaning: string;
  /** The name's tooltip: the enum entry, its bit and who sets it. */
  title: string;
  /** The KVM function that sets or clears it at this release. */
  kvm: string;
}

export interface AccessPage {
  state: 'none' | 'mapped' | 'deleted';
  /** A word or two: "mapped", "none", "deleted for good". */
  label: string;
  /** One line: why. */
  why: string;
  /** The KVM function that deleted it (the trace event's name), when it was. */
  kvm?: string;
}

export interface InhibitView {
  /** "APICv" (Intel) or "AVIC" (AMD). */
  engine: string;
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

export type InhibitInput = Pick<FinalState, 'inhibits' | 'inhibitWhy' | 'apicvActive' | 'apicAccessPage' | 'caps'>;

/** What deleted the APIC-access page: the trace event's name (the KVM function) and vCPU field. */
export interface AccessPageDeletion {
  kvm: string;
  vcpu: number | null;
}

export function accessPageDeleter(results: readonly StepResult[]): AccessPageDeletion | null {
  for (const r of results) {
    const deleted = r.trace?.find((t) => t.event === 'kvm_inhibit_apic_access_page');
    if (deleted) return { kvm: deleted.event, vcpu: deleted.vcpu ?? null };
  }
  return null;
}

export interface InhibitOptions {
  /** What deleted the APIC-access page (accessPageDeleter). */
  deletedBy?: AccessPageDeletion | null;
  /** The KVM release ("current" or "X.Y"). */
  release?: string;
}

export function inhibitView(s: InhibitInput, vendor: Vendor = 'intel', opts: InhibitOptions = {}): InhibitView {
  const release = opts.release ?? 'current';
  const set = new Set<string>(s.inhibits);
  const now = { x2apicFormat: s.caps.x2apicFormat };
  const rows: InhibitRow[] = [];
  const unused: AnyInhibitReason[] = [];
  const notYet: AnyInhibitReason[] = [];
  for (const info of inhibitTable(vendor, release)) {
    const { reason } = info;
    const isSet = set.has(reason);
    if (!isSet) {
      if (!info.exists && info.bit === null) continue; // gone from the enum at this release
      if (!info.honoured) {
        unused.push(reason);
        continue;
      }
      if (!info.exists) {
        notYet.push(reason);
        continue;
      }
    }
    const cause = isSet ? (s.inhibitWhy[reason] ?? null) : null;
    rows.push({
      reason,
      bit: info.bit,
      set: isSet,
      sticky: info.sticky,
      cause,
      causeText: cause && explainInhibitCause(reason, cause, 'long', now),
      meaning: inhibitMeaning(info),
      title: inhibitTitle(info),
      kvm: info.kvm,
    });
  }
  const order = (r: InhibitRow) => (r.bit === null ? 100 : r.bit);
  rows.sort((a, b) => Number(b.set) - Number(a.set) || order(a) - order(b));
  const state = s.apicAccessPage === 'mapped' || s.apicAccessPage === 'deleted' ? s.apicAccessPage : 'none';
  const deletion = state === 'deleted' ? opts.deletedBy : null;
  return {
    engine: engineName(vendor),
    vendor,
    active: s.apicvActive,
    rows,
    unused,
    notYet,
    release,
    accessPage: { state, ...accessPageWords(state, vendor, deletion?.vcpu ?? null), kvm: deletion?.kvm },
  };
}
