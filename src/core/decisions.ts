/**
 * Decisions: why KVM did what it did, as data. The core records one where KVM decides (the way
 * each `return 1` in lapic.c sits where its rule is checked); results carry them and
 * src/explain renders them into words in one place. Nothing here is English: every decision is
 * a `kind`, a `code` from that kind's closed list, the KVM function that decided (`kvm`), the
 * vCPUs involved (`vcpus`) and the values that mattered.
 *
 * Kinds:
 * - route:   which path an interrupt took and which vCPUs it selected
 *            (kvm_irq_delivery_to_apic, kvm_apic_map_get_dest_lapic).
 * - accept:  what a selected LAPIC did with it (__apic_accept_irq).
 * - event:   what a pending INIT or SIPI did when KVM processed it (kvm_apic_accept_events,
 *            vmx_check_nested_events / svm_check_nested_events).
 * - refusal: a guest fault or an ioctl error, naming the rule that fired.
 * - map:     something a map rebuild found (kvm_recalculate_phys_map,
 *            kvm_recalculate_logical_map), including the hotplug hack's choices.
 * - inhibit: why an APICv/AVIC inhibit reason was set that no map rebuild explains, or that a
 *            reason was cleared.
 *
 * Inaccuracies: `kvm` names the function that holds the rule in current upstream KVM (and in the
 * release the rule is specific to, where it names one); in older releases a rule may have lived
 * in a caller or a predecessor (kvm_set_apic_base before kvm_apic_set_base, for example). The
 * lab's own ops (nested, SMM) refuse with EINVAL and a decision where the real vCPU would take a
 * fault or simply not get there.
 */
import type { DeliveryModeName, SHORTHAND_NAMES } from './codec';
import type { LogicalMode } from './apicMap';
import type { AnyInhibitReason } from './inhibits';
import type { Errno, MpState, VcpuId } from './types';

/** The KVM functions decisions name: the place in the kernel source a user can read. */
export const KVM_FUNCTIONS = [
  'kvm_irq_delivery_to_apic',
  'kvm_apic_map_get_dest_lapic',
  'kvm_apic_map_get_logical_dest',
  '__apic_accept_irq',
  'kvm_apic_accept_events',
  'inject_pending_event',
  'vcpu_block',
  'apic_timer_expired',
  'kvm_inject_apic_timer_irqs',
  'kvm_apic_local_deliver',
  'kvm_apic_nmi_wd_deliver',
  'vmx_check_nested_events',
  'svm_check_nested_events',
  'kvm_recalculate_apic_map',
  'kvm_recalculate_phys_map',
  'kvm_recalculate_logical_map',
  'kvm_vcpu_reset',
  'kvm_apic_set_base',
  'kvm_x2apic_msr_write',
  'kvm_x2apic_msr_read',
  'kvm_x2apic_icr_write',
  'kvm_lapic_msr_write',
  'kvm_lapic_reg_write',
  'kvm_lapic_reg_read',
  'kvm_apic_state_fixup',
  'kvm_vm_ioctl_create_vcpu',
  'kvm_arch_vcpu_precreate',
  'kvm_vm_ioctl_enable_cap',
  'kvm_msi_route_invalid',
  'kvm_send_userspace_msi',
  'kvm_arch_vcpu_ioctl_set_mpstate',
  'kvm_arch_vcpu_ioctl_run',
  'handle_vmon',
  'handle_vmxoff',
  'nested_vmx_run',
  'nested_svm_vmrun',
  'nested_vmx_vmexit',
  'kvm_smm_transition',
  'emulator_leave_smm',
  'svm_set_gif',
  'kvm_apicv_init',
  'kvm_lapic_set_base',
  'avic_vcpu_precreate',
  'avic_init_backing_page',
  'svm_vcpu_after_set_cpuid',
  'kvm_lapic_xapic_id_updated',
  'avic_vcpu_get_apicv_inhibit_reasons',
  'kvm_pv_send_ipi',
] as const;
export type KvmFunction = (typeof KVM_FUNCTIONS)[number];

// ---- route ----------------------------------------------------------------------------------

