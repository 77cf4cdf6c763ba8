/**
 * The one place decisions become words. Every "why" the app, the runner, the warnings, the tours
 * and the trace show is rendered here from a typed decision (src/core/decisions.ts), in a short
 * form (one line, for lists and badges) and a long form (plain words first, then the KVM detail).
 * A text names only vCPUs its decision names (checked by explain.test.ts).
 */
import type {
  AcceptDecision, Decision, EventDecision, InhibitDecision, MapDecision, RefusalDecision, RouteDecision,
} from '../core/decisions';
import type { AnyInhibitReason } from '../core/inhibits';

export type Form = 'short' | 'long';

/** What the app knows now that the decision did not: lets a text say "was" rather than "is". */
export interface Now {
  /** KVM_X2APIC_API_USE_32BIT_IDS as the VM has it now. */
  x2apicFormat?: boolean;
}

const hex = (n: number) => '0x' + n.toString(16);
const vcpu = (id: number) => `vCPU ${id}`;

/** "vCPU 1", "vCPUs 1 and 2", "vCPUs 1, 2 and 3", "vCPUs 1, 2, 3 and 40 more". */
export function listVcpus(ids: readonly number[], max = 8): string {
  return ids.length === 0 ? 'no vCPU' : listNamed('vCPU', 'vCPUs', ids, max);
}

/** A non-empty list of numbered things: "APIC ID 3", "APIC IDs 1, 2 and 300", at most `max` named. */
function listNamed(one: string, many: string, ids: readonly number[], max = 8): string {
  if (ids.length === 1) return `${one} ${ids[0]}`;
  if (ids.length > max) return `${many} ${ids.slice(0, max).join(', ')} and ${ids.length - max} more`;
  return `${many} ${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`;
}

/** Words for any decision. */
export function explain(d: Decision, form: Form = 'short', now: Now = {}): string {
  switch (d.kind) {
    case 'route':
      return explainRoute(d, form, now);
    case 'accept':
      return explainAccept(d, form);
    case 'event':
      return explainEvent(d, form);
    case 'refusal':
      return explainRefusal(d, form);
    case 'map':
      return explainMap(d, form, now);
    case 'inhibit':
      return explainInhibit(d, form);
  }
}

const logicalModeWords: Record<string, string> = {
  XAPIC_FLAT: 'xAPIC flat',
  XAPIC_CLUSTER: 'xAPIC cluster',
  X2APIC: 'x2APIC',
  SW_DISABLED: 'none',
  MAP_DISABLED: 'disabled',
};

