/**
 * Words the panels need that are not about one decision: what each inhibit reason means, the
 * APIC-access page's states, the alias panel's verdicts and help, the warnings' sentences and the
 * VM bar's help. Decisions themselves are put into words by explain.ts; the UI builds no
 * explanation sentence of its own.
 */
import type { RouteDecision } from '../core/decisions';
import type { AnyInhibitReason, InhibitInfo, Vendor } from '../core/inhibits';
import { BEHAVIOUR_CHANGES, type BehaviourId } from '../core/profile';
import { explain, guestTime, listVcpus, type Form } from './explain';

export { guestTime };

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
  x2avicExt: `X86_FEATURE_X2AVIC_EXT: the CPU's x2AVIC takes vCPU ids up to 4095, not 511. KVM uses it from ${since('x2avic4kVcpus')} on; a vCPU id above the table inhibits AVIC (PHYSICAL_ID_TOO_BIG)`,
  x2apicFormat: 'KVM_X2APIC_API_USE_32BIT_IDS: 32-bit x2APIC IDs (and the hotplug hack in the map), from the next map rebuild on',
  broadcastQuirk: 'KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK: 0xff is no longer an x2APIC broadcast for MSIs',
  /** A flag that is set: KVM_ENABLE_CAP has no way to clear it. */
  flagSet: (title: string) => `${title}. KVM cannot clear it again: reset the VM to start without it.`,
  /** The map's state, with the last rebuild's findings in words. */
  map: (present: boolean, findings: readonly string[]) => `the optimized APIC map is ${present ? 'present' : 'absent'}${findings.length ? `: ${findings.join('; ')}` : ''}`,
};

// ---- APIC timer and local sources (the register page's timer lane) --------------------------


/** A count with thin grouping, as a learner reads it: 1000000 -> "1,000,000". */
// Grouped by hand: toLocaleString builds a number formatter on every call, which shows when a panel
// re-renders on every click.
export const count = (n: number) => (Number.isInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : n.toLocaleString('en-US'));

type TimerModeName = 'one-shot' | 'periodic' | 'tsc-deadline';