export const ROUTE_CODES = {
  /** Fast: shorthand self, the sender itself, before the map is looked at. */
  SELF: 'fast',
  /** Fast: physical destination, one slot of phys_map (which may be empty). */
  PHYS_SLOT: 'fast',
  /** Fast: physical destination above max_apic_id: nobody, without a slow-path search. */
  PHYS_ABOVE_MAX: 'fast',
  /** Fast: logical destination, the slots its mask selects (xAPIC flat/cluster, x2APIC cluster). */
  LOGICAL_MASK: 'fast',
  /** Fast: x2APIC logical cluster beyond max_apic_id: nobody. */
  LOGICAL_CLUSTER_ABOVE_MAX: 'fast',
  /** Fast: no software-enabled APIC has a logical ID (logical mode SW_DISABLED): nobody. */
  NO_LOGICAL_IDS: 'fast',
  /** Fast: lowest priority by vector hashing (kvm_vector_to_index). */
  LOWEST_VECTOR_HASH: 'fast',
  /** Fast: vector hashing picked an empty slot ("Disabled LAPIC found during irq injection"). */
  LOWEST_VECTOR_HASH_EMPTY: 'fast',
  /** Fast: lowest priority by arbitration priority (apic_compare_prio). */
  LOWEST_ARBITRATION: 'fast',
  /** Fast: lowest priority with an empty mask: nobody. */
  LOWEST_EMPTY_MASK: 'fast',
  /** Slow: a shorthand to all (including or excluding self) is matched vCPU by vCPU. */
  SHORTHAND_ALL: 'slow',
  /** Slow: there is no optimized map (final.map.why says why). */
  NO_MAP: 'slow',
  /** Slow: the map's logical part is disabled (MAP_DISABLED). */
  MAP_DISABLED: 'slow',
  /** Slow: the destination is a broadcast (kvm_apic_is_broadcast_dest). */
  BROADCAST: 'slow',
  /** Slow: <= 6.2 maps with no logical mode sent logical lookups to the slow path. */
  LEGACY_NO_LOGICAL_MODE: 'slow',
  /** PV IPI hypercall (map only, no slow path): phys_map slots min + i for the bitmaps' set bits. */
  PV_BITMAP: 'fast',
  /** PV IPI hypercall: there is no optimized map, so nobody gets it (-EOPNOTSUPP; there is no slow path). */
  PV_NO_MAP: 'fast',
} as const;
export type RouteCode = keyof typeof ROUTE_CODES;

export type ShorthandName = (typeof SHORTHAND_NAMES)[number];

export interface RouteDecision {
  kind: 'route';
  code: RouteCode;
  kvm: KvmFunction;
  path: 'fast' | 'slow';
  /** The sending vCPU (an IPI), or null (an MSI). */
  source: VcpuId | null;
  /** The vCPUs the route selected (fast: the slots' occupants; slow: every vCPU that matched). */
  vcpus: VcpuId[];
  destId: number;
  logical: boolean;
  shorthand: ShorthandName;
  mode: DeliveryModeName;
  vector: number;
  /** How many vCPUs KVM looked at. */
  examined: number;
  /** The map's max_apic_id, when the fast path compared against it. */
  maxApicId?: number;
  /** Physical IDs of the phys_map slots the fast path read (physical, x2APIC logical). */
  physSlots?: number[];
  /** Empty slots among them. */
  emptySlots?: number[];
  /** The map's logical mode, when a logical lookup was made. */
  logicalMode?: LogicalMode;
  /** xAPIC cluster (destination bits 7:4) or x2APIC cluster (bits 31:16). */
  cluster?: number;
  /** The logical mask the lookup used (after limiting it to the cluster's size). */
  mask?: number;
  /** xAPIC flat/cluster table slot indices the mask selected (bit numbers). */
  logicalSlots?: number[];
  /** Lowest priority: the slot (bit number) picked, and the candidates counted. */
  pickedSlot?: number;
  candidates?: number;
  /** Slow path: a physical-broadcast LowestPrio became Fixed (the MSI hint still applies). */
  lowestBecameFixed?: boolean;
  /** Slow path: how lowest priority picked among the matches. */
  lowestBy?: 'vector-hash' | 'arbitration';
  /** NO_MAP / MAP_DISABLED: the map decisions that made it so (final.map.why at the time). */
  mapWhy?: MapDecision[];
  /** PV IPI: the hypercall's bitmaps (low, high) as KVM read them, the APIC ID of the low bitmap's bit 0, and the bits per bitmap (64, or 32 for a 32-bit guest). */
  pvBitmaps?: [string, string];
  pvMin?: number;
  pvBits?: 32 | 64;
  /** PV IPI: the APIC IDs the bitmaps' set bits name, in the order KVM walks them. */
  pvIds?: number[];
  /** PV IPI: set bits whose APIC ID is above max_apic_id, which KVM does not look at. */
  pvIgnoredIds?: number[];
}

// ---- accept ---------------------------------------------------------------------------------