function explainRoute(d: RouteDecision, form: Form, now: Now): string {
  const whom = d.vcpus.length ? listVcpus(d.vcpus) : 'nobody';
  let s: string;
  switch (d.code) {
    case 'SELF':
      s = `fast path: shorthand self, to ${d.source === null ? 'the sender' : vcpu(d.source)}`;
      break;
    case 'PHYS_SLOT':
      s = d.emptySlots?.length
        ? `fast path: phys_map[${d.destId}] is empty, so nobody gets it`
        : `fast path: phys_map[${d.destId}] holds ${whom}`;
      break;
    case 'PHYS_ABOVE_MAX':
      s = `fast path: physical ID ${d.destId} is above max_apic_id ${d.maxApicId}, so nobody gets it`;
      break;
    case 'LOGICAL_MASK':
      s = `fast path: ${logicalModeWords[d.logicalMode ?? ''] ?? d.logicalMode} logical${d.cluster !== undefined ? ` cluster ${d.cluster}` : ''} mask ${hex(d.mask ?? 0)} selects ${whom}`;
      break;
    case 'LOGICAL_CLUSTER_ABOVE_MAX':
      s = `fast path: x2APIC cluster ${d.cluster} starts above max_apic_id ${d.maxApicId}, so nobody gets it`;
      break;
    case 'NO_LOGICAL_IDS':
      s = 'fast path: no software-enabled APIC has a logical ID, so nobody gets it';
      break;
    case 'LOWEST_VECTOR_HASH':
      s = `fast path: lowest priority by vector hashing picks slot ${d.pickedSlot} (vector ${d.vector} % ${d.candidates}): ${whom}`;
      break;
    case 'LOWEST_VECTOR_HASH_EMPTY':
      s = `fast path: vector hashing picks slot ${d.pickedSlot}, which is empty, so nobody gets it`;
      break;
    case 'LOWEST_ARBITRATION':
      s = `fast path: lowest priority by arbitration priority picks ${whom}`;
      break;
    case 'LOWEST_EMPTY_MASK':
      s = 'fast path: lowest priority with an empty mask, so nobody gets it';
      break;
    case 'SHORTHAND_ALL':
      s = `slow path: shorthand "${d.shorthand}" matches every vCPU one by one`;
      break;
    case 'NO_MAP': {
      const alias = d.mapWhy?.find((m) => m.code === 'PHYS_ID_ALIASED');
      s = `slow path: there is no optimized map${alias ? ` (${physAliasCause(alias, now)})` : ''}`;
      break;
    }
    case 'MAP_DISABLED': {
      const why = d.mapWhy?.find((m) => m.kvm === 'kvm_recalculate_logical_map');
      s = `slow path: the map's logical part is disabled${why ? ` (${explainMap(why, 'short', now)})` : ''}`;
      break;
    }
    case 'BROADCAST':
      s = `slow path: ${hex(d.destId)} is a broadcast, so every vCPU is matched`;
      break;
    case 'LEGACY_NO_LOGICAL_MODE':
      s = 'slow path: the map has no logical mode (<= 6.2 falls back to matching every vCPU)';
      break;
    case 'PV_BITMAP': {
      const empty = d.emptySlots?.length ? `; ${slotList(d.emptySlots)} empty` : '';
      const above = d.pvIgnoredIds?.length ? `; ${listNamed('APIC ID', 'APIC IDs', d.pvIgnoredIds)} above max_apic_id ${d.maxApicId}, not looked at` : '';
      s = `PV IPI: phys_map gives ${whom}${empty}${above}`;
      break;
    }
    case 'PV_NO_MAP': {
      const alias = d.mapWhy?.find((m) => m.code === 'PHYS_ID_ALIASED');
      s = `PV IPI: there is no optimized map${alias ? ` (${physAliasCause(alias, now)})` : ''}, and the hypercall has no slow path: nobody gets it`;
      break;
    }
  }
  if (d.lowestBecameFixed) s += '; physical broadcast with lowest priority becomes Fixed';
  if (form === 'short') return s;
  if (d.code === 'PV_BITMAP' || d.code === 'PV_NO_MAP') {
    const asked = d.pvIds?.length ? listNamed('APIC ID', 'APIC IDs', d.pvIds) : 'no APIC ID (both bitmaps are empty)';
    return `${d.mode} vector ${d.vector} by the PV IPI hypercall (KVM_HC_SEND_IPI)${d.source === null ? '' : ` from ${vcpu(d.source)}`} to ${asked}: ${s}. `
      + `The bitmaps (${d.pvBits} bits each) start at APIC ID ${d.pvMin}; KVM reads phys_map[ID] for each set bit and never matches vCPUs one by one.`;
  }
  const dest = `${d.logical ? 'logical' : 'physical'} destination ${hex(d.destId)}`;
  const matched = d.path === 'slow' ? ` KVM examined ${d.examined} vCPU${d.examined === 1 ? '' : 's'} and matched ${whom}.` : '';
  return `${d.mode} vector ${d.vector} to ${d.shorthand === 'none' ? dest : `shorthand ${d.shorthand}`}${d.source === null ? ' (an MSI)' : ` from ${vcpu(d.source)}`}: ${s}.${matched}`;
}

/** "phys_map[3] is", "phys_map[3] and [4] are". */
function slotList(ids: readonly number[]): string {
  if (ids.length === 1) return `phys_map[${ids[0]}] is`;
  const shown = ids.slice(0, 8).map((id) => `[${id}]`);
  return `phys_map${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}${ids.length > 8 ? ` (and ${ids.length - 8} more)` : ''} are`;
}

const acceptWords: Record<AcceptDecision['code'], string> = {
  ACCEPTED: 'accepted',
  NMI_ALREADY_PENDING: 'accepted, but two NMIs are already pending, so no new NMI is queued',
  APIC_DISABLED: 'dropped: the APIC is disabled',
  LEVEL_DEASSERT: 'ignored: a level-triggered de-assert',
  INIT_DEASSERT: 'ignored: an INIT de-assert (level-triggered, level 0)',
  NO_SMM: 'dropped: this KVM has no SMM support',
  EXTINT_IGNORED: 'ignored: ExtINT comes through LVT0 and the PIC',
};

