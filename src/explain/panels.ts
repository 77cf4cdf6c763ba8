/**
 * Words the panels need that are not about one decision: what each inhibit reason means, the
 * APIC-access page's states, the alias panel's verdicts and help, the warnings' sentences and the
 * VM bar's help. Decisions themselves are put into words by explain.ts; the UI builds no
 * explanation sentence of its own.
 */
import type { RouteDecision } from '../core/decisions';
import type { AnyInhibitReason, InhibitInfo, Vendor } from '../core/inhibits';
import { BEHAVIOUR_CHANGES, type BehaviourId } from '../core/profile';
import { explain, listVcpus, type Form } from './explain';

const hex2 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
const all = (n: number) => (n === 2 ? 'both' : `all ${n}`);

/** The first release with a behaviour change, for help texts ("5.19"). */
const since = (id: BehaviourId) => BEHAVIOUR_CHANGES.find((c) => c.id === id)?.since;

// ---- APICv / AVIC inhibits ------------------------------------------------------------------

/** What the vendor's APIC virtualization is called. */
export const engineName = (vendor: Vendor) => (vendor === 'amd' ? 'AVIC' : 'APICv');
export const vendorName = (vendor: Vendor) => (vendor === 'amd' ? 'AMD' : 'Intel');

const INHIBIT_MEANINGS: Record<AnyInhibitReason, string> = {
  DISABLED: 'APICv/AVIC is off: module parameter or no hardware support',
  HYPERV: 'the guest uses Hyper-V SynIC AutoEOI, which needs EOI exits',
  ABSENT: 'no in-kernel irqchip yet (cleared by KVM_CREATE_IRQCHIP)',
  BLOCKIRQ: 'KVM_GUESTDBG_BLOCKIRQ is set by the debugger',
  PHYSICAL_ID_ALIASED: 'vCPUs share a physical APIC ID without 32-bit IDs: no optimized map',
  APIC_ID_MODIFIED: 'an xAPIC-mode vCPU has an xAPIC ID other than (u8)vcpu_id',
  APIC_BASE_MODIFIED: 'an APIC was enabled at a base other than 0xfee00000',
  NESTED: 'a vCPU runs L2, which AVIC doorbells cannot target',
  IRQWIN: 'KVM waits for an IRQ window through V_IRQ, which AVIC cannot inject',
  PIT_REINJ: 'the in-kernel PIT re-injects, which needs EOI intercepts',
  SEV: 'SEV guests cannot use AVIC',
  LOGICAL_ID_ALIASED: 'the logical map is disabled (shared or multi-bit logical IDs, mixed modes) or there is no map',
  PHYSICAL_ID_TOO_BIG: "a vcpu_id is above AVIC's physical ID table",
  X2APIC: 'the guest CPUID has x2APIC, which AVIC could not handle before 6.0',
};

/** One line: what a reason means, as the release has it (a sticky APIC_ID_MODIFIED is the 5.19 - 6.2 one). */
export function inhibitMeaning(info: Pick<InhibitInfo, 'reason' | 'sticky'>): string {
  if (info.reason === 'APIC_ID_MODIFIED' && info.sticky) return 'an xAPIC ID other than vcpu_id (untruncated) was written: set for good';
  return INHIBIT_MEANINGS[info.reason];
}

/** The tooltip of a reason's name. */
export function inhibitTitle(info: Pick<InhibitInfo, 'reason' | 'bit' | 'kvm'>): string {
  const where = info.bit === null ? ' (gone from the enum in later releases)' : `, bit ${info.bit} of apicv_inhibit_reasons`;
  return `APICV_INHIBIT_REASON_${info.reason}${where}; set and cleared by ${info.kvm}()`;
}

export const STICKY_HELP = 'sticky: once set, KVM never clears it';
export const CAUSE_NOT_RECORDED = 'not recorded';