export const ACCEPT_CODES = {
  /** The LAPIC took it (IRR/TMR set, NMI/SMI/INIT/SIPI latched). */
  ACCEPTED: true,
  /** An NMI while two are already pending: counted as accepted, but no new NMI (process_nmi). */
  NMI_ALREADY_PENDING: true,
  /** Fixed / LowestPrio to an APIC that is hardware- or software-disabled: dropped. */
  APIC_DISABLED: false,
  /** A level-triggered de-assert (level = 0) of a Fixed / LowestPrio interrupt: ignored. */
  LEVEL_DEASSERT: false,
  /** An INIT de-assert (level-triggered, level = 0): ignored. */
  INIT_DEASSERT: false,
  /** An SMI without SMM support in KVM: dropped. */
  NO_SMM: false,
  /** ExtINT comes through LVT0 and the PIC, never through __apic_accept_irq: ignored. */
  EXTINT_IGNORED: false,
} as const;
export type AcceptCode = keyof typeof ACCEPT_CODES;

export interface AcceptDecision {
  kind: 'accept';
  code: AcceptCode;
  kvm: '__apic_accept_irq';
  /** The receiving vCPU. */
  vcpus: [VcpuId];
  accepted: boolean;
  mode: DeliveryModeName;
  vector: number;
  trigLevel: boolean;
  /** For APIC_DISABLED: which enable bit was off. */
  hwEnabled?: boolean;
  swEnabled?: boolean;
}

// ---- event ----------------------------------------------------------------------------------

export const EVENT_CODES = [
  /** INIT processed: the LAPIC was reset, the vCPU waits for SIPI (or runs, the BSP). */
  'INIT_RESET',
  /** INIT latched: blocked in SMM, in VMX root operation, or with GIF clear. */
  'INIT_LATCHED',
  /** SIPI dropped because INIT/SIPI are blocked. */
  'SIPI_DROPPED_BLOCKED',
  /** SIPI started the vCPU at vector << 12. */
  'SIPI_STARTED',
  /** SIPI ignored: the vCPU was not waiting for one. */
  'SIPI_IGNORED_NOT_WAITING',
  /** In L2: INIT became an INIT VM-exit to L1. */
  'NESTED_INIT_VMEXIT',
  /** In L2 waiting for SIPI: SIPI became a SIPI VM-exit to L1. */
  'NESTED_SIPI_VMEXIT',
  /** Entering the guest, KVM injected a pending NMI; NMIs stay blocked until the guest's IRET. */
  'NMI_INJECTED',
  /** A halted vCPU had a wake-up event (a PV kick, an NMI it can take): KVM_RUN made it RUNNABLE. */
  'HALT_WOKEN',
  /** The APIC timer expired: the expiry is pending until the vCPU next runs (with APICv: injected now). */
  'TIMER_EXPIRED',
  /** A pending timer expiry was delivered through the LVT timer entry as the vCPU ran. */
  'TIMER_INJECTED',
  /** A local source (LVT entry) delivered its interrupt to its own LAPIC. */
  'LOCAL_DELIVERED',
  /** A local source was dropped: its LVT entry is masked, or the APIC is hardware-disabled. */
  'LOCAL_MASKED',
  /** A delivered performance-counter interrupt masked LVTPC itself (6.6+; since 6.9 Intel-compatible guests only). */
  'LVTPC_SELF_MASKED',
  /** The NMI watchdog tick reached no LAPIC: no vCPU has LVT0 in NMI mode. */
  'NMI_WATCHDOG_IDLE',
] as const;
export type EventCode = (typeof EVENT_CODES)[number];
export type InitBlocker = 'SMM' | 'VMX_ROOT' | 'GIF_CLEAR';

export interface EventDecision {
  kind: 'event';
  code: EventCode;
  kvm:
    | 'kvm_apic_accept_events' | 'vmx_check_nested_events' | 'svm_check_nested_events' | 'inject_pending_event' | 'vcpu_block'
    | 'apic_timer_expired' | 'kvm_inject_apic_timer_irqs' | 'kvm_apic_local_deliver' | 'kvm_apic_nmi_wd_deliver';
  vcpus: VcpuId[];
  blocker?: InitBlocker;
  sipiVector?: number;
  mpState?: MpState;
  /** HALT_WOKEN: what woke it. */
  wakeBy?: 'PV_UNHALT' | 'NMI' | 'TIMER';
  /** Timer events: the LVT timer mode. */
  timerMode?: 'one-shot' | 'periodic' | 'tsc-deadline';
  /** TIMER_EXPIRED with APICv: injected at once instead of pending. */
  injectedNow?: boolean;
  /** Local sources: which LVT entry. */
  lvt?: LvtName;
  /** LOCAL_DELIVERED: the interrupt, and whether the LAPIC took it (__apic_accept_irq). */
  mode?: DeliveryModeName;
  vector?: number;
  accepted?: boolean;
  /** LOCAL_MASKED: the APIC was hardware-disabled (else the entry was masked). */
  apicDisabled?: boolean;
  /** The VM clock (ns) when it happened. */
  atNs?: number;
}