function explainAccept(d: AcceptDecision, form: Form): string {
  let s = `${vcpu(d.vcpus[0])}: ${d.mode} vector ${d.vector} ${acceptWords[d.code]}`;
  if (d.code === 'APIC_DISABLED') {
    s += d.hwEnabled === false ? ' (IA32_APIC_BASE EN is clear)' : ' (software-disabled: SPIV bit 8 is clear)';
    if (form === 'long') s += '. KVM drops Fixed and lowest-priority interrupts to a disabled APIC; enable it by writing SPIV with bit 8 set (0x1ff)';
  }
  return s;
}

const blockerWords = { SMM: 'in SMM', VMX_ROOT: 'in VMX root operation', GIF_CLEAR: 'GIF is clear' } as const;

function explainEvent(d: EventDecision, form: Form): string {
  const who = vcpu(d.vcpus[0]);
  const long = form === 'long';
  switch (d.code) {
    case 'INIT_RESET':
      return `${who}: INIT reset the LAPIC; mp_state ${d.mpState}${long ? ' (an AP waits for SIPI; the BSP runs)' : ''}`;
    case 'INIT_LATCHED':
      return `${who}: INIT latched, blocked ${blockerWords[d.blocker!]}${long ? '; it is processed once the block ends' : ''}`;
    case 'SIPI_DROPPED_BLOCKED':
      return `${who}: SIPI dropped, INIT/SIPI are blocked ${blockerWords[d.blocker!]}`;
    case 'SIPI_STARTED':
      return `${who}: SIPI vector ${hex(d.sipiVector ?? 0)} started it at CS ${hex((d.sipiVector ?? 0) << 8)}, RIP 0`;
    case 'SIPI_IGNORED_NOT_WAITING':
      return `${who}: SIPI ignored, not waiting for SIPI (${d.mpState})`;
    case 'NESTED_INIT_VMEXIT':
      return `${who}: INIT in L2 became an INIT VM-exit to L1`;
    case 'NESTED_SIPI_VMEXIT':
      return `${who}: SIPI in L2's wait-for-SIPI became a SIPI VM-exit to L1 (vector ${hex(d.sipiVector ?? 0)})`;
    case 'NMI_INJECTED':
      return `${who}: entering the guest, KVM injected the pending NMI${long ? '; further NMIs stay pending until the guest returns from its handler (IRET)' : ''}`;
    case 'HALT_WOKEN':
      return `${who}: woken from HLT by ${d.wakeBy === 'NMI' ? 'a pending NMI' : d.wakeBy === 'TIMER' ? 'a pending timer expiry' : 'a PV kick (RemoteRead IPI)'}; now RUNNABLE`;
    case 'TIMER_EXPIRED':
      return d.injectedNow
        ? `${who}: the ${d.timerMode} APIC timer expired and, with APICv, was delivered at once`
        : `${who}: the ${d.timerMode} APIC timer expired${d.atNs !== undefined ? ` at ${guestTime(d.atNs)}` : ''}${long ? '; the interrupt waits (lapic_timer.pending) until the vCPU next runs' : ' (pending until the vCPU runs)'}`;
    case 'TIMER_INJECTED':
      return `${who}: the pending timer expiry was delivered through LVTT (vector ${hex(d.vector ?? 0)}) as the vCPU ran`;
    case 'LOCAL_DELIVERED':
      return `${who}: ${d.lvt} delivered ${d.mode} vector ${hex(d.vector ?? 0)}${d.accepted ? '' : ', which the LAPIC did not take'}`;
    case 'LOCAL_MASKED':
      return `${who}: ${d.lvt} dropped: ${d.apicDisabled ? 'the APIC is hardware-disabled' : 'its LVT entry is masked'}`;
    case 'LVTPC_SELF_MASKED':
      return `${who}: LVTPC masked itself after delivering${long ? ' (KVM does this since 6.6, and since 6.9 only for Intel-compatible guests; the guest PMI handler unmasks it)' : ''}`;
    case 'NMI_WATCHDOG_IDLE':
      return `the NMI watchdog tick reached no vCPU: none has LVT0 in NMI mode`;
  }
}

const regName = (reg?: number) => (reg === undefined ? 'the register' : `register ${hex(reg)}`);