export function engineStateTitle(vendor: Vendor, active: boolean, setReasons: readonly string[]): string {
  const engine = `${engineName(vendor)} (${vendorName(vendor)})`;
  return active ? `${engine} is active: no inhibit reason is set` : `${engine} is off while any reason is set: ${setReasons.join(', ')}`;
}

export const notYetSummary = (n: number, release: string) => `${n} not in KVM ${release}`;
export const notYetHelp = (release: string) => `Not in enum kvm_apicv_inhibit at KVM ${release}: later releases added them.`;
export const unusedSummary = (n: number, vendor: Vendor) => `${n} not used by ${vendorName(vendor)}`;
export const unusedHelp = (vendor: Vendor) =>
  `Not in ${vendor === 'intel' ? 'VMX_REQUIRED_APICV_INHIBITS' : 'AVIC_REQUIRED_APICV_INHIBITS'}: setting them is a no-op.`;

/** The APIC-access page (the snapshot's apicAccessPage) in words; `deletedBy` is the vCPU whose x2APIC entry deleted it. */
export function accessPageWords(state: string, vendor: Vendor, deletedBy: number | null): { label: string; why: string } {
  switch (state) {
    case 'mapped':
      return { label: 'mapped', why: `at 0xfee00000 (xAPIC MMIO virtualized by ${engineName(vendor)})` };
    case 'deleted':
      return { label: 'deleted for good', why: `AVIC without x2AVIC, and ${deletedBy === null ? 'a vCPU' : `vCPU ${deletedBy}`} entered x2APIC mode` };
    default:
      return { label: 'none', why: `${engineName(vendor)} disabled by the module parameter` };
  }
}

// ---- Alias conflicts ------------------------------------------------------------------------

/**
 * A route in words without the map findings it carries: the panels show those findings beside
 * it, rendered with what the VM knows now ("32-bit IDs were off at that rebuild"), which the
 * route's own words cannot say.
 */
export const routeWords = (route: RouteDecision, form: Form) => explain({ ...route, mapWhy: undefined }, form);

/** Who of the vCPUs sharing an ID an interrupt reaches: "both receive", "only vCPU 0", "nobody receives". */
export function aliasVerdict(sharing: readonly number[], reached: readonly number[]): string {
  if (reached.length === 0) return 'nobody receives';
  if (reached.length === sharing.length) return `${all(sharing.length)} receive`;
  return `only ${listVcpus(reached)}`;
}

/** What the architecture says about a physical ID several APICs have. */
export function physicalAliasArchitecture(apicId: number, vcpus: readonly number[]): string {
  return `Every APIC whose ID is ${apicId} accepts the message on its own: ${listVcpus(vcpus)} would ${all(vcpus.length)} receive it.`;
}

/** What the architecture says about a logical ID bit several APICs have. */
export function logicalAliasArchitecture(cluster: number | null, bit: number, vcpus: readonly number[]): string {
  return cluster === null
    ? `In the flat model every APIC whose LDR has bit ${bit} set accepts a logical message that names it: ${listVcpus(vcpus)}.`
    : `In the cluster model every APIC of cluster ${cluster} with bit ${bit} set accepts it: ${listVcpus(vcpus)}.`;
}

export const hardwareShort = (n: number) => `HW: ${n === 2 ? 'both' : 'all'}`;
export const logicalSlotWords = (cluster: number | null, bit: number) => (cluster === null ? `flat bit ${bit}` : `cluster ${cluster} bit ${bit}`);
export const physicalPreviewHelp = 'a Fixed IPI to each ID, as KVM routes it now';
export const logicalPreviewHelp = 'a logical Fixed IPI to each, as KVM routes it now';
export const NO_PHYSICAL_ALIAS = 'No shared physical APIC ID: every hardware-enabled vCPU has its own.';
export const CONFLICTS_CHECKED =
  'Checked: the physical IDs of hardware-enabled vCPUs (8-bit xAPIC ID in xAPIC mode, 32-bit ID in x2APIC mode), the logical IDs of software-enabled APICs with a non-zero LDR, and the xAPIC IDs of vCPUs above 255.';