/** The local vector table entries, by the names the SDM gives them. */
export const LVT_NAMES = ['TIMER', 'THERMAL', 'PERF', 'LINT0', 'LINT1', 'ERROR', 'CMCI'] as const;
export type LvtName = (typeof LVT_NAMES)[number];

// ---- refusal --------------------------------------------------------------------------------

export const REFUSAL_CODES = [
  // IA32_APIC_BASE (kvm_apic_set_base)
  'APICBASE_RESERVED_BITS',
  'APICBASE_INVALID_MODE',
  'APICBASE_X2APIC_TO_XAPIC',
  'APICBASE_DISABLED_TO_X2APIC',
  // x2APIC MSRs (kvm_x2apic_msr_write / _read, kvm_lapic_reg_write / _read)
  'X2APIC_MSR_IN_XAPIC_MODE',
  'X2APIC_ICR_RESERVED_BITS',
  'X2APIC_HIGH_BITS_RESERVED',
  'X2APIC_ICR2_ABSENT',
  'SELF_IPI_RESERVED_BITS',
  'ESR_NONZERO_WRITE',
  'LVT_CMCI_ABSENT',
  'REG_READ_ONLY_IN_X2APIC',
  'REG_NOT_WRITABLE',
  'REG_NOT_READABLE',
  // KVM_GET_LAPIC / KVM_SET_LAPIC (kvm_apic_state_fixup)
  'LAPIC_X2APIC_ID_MISMATCH',
  // KVM_CREATE_VCPU
  'VCPU_ID_TOO_BIG',
  'TOO_MANY_VCPUS',
  'VCPU_EXISTS',
  'AVIC_VCPU_ID_TOO_BIG',
  // KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)
  'X2APIC_API_BAD_FLAGS',
  // KVM_SIGNAL_MSI
  'MSI_ROUTE_INVALID',
  'MSI_NO_TARGET',
  // The PV IPI hypercall (KVM_HC_SEND_IPI, kvm_pv_send_ipi): a negative return, not an errno
  'PV_IPI_NOT_PHYSICAL',
  'PV_IPI_NO_MAP',
  // KVM_SET_MP_STATE / KVM_RUN
  'MP_STATE_INVALID',
  'MP_STATE_INIT_BLOCKED',
  'RUN_WAIT_FOR_SIPI_BLOCKED',
  // Nested and SMM ops (this lab's ops; EINVAL stands for "cannot happen")
  'NOT_VMX_VENDOR',
  'NOT_SVM_VENDOR',
  'ALREADY_VMXON',
  'NOT_VMXON',
  'IN_L2',
  'NOT_IN_L2',
  'NO_WAIT_FOR_SIPI_STATE',
  'NO_SMM_SUPPORT',
  'ALREADY_IN_SMM',
  'NOT_IN_SMM',
  'NOT_MODELLED_IN_SMM',
  'NOT_MODELLED_FROM_L2',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export interface RefusalDecision {
  kind: 'refusal';
  code: RefusalCode;
  kvm: KvmFunction;
  vcpus: VcpuId[];
  /** What the refusal looks like: a guest #GP, or the ioctl's errno. */
  fault?: '#GP';
  error?: Errno;
  msr?: number;
  /** The register offset (xAPIC page / x2APIC MSR - 0x800 << 4). */
  reg?: number;
  value?: string;
  /** APICBASE: the offending bits, and the transition. */
  bits?: string;
  from?: string;
  to?: string;
  maxPhyAddr?: number;
  x2apicCpuid?: boolean;
  /** KVM_CREATE_VCPU and AVIC limits. */
  limit?: number;
  /** KVM_ENABLE_CAP: the flags given and the ones this KVM takes. */
  flags?: string;
  validFlags?: string;
  /** KVM_SET_MP_STATE / KVM_RUN: the state, and what blocks INIT/SIPI. */
  mpState?: string;
  blocker?: InitBlocker | 'SMI_PENDING';
  /** The release the rule depends on, when it changed over time. */
  since?: string;
  /** A hypercall's return value (a negative KVM error number). */
  ret?: number;
}

// ---- map ------------------------------------------------------------------------------------

export const MAP_CODES = [
  /** Two vCPUs claim one physical ID without 32-bit IDs: no map at all (6.3+). */
  'PHYS_ID_ALIASED',
  /** An xAPIC-mode vCPU's xAPIC ID is not (u8)vcpu_id: APIC_ID_MODIFIED (6.3+). */
  'XAPIC_ID_MISMATCH',
  /** With 32-bit IDs (or <= 6.2), the first vCPU keeps an aliased xAPIC ID's slot. */
  'HOTPLUG_FIRST_WINS',
  /** With 32-bit IDs (or <= 6.2), an x2APIC ID takes its slot from a vCPU with that xAPIC ID. */
  'HOTPLUG_X2APIC_WINS',
  /** An xAPIC-mode vCPU above 255 is also reachable by its 32-bit ID (the hotplug hack). */
  'HOTPLUG_X2APIC_ID',
  /** Software-enabled APICs use different logical modes: logical map disabled. */
  'LOGICAL_MODES_MIXED',
  /** An xAPIC logical ID with more than one bit set: logical map disabled (6.3+). */
  'LOGICAL_ID_MULTI_BIT',
  /** Two vCPUs share an xAPIC logical ID: logical map disabled (6.3+). */
  'LOGICAL_ID_ALIASED',
  /** <= 6.2: a later vCPU overwrote an aliased logical slot. */
  'LOGICAL_SLOT_OVERWRITTEN',
  /** The map was rebuilt while a new vCPU was not yet online (KVM_CREATE_VCPU): it is missing. */
  'VCPU_NOT_ONLINE',
] as const;
export type MapCode = (typeof MAP_CODES)[number];

export interface MapDecision {
  kind: 'map';
  code: MapCode;
  kvm: 'kvm_recalculate_phys_map' | 'kvm_recalculate_logical_map' | 'kvm_recalculate_apic_map' | 'kvm_vcpu_reset';
  /** The vCPUs involved; for aliases the holder first. */
  vcpus: VcpuId[];
  physId?: number;
  /** xAPIC logical ID (LDR bits 31:24). */
  logicalId?: number;
  logicalMode?: LogicalMode;
  /** The mode the map had before this vCPU disagreed (LOGICAL_MODES_MIXED). */
  otherMode?: LogicalMode;
  xapicId?: number;
  /** KVM_X2APIC_API_USE_32BIT_IDS when the map was rebuilt. */
  x2apicFormat?: boolean;
  /** The release's map algorithm: v6.3+ or the <= 6.2 single loop. */
  legacy?: boolean;
}

// ---- inhibit --------------------------------------------------------------------------------

export const INHIBIT_CODES = [
  /** The module parameter (enable_apicv / avic) is off. */
  'MODULE_PARAM_OFF',
  /** An APIC was enabled at a base other than 0xfee00000. */
  'APIC_BASE_RELOCATED',
  /** A vCPU runs L2 (AVIC). */
  'VCPU_IN_L2',
  /** A vcpu_id above AVIC's physical ID table. */
  'VCPU_ID_ABOVE_AVIC_TABLE',
  /** <= 5.19: the guest CPUID has x2APIC, which AVIC could not handle. */
  'GUEST_CPUID_X2APIC',
  /** 5.19 - 6.2: an xAPIC ID other than vcpu_id was written (sticky). */
  'XAPIC_ID_WRITTEN',
  /** Cleared: the condition that set the reason no longer holds. */
  'CAUSE_GONE',
] as const;
export type InhibitCode = (typeof INHIBIT_CODES)[number];

export interface InhibitDecision {
  kind: 'inhibit';
  code: InhibitCode;
  kvm: KvmFunction;
  reason: AnyInhibitReason;
  vcpus: VcpuId[];
  base?: string;
  limit?: number;
  xapicId?: number;
}

/** What set an inhibit: a map rebuild's finding, or an inhibit decision of its own. */
export type InhibitCause = MapDecision | InhibitDecision;

export type Decision = RouteDecision | AcceptDecision | EventDecision | RefusalDecision | MapDecision | InhibitDecision;

/** Every code list, by kind: the closed lists a decision's code must come from. */
export const CODES: Record<Decision['kind'], readonly string[]> = {
  route: Object.keys(ROUTE_CODES),
  accept: Object.keys(ACCEPT_CODES),
  event: EVENT_CODES,
  refusal: REFUSAL_CODES,
  map: MAP_CODES,
  inhibit: INHIBIT_CODES,
};

/** The vCPUs a decision names, for linking and for checking that its words name no others. */
export function decisionVcpus(d: Decision): VcpuId[] {
  if (d.kind === 'route') return [...(d.source === null ? [] : [d.source]), ...d.vcpus, ...(d.mapWhy ?? []).flatMap((m) => m.vcpus)];
  return d.vcpus;
}