function explainRefusal(d: RefusalDecision, form: Form): string {
  const long = form === 'long';
  const who = d.vcpus.length ? `${vcpu(d.vcpus[0])}: ` : '';
  let s: string;
  switch (d.code) {
    case 'APICBASE_RESERVED_BITS':
      s = `reserved bits set (${d.bits}): bits 0-7 and 9, bits at and above MAXPHYADDR ${d.maxPhyAddr}${d.x2apicCpuid === false ? ', and bit 10 because the guest CPUID has no x2APIC' : ''}`;
      break;
    case 'APICBASE_INVALID_MODE':
      s = 'EXTD (bit 10) without EN (bit 11) is the invalid mode';
      break;
    case 'APICBASE_X2APIC_TO_XAPIC':
      s = 'x2APIC -> xAPIC is illegal for the guest (disable the APIC first)';
      break;
    case 'APICBASE_DISABLED_TO_X2APIC':
      s = 'disabled -> x2APIC is illegal for the guest (enable xAPIC first)';
      break;
    case 'X2APIC_MSR_IN_XAPIC_MODE':
      s = 'x2APIC MSRs fault unless the APIC is in x2APIC mode';
      break;
    case 'X2APIC_ICR_RESERVED_BITS':
      s = 'x2APIC ICR reserved bits 31:20, 17:16 or 13 set (X2APIC_ICR_RESERVED_BITS)';
      break;
    case 'X2APIC_HIGH_BITS_RESERVED':
      s = 'bits 63:32 are reserved in every x2APIC register but the ICR';
      break;
    case 'X2APIC_ICR2_ABSENT':
      s = 'ICR2 (MSR 0x831) does not exist in x2APIC mode: the ICR is one 64-bit MSR (0x830)';
      break;
    case 'SELF_IPI_RESERVED_BITS':
      s = 'SELF_IPI takes a vector in bits 7:0; bits 31:8 are reserved';
      break;
    case 'ESR_NONZERO_WRITE':
      s = 'ESR accepts only 0 in x2APIC mode';
      break;
    case 'LVT_CMCI_ABSENT':
      s = 'LVT CMCI does not exist without MCG_CMCI_P';
      break;
    case 'REG_READ_ONLY_IN_X2APIC':
      s = `${regName(d.reg)} is read-only in x2APIC mode`;
      break;
    case 'REG_NOT_WRITABLE':
      s = `${regName(d.reg)} is read-only or reserved`;
      break;
    case 'REG_NOT_READABLE':
      s = `${regName(d.reg)} is not readable in x2APIC mode (kvm_lapic_readable_reg_mask)`;
      break;
    case 'LAPIC_X2APIC_ID_MISMATCH':
      s = "with 32-bit IDs, an x2APIC vCPU's image must carry its own x2APIC ID";
      break;
    case 'VCPU_ID_TOO_BIG':
      s = `vcpu_id must be below KVM_MAX_VCPU_IDS (${d.limit})`;
      break;
    case 'TOO_MANY_VCPUS':
      s = `the VM already has KVM_MAX_VCPUS (${d.limit}) vCPUs`;
      break;
    case 'VCPU_EXISTS':
      s = 'that vcpu_id exists';
      break;
    case 'AVIC_VCPU_ID_TOO_BIG':
      s = `with AVIC, KVM ${d.since} refuses vcpu_id above ${d.limit} (its physical ID table)`;
      break;
    case 'X2APIC_API_BAD_FLAGS':
      s = `flags ${d.flags} include some this KVM does not take (valid: ${d.validFlags})`;
      break;
    case 'MSI_ROUTE_INVALID':
      s = `with 32-bit IDs, address_hi bits 7:0 must be zero (address_hi ${d.value})`;
      break;
    case 'MSI_NO_TARGET':
      s = 'no LAPIC matched the destination';
      break;
    case 'PV_IPI_NOT_PHYSICAL':
      s = `the PV IPI hypercall takes a physical destination with no shorthand, and ICR ${d.value} has the logical bit or a shorthand (-KVM_EINVAL)`;
      break;
    case 'PV_IPI_NO_MAP':
      s = 'there is no optimized map, which the PV IPI hypercall needs, so nobody gets the IPI (-EOPNOTSUPP; a Linux guest warns "failed to send PV IPI" and the IPI is lost)';
      break;
    case 'MP_STATE_INVALID':
      s = `${d.mpState} cannot be set with an in-kernel LAPIC`;
      break;
    case 'MP_STATE_INIT_BLOCKED':
      s = `${d.mpState} is refused while INIT/SIPI are blocked (${d.blocker === 'SMI_PENDING' ? 'an SMI is pending' : blockerWords[d.blocker as keyof typeof blockerWords]}) (<= 6.16)`;
      break;
    case 'RUN_WAIT_FOR_SIPI_BLOCKED':
      s = `wait-for-SIPI while INIT/SIPI are blocked (${blockerWords[d.blocker as keyof typeof blockerWords]})`;
      break;
    case 'NOT_VMX_VENDOR':
      s = 'VMX needs an Intel vCPU';
      break;
    case 'NOT_SVM_VENDOR':
      s = 'GIF exists on AMD (SVM) only';
      break;
    case 'ALREADY_VMXON':
      s = 'already in VMX operation';
      break;
    case 'NOT_VMXON':
      s = 'not in VMX operation';
      break;
    case 'IN_L2':
      s = 'not allowed while L2 runs';
      break;
    case 'NOT_IN_L2':
      s = 'not running L2';
      break;
    case 'NO_WAIT_FOR_SIPI_STATE':
      s = d.since ? `this KVM does not offer the wait-for-SIPI activity state to L1 (${d.since}+)` : 'SVM has no wait-for-SIPI activity state';
      break;
    case 'NO_SMM_SUPPORT':
      s = 'this KVM has no SMM support';
      break;
    case 'ALREADY_IN_SMM':
      s = 'already in SMM';
      break;
    case 'NOT_IN_SMM':
      s = 'RSM outside SMM is #UD';
      break;
    case 'NOT_MODELLED_IN_SMM':
      s = 'not modelled in SMM';
      break;
    case 'NOT_MODELLED_FROM_L2':
      s = 'entering SMM from L2 is not modelled';
      break;
  }
  if (!long) return s;
  const what = d.fault ? 'a #GP for the guest' : d.error ? `${d.error} from the ioctl` : d.ret !== undefined ? `${d.ret} from the hypercall` : 'refused';
  return `${who}${s}: ${what}.`;
}