export const timerWords = {
  heading: 'APIC timer',
  clock: (ns: number) => `guest clock ${guestTime(ns)}`,
  clockHelp: (ns: number) =>
    `The VM's guest clock: ${count(ns)} ns since the VM was created. It stands still until you let time pass (the timer lane's advance buttons, an advance step), so a replay repeats exactly.`,
  modeName: { 'one-shot': 'one-shot', periodic: 'periodic', 'tsc-deadline': 'TSC-deadline' } as Record<TimerModeName, string>,
  modeHelp: 'LVTT bits 18:17: 00 one-shot, 01 periodic, 10 TSC-deadline (only when the guest CPUID has the TSC-deadline timer)',
  /** What the timer does in this mode, in plain words. */
  what: (mode: TimerModeName, minPeriodNs: number): string => {
    switch (mode) {
      case 'one-shot':
        return 'Counts down from the initial count (TMICT) once; when it reaches 0 the timer interrupt waits until the vCPU runs.';
      case 'periodic':
        return `Counts down from the initial count (TMICT), then starts over: one interrupt per period (in KVM at least ${guestTime(minPeriodNs)} apart). Each expiry waits until the vCPU runs.`;
      case 'tsc-deadline':
        return "Fires once when the guest's time-stamp counter (TSC) reaches the deadline written to MSR 0x6E0; the interrupt then waits until the vCPU runs. TMICT and TMCCT are not used.";
    }
  },
  stopped: (mode: TimerModeName) => (mode === 'tsc-deadline' ? 'no deadline armed: write one to MSR 0x6E0' : 'stopped: writing a non-zero TMICT starts it'),
  currentCount: 'current count',
  currentCountHelp:
    'APIC_TMCCT (0x390), as a guest read returns it now. KVM keeps no counter: each read computes the time left in the current period / (bus cycle x divide) (apic_get_tmcct)',
  initialCount: 'initial count',
  initialCountHelp: 'APIC_TMICT (0x380): writing it (re)starts the timer, 0 stops it; ignored in TSC-deadline mode',
  divide: 'divide by',
  divideHelp: "APIC_TDCR (0x3e0): the timer counts at the APIC bus clock (1 GHz in KVM: 1 ns per cycle) divided by this",
  period: 'period',
  periodHelp: (minPeriodNs: number) =>
    `lapic_timer.period: initial count x divide x 1 ns; a periodic timer is never shorter than ${guestTime(minPeriodNs)} (the min_timer_period_us module parameter)`,
  nextExpiry: 'next expiry',
  nextExpiryAt: (atNs: number, nowNs: number) => `at ${guestTime(atNs)} (in ${guestTime(atNs - nowNs)})`,
  nextExpiryHelp: "When KVM's hrtimer for this timer fires, on the guest clock (lapic_timer.target_expiration)",
  none: 'none',
  timeLeft: 'Time left until the timer expires',
  deadline: 'deadline',
  deadlineHelp: (tscNow: string) => `lapic_timer.tscdeadline: the guest TSC value to fire at (MSR 0x6E0); the guest TSC reads ${tscNow} now`,
  pending: 'expiry pending',
  pendingHelp: 'lapic_timer.pending: an expiry that is not delivered yet. It goes to the IRR when the vCPU next enters the guest (KVM_RUN, or any guest access in this lab)',
  yes: 'yes',
  no: 'no',
  /** The pending line in words: what happens next. */
  pendingNow: (vector: number, vcpu: number, masked: boolean) =>
    masked
      ? `pending, but LVTT is masked: nothing reaches the IRR until it is unmasked and vCPU ${vcpu} runs`
      : `pending: vector 0x${vector.toString(16)} reaches vCPU ${vcpu}'s IRR when it runs`,
  masked: 'LVTT is masked: the timer still counts and expires, but delivers nothing',
  maskedBadge: 'masked',
  /** The vCPU list's mark for a vCPU whose timer expiry waits. */
  pendingBadge: 'timer',
  pendingBadgeHelp: 'APIC timer expiry pending: its interrupt reaches the IRR when the vCPU runs',
  maskedHelp: 'LVTT bit 16. A software-disabled APIC (SPIV bit 8 clear) forces every LVT entry masked',
  // Controls
  advanceLegend: 'Let guest time pass',
  advanceBy: (ns: number) => `+${guestTime(ns)}`,
  advanceByHelp: (ns: number) => `Let ${guestTime(ns)} of guest time pass (an advance step): every timer that comes due expires on the way`,
  customLabel: 'Nanoseconds of guest time to let pass',
  customPlaceholder: 'ns',
  customButton: 'Advance',
  customHelp: 'Let this much guest time pass: nanoseconds, or a number with a unit (250 µs, 1.5 ms, 2 s)',
  toNext: 'to next expiry',
  toNextHelp: (atNs: number | null) =>
    atNs === null ? 'No APIC timer is running on any vCPU, so there is no next expiry' : `Let guest time pass up to the next timer expiry of any vCPU, at ${guestTime(atNs)}`,
  run: (vcpu: number) => `run vCPU ${vcpu}`,
  runHelp: (vcpu: number) => `KVM_RUN vCPU ${vcpu} (a run step): entering the guest, KVM delivers a pending timer expiry, INIT/SIPI and NMIs`,
  localLegend: (vcpu: number) => `Raise on vCPU ${vcpu}`,
  localHelp: {
    LINT0: 'The LINT0 pin, through LVT0 (in a PC: the PIC, as ExtINT; or the NMI watchdog when LVT0 is in NMI mode)',
    LINT1: 'The LINT1 pin, through LVT1 (in a PC: NMI)',
    PERF: 'A performance-counter overflow (PMI), through LVTPC; on Intel, KVM masks LVTPC as it delivers',
    CMCI: 'A corrected machine-check interrupt, through LVTCMCI',
  } as Record<string, string>,
  noCmci: 'This VM has no CMCI entry: its guest MCG_CAP lacks MCG_CMCI_P',
  watchdog: 'NMI watchdog',
  watchdogHelp: "One tick of the PIT's NMI watchdog: an NMI through LVT0 to every vCPU, if any vCPU has LVT0 in NMI mode",
  lastStep: 'What the last step did to timers and local sources',
  /** The last step's timer and local-source decisions, in one line. */
  lastStepShort: (words: readonly string[], more: number) => `Last step: ${words.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
  vector: (v: number) => `vector 0x${v.toString(16)}`,
  vectorWhere: (inIrr: boolean, inIsr: boolean) => (inIrr && inIsr ? 'in IRR and ISR' : inIrr ? 'in IRR' : inIsr ? 'in ISR' : 'not in IRR/ISR'),
  vectorHelp: 'The vector LVTT delivers (bits 7:0), and where it is now: IRR (arrived, waiting to be taken), ISR (being handled)',
};

/** What a step's text said when the input is not a duration. */
export const advanceInputWords = {
  negative: 'advance: guest time only moves forward; enter 0 or more nanoseconds',
  notNumber: (text: string) => `advance: "${text}" is not an amount of guest time; enter nanoseconds (250000) or a number with a unit (250 µs, 1.5 ms, 2 s)`,
  fraction: (text: string) => `advance: "${text}" is not a whole number of nanoseconds`,
  tooLong: (maxNs: bigint) => `advance: at most ${count(Number(maxNs))} ns (one hour of guest time) per step; a longer one is surely a unit mistake`,
};

/** The event log's words for timer steps. */
export const timerLogWords = {
  now: (ns: number) => `now ${guestTime(ns)}`,
  /** Under a step whose timer expired and nothing was traced: why the trace is empty. */
  noExpiryTracepoint: 'KVM has no tracepoint for a software timer expiry (apic_timer_fn): only the delivery, as kvm_apic_accept_irq, shows in a trace',
};