export const truncatedHeading = (n: number) => `Truncated xAPIC IDs (${n})`;
export const TRUNCATED_HELP = 'vcpu_id > 255 in xAPIC mode: xAPIC ID = vcpu_id & 0xff';
export const conflictCount = (physical: number, logical: number) => (physical + logical === 0 ? 'none' : `${physical} physical · ${logical} logical`);

// ---- Warnings -------------------------------------------------------------------------------

export function ipiAliasWarning(apicId: number, got: readonly number[], sharing: readonly number[]): string {
  return `IPI to APIC ID ${apicId} went ${got.length ? `only to ${listVcpus(got)}` : 'to nobody'}; hardware would deliver it to ${listVcpus(sharing)}`;
}

export function ipiDroppedWarning(apicId: number, owners: readonly number[]): string {
  return `IPI to APIC ID ${apicId} was dropped: phys_map[${apicId}] is empty although ${listVcpus(owners)} ${owners.length === 1 ? 'has' : 'have'} that ID`;
}

export function logicalIpiWarning(logicalId: number, got: readonly number[], sharing: readonly number[]): string {
  return `Logical IPI to ${hex2(logicalId)} went ${got.length ? `only to ${listVcpus(got)}` : 'to nobody'}; hardware would deliver it to ${listVcpus(sharing)}`;
}

/** A warning standing for `n` findings of one kind: how many, then the first one's words. */
export const findingsLike = (n: number, text: string) => `${n} like this: ${text}`;

export function relocatedBaseWarning(vcpus: readonly number[], base: bigint): { text: string; detail: string } {
  return {
    text: vcpus.length === 1 ? `vCPU ${vcpus[0]}'s APIC is relocated to 0x${base.toString(16)}` : `${vcpus.length} vCPUs have a relocated APIC base`,
    detail: 'IA32_APIC_BASE names a base other than 0xfee00000 while the APIC is enabled: KVM decodes the APIC there, and APICv / AVIC cannot virtualize it (APIC_BASE_MODIFIED).',
  };
}

export function truncatedWarning(t: readonly { vcpu: number; xapicId: number }[]): { text: string; detail: string } {
  return {
    text: t.length === 1 ? `vCPU ${t[0].vcpu}'s xAPIC ID is truncated to ${t[0].xapicId} (vcpu_id & 0xff)` : `${t.length} vCPUs above 255 have truncated xAPIC IDs (vcpu_id & 0xff)`,
    detail: 'The xAPIC ID is 8 bits: in xAPIC mode a vCPU above 255 answers to vcpu_id & 0xff.',
  };
}

export const NO_SURPRISES = 'no KVM surprises';
export const warningLevelWord = { warn: 'Warning', info: 'Note' } as const;
export const selectHint = (vcpu: number) => `Click to select vCPU ${vcpu}.`;
export const moreWarnings = (n: number) => `${n} more warnings`;

// ---- VM bar ---------------------------------------------------------------------------------

export const vmBarHelp = {
  apicv: (vendor: Vendor) => (vendor === 'intel' ? 'kvm_intel.enable_apicv' : 'kvm_amd.avic'),
  ipiv: `IPI virtualization (Intel, ${since('ipiv')}+)`,
  x2avic: `x2AVIC (AMD, ${since('hybridAvic')}+)`,
  x2apicFormat: 'KVM_X2APIC_API_USE_32BIT_IDS: 32-bit x2APIC IDs (and the hotplug hack in the map), from the next map rebuild on',
  broadcastQuirk: 'KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK: 0xff is no longer an x2APIC broadcast for MSIs',
  /** A flag that is set: KVM_ENABLE_CAP has no way to clear it. */
  flagSet: (title: string) => `${title}. KVM cannot clear it again: reset the VM to start without it.`,
  /** The map's state, with the last rebuild's findings in words. */
  map: (present: boolean, findings: readonly string[]) => `the optimized APIC map is ${present ? 'present' : 'absent'}${findings.length ? `: ${findings.join('; ')}` : ''}`,
};