function explainMap(d: MapDecision, form: Form, now: Now = {}): string {
  const long = form === 'long';
  switch (d.code) {
    case 'PHYS_ID_ALIASED': {
      const s = `${physAliasCause(d, now)}: no optimized map`;
      return long ? `${s}. Without KVM_X2APIC_API_USE_32BIT_IDS, KVM cannot tell aliased IDs apart, so it drops the whole map and every interrupt takes the slow path.` : s;
    }
    case 'XAPIC_ID_MISMATCH': {
      const s = `${vcpu(d.vcpus[0])} has xAPIC ID ${d.xapicId}, not ${d.vcpus[0] & 0xff}`;
      return long ? `${s}: APICv cannot virtualize a changed xAPIC ID, so KVM sets APIC_ID_MODIFIED.` : s;
    }
    case 'HOTPLUG_FIRST_WINS': {
      const [holder, ...losers] = d.vcpus;
      const s = `${listVcpus(d.vcpus)} answer to xAPIC ID ${d.physId}; phys_map[${d.physId}] keeps ${vcpu(holder)} (first vCPU wins)`;
      return long ? `${s}. ${listVcpus(losers)} ${losers.length === 1 ? 'is' : 'are'} reached by that ID only on the slow path.` : s;
    }
    case 'HOTPLUG_X2APIC_WINS': {
      const s = `phys_map[${d.physId}] goes to ${vcpu(d.vcpus[0])} (x2APIC ID ${d.physId}) over ${listVcpus(d.vcpus.slice(1))} (xAPIC ID ${d.physId})`;
      return long ? `${s}: an x2APIC ID always takes its slot, an xAPIC ID only an empty one.` : s;
    }
    case 'HOTPLUG_X2APIC_ID': {
      const s = `${listVcpus(d.vcpus)} in xAPIC mode ${d.vcpus.length === 1 ? 'is' : 'are'} also reachable by ${d.vcpus.length === 1 ? 'its' : 'their'} 32-bit ID (the hotplug hack)`;
      return long ? `${s}: phys_map[vcpu_id] points at the vCPU although its xAPIC ID is vcpu_id & 0xff.` : s;
    }
    case 'LOGICAL_MODES_MIXED': {
      const s = `${listVcpus(d.vcpus)} use different logical modes (${logicalModeWords[d.otherMode ?? '']} and ${logicalModeWords[d.logicalMode ?? '']}): logical map disabled`;
      return long ? `${s}. Logical interrupts then take the slow path.` : s;
    }
    case 'LOGICAL_ID_MULTI_BIT': {
      const s = `${vcpu(d.vcpus[0])} has logical ID ${hex(d.logicalId ?? 0)} with more than one bit set: logical map disabled`;
      return long ? `${s}. Logical interrupts then take the slow path.` : s;
    }
    case 'LOGICAL_ID_ALIASED': {
      const s = `${listVcpus(d.vcpus)} share logical ID ${hex(d.logicalId ?? 0)}: logical map disabled`;
      return long ? `${s}. Logical interrupts then take the slow path, which delivers to both.` : s;
    }
    case 'LOGICAL_SLOT_OVERWRITTEN': {
      const s = `${listVcpus(d.vcpus)} share logical ID ${hex(d.logicalId ?? 0)}; the later, ${vcpu(d.vcpus[1])}, took the slot (<= 6.2)`;
      return long ? `${s}. The fast path delivers only to it.` : s;
    }
    case 'VCPU_NOT_ONLINE': {
      const s = `${vcpu(d.vcpus[0])} is missing from the optimized map until the next rebuild`;
      return long
        ? `${s}. KVM_CREATE_VCPU resets the new LAPIC, which rebuilt the map before the vCPU was online, so interrupts to its APIC ID take the fast path and miss it until something dirties the map again (an ID, LDR, DFR or SPIV write, an APICBASE change, KVM_SET_LAPIC). Seen on Linux 6.18.`
        : s;
    }
  }
}

/** Who shares which physical ID, and the state of 32-bit IDs then and now. */
function physAliasCause(d: MapDecision, now: Now = {}): string {
  const flag = d.x2apicFormat ? '' : now.x2apicFormat ? ' and 32-bit IDs were off at that rebuild (enabling them takes effect at the next one)' : ' and 32-bit IDs are off';
  return `${listVcpus(d.vcpus)} share physical APIC ID ${d.physId}${flag}`;
}

function explainInhibit(d: InhibitDecision, form: Form): string {
  const long = form === 'long';
  switch (d.code) {
    case 'MODULE_PARAM_OFF':
      return 'the enable_apicv (Intel) / avic (AMD) module parameter is off';
    case 'APIC_BASE_RELOCATED':
      return `${vcpu(d.vcpus[0])} enabled its APIC at base ${d.base}${long ? ', which APICv and AVIC cannot virtualize (sticky)' : ''}`;
    case 'VCPU_IN_L2':
      return `${vcpu(d.vcpus[0])} runs a nested guest (L2)${long ? ', which AVIC doorbells cannot target' : ''}`;
    case 'VCPU_ID_ABOVE_AVIC_TABLE':
      return `${vcpu(d.vcpus[0])} is above AVIC's largest physical ID ${d.limit}`;
    case 'GUEST_CPUID_X2APIC':
      return 'the guest CPUID has x2APIC (AVIC had no x2APIC support before 6.0)';
    case 'XAPIC_ID_WRITTEN':
      return `${vcpu(d.vcpus[0])} wrote xAPIC ID ${d.xapicId}${long ? ' (5.19 - 6.2: set for good)' : ''}`;
    case 'CAUSE_GONE':
      return `${d.reason} cleared: what set it no longer holds${long ? ` (checked by ${d.kvm})` : ''}`;
  }
}

/** Why an inhibit is set, from the decision that set it. */
export function explainInhibitCause(reason: AnyInhibitReason, cause: MapDecision | InhibitDecision, form: Form = 'short', now: Now = {}): string {
  if (reason === 'LOGICAL_ID_ALIASED' && cause.kind === 'map' && cause.code === 'PHYS_ID_ALIASED') {
    return `there is no map at all: ${explainMap(cause, form, now)}`;
  }
  return explain(cause, form, now);
}

/**
 * A span of guest time in the unit that reads best, exact to the nanosecond: "0 ns", "750 ns",
 * "1.5 µs", "600 µs", "1.2 ms", "2.000001 s".
 */
export function guestTime(ns: number): string {
  const units: [number, string][] = [[1e9, 's'], [1e6, 'ms'], [1e3, 'µs']];
  for (const [size, unit] of units) {
    if (Math.abs(ns) >= size) {
      const whole = Math.trunc(ns / size);
      const frac = String(Math.abs(ns) % size).padStart(String(size).length - 1, '0').replace(/0+$/, '');
      return `${whole}${frac ? '.' + frac : ''} ${unit}`;
    }
  }
  return `${ns} ns`;
}
