/**
 * Which KVM to model: "current" (newest upstream) or a release "X.Y" from 5.10 on.
 * Each behaviour that changed names the first release with the new behaviour; a profile
 * answers "does this KVM have it". The full table (and its use everywhere) grows with
 * issue 7; here are the changes that the register model already honours.
 *
 * Inaccuracies: a release means the tag vX.Y itself; stable backports (for example the
 * AMD split ICR in 6.6.y) are not modelled.
 */

export interface BehaviourChange {
  id: string;
  /** First release with the new behaviour. */
  since: string;
  commit: string;
  before: string;
  after: string;
}

export const BEHAVIOUR_CHANGES = [
  {
    id: 'nestedWaitForSipi',
    since: '5.11',
    commit: 'bf0cd88ce363, 1c96dcceaeb3',
    before: 'nested VMX: INIT in L2 exited to L1, but L2 could not wait for SIPI and a SIPI never exited',
    after: 'L2 may enter the wait-for-SIPI activity state; a SIPI then exits to L1 (reason 4, vector in the qualification)',
  },
  {
    id: 'x2apicIcr64',
    since: '5.18',
    commit: 'a57a31684d7b',
    before: 'x2APIC ICR kept as ICR + ICR2: WRMSR 0x830 wrote ICR2 := bits 63:32, then ICR',
    after: 'x2APIC ICR is one 64-bit register at 0x300; KVM_GET/SET_LAPIC split and merge it',
  },
  {
    id: 'selfIpiKeepsIcr',
    since: '5.18',
    commit: 'd22a81b304a2',
    before: 'a SELF_IPI write went through the ICR write path and overwrote the ICR',
    after: 'SELF_IPI sends without touching the ICR',
  },
  {
    id: 'cmciLvt',
    since: '6.0',
    commit: 'vCMCI series by Jue Wang, 2022 (commit not pinned)',
    before: 'always 6 LVTs (max LVT 5)',
    after: '7 LVTs (LVT CMCI at 0x2f0) when the guest MCG_CAP has MCG_CMCI_P',
  },
  {
    id: 'apicBaseModifiedInhibit',
    since: '5.19',
    commit: '3743c2f02517',
    before: 'relocating the APIC base printed "APIC base relocation is unsupported by KVM"; APICv ignored it',
    after: 'no warning; APIC_BASE_MODIFIED inhibit (sticky) while enabled at a non-default base',
  },
  {
    id: 'ipiv',
    since: '5.19',
    commit: 'IPI virtualization series (Zeng Guang, 2022; commit not pinned)',
    before: 'no IPI virtualization: with APICv every ICR write exits to KVM (APIC-write or WRMSR exit)',
    after: 'Intel IPIv: Fixed physical unicast IPIs to a destination in the PID table are delivered by the CPU without a VM exit',
  },
  {
    id: 'apicIdModifiedInhibit',
    since: '5.19',
    commit: '3743c2f02517',
    before: 'a changed xAPIC ID had no effect on APICv',
    after: 'APIC_ID_MODIFIED inhibit (sticky until 6.3)',
  },
  {
    id: 'hybridAvic',
    since: '6.0',
    commit: 'x2AVIC / hybrid AVIC series (Suravee Suthikulpanit, 2022; commit not pinned)',
    before: 'AMD: APICV_INHIBIT_REASON_X2APIC turned AVIC off whenever the guest CPUID had x2APIC',
    after: 'AVIC stays on in x2APIC mode: x2AVIC, or without it x2APIC MSRs are intercepted while doorbells still deliver',
  },
  {
    id: 'apicAccessPageInhibit',
    since: '6.3',
    commit: '2008fab34530',
    before: 'hybrid AVIC left the APIC-access page mapped for vCPUs in x2APIC mode',
    after: 'the APIC-access memslot is deleted for good once a vCPU is in x2APIC mode without x2AVIC',
  },
  {
    id: 'architecturalAliasing',
    since: '6.3',
    commit: '5b84b0291702 (with 2970052481b9, 2bf934aadcac, 6ea567ca003a, 35366901017c, 5063c41bebac)',
    before: 'hotplug hack unconditional; aliased IDs silently resolved by vCPU order; logical mode a bitmask (mixed or none: slow path); no aliasing inhibits',
    after: 'hotplug hack only with 32-bit IDs; aliased physical IDs remove the map (PHYSICAL_ID_ALIASED); logical aliases, multi-bit IDs and mixed modes give MAP_DISABLED (LOGICAL_ID_ALIASED)',
  },
  {
    id: 'apicIdModifiedDynamic',
    since: '6.3',
    commit: 'd471bd853d38',
    before: 'APIC_ID_MODIFIED set (for good) by a write of an xAPIC ID other than vcpu_id, compared untruncated',
    after: 'APIC_ID_MODIFIED recomputed at each map rebuild: set while an enabled xAPIC-mode vCPU has xAPIC ID != (u8)vcpu_id',
  },
  {
    id: 'selfIpiReservedGp',
    since: '6.3',
    commit: 'ba5838abb053',
    before: 'a SELF_IPI write with bits 31:8 set sent vector bits 7:0 (5.18 - 6.2)',
    after: 'a SELF_IPI write with any of bits 31:8 set raises #GP',
  },
  {
    id: 'x2apicHighBitsGp',
    since: '6.3',
    commit: 'ab52be1b310b',
    before: 'bits 63:32 of a non-ICR x2APIC WRMSR were ignored',
    after: 'a non-ICR x2APIC WRMSR with any of bits 63:32 set raises #GP',
  },
  {
    id: 'xapicIdReinitOnHostX2apicExit',
    since: '6.3',
    commit: '052c3b99cbc8',
    before: 'a host-forced x2APIC -> xAPIC switch left the xAPIC ID register stale',
    after: 'the xAPIC ID is reset to vcpu_id',
  },
  {
    id: 'setLapicX2apicIdLocked',
    since: '6.11',
    commit: '4b7c3f6d04bd',
    before: 'KVM_SET_LAPIC in x2APIC mode without 32-bit IDs installed ID >> 24 from userspace',
    after: 'the ID is forced to vcpu_id',
  },
  {
    id: 'amdSplitIcr',
    since: '6.12',
    commit: '73b42dc69be8',
    before: 'SVM stored the x2APIC ICR as one 64-bit value at 0x300',
    after: 'SVM keeps the halves at 0x300 / 0x310 (x2apic_icr_is_split)',
  },
  {
    id: 'avicIdTooBigInhibit',
    since: '6.17',
    commit: 'not pinned (2025 AVIC series; release inferred)',
    before: 'AMD with AVIC: KVM_CREATE_VCPU failed with EINVAL above physical ID 254 (x2AVIC: 511)',
    after: 'the vCPU is created and AVIC is inhibited for good (PHYSICAL_ID_TOO_BIG)',
  },
  {
    id: 'x2avic4kVcpus',
    since: '6.19',
    commit: '940fc47cfb0d',
    before: 'x2AVIC\'s physical ID table held vCPU ids up to 511: a larger one inhibited AVIC (PHYSICAL_ID_TOO_BIG)',
    after: 'on CPUs with X86_FEATURE_X2AVIC_EXT (vm.x2avicExt) the table holds ids up to 4095 (avic_hardware_setup: x2avic_max_physical_id)',
  },
  {
    id: 'x2apicIcrFastpathAny',
    since: '6.18',
    commit: 'Aug 2025 ICR fastpath series (commit not pinned)',
    before: 'the WRMSR fastpath took only Fixed, physical, no-shorthand, non-broadcast x2APIC ICR writes',
    after: 'the fastpath takes any ICR write the optimized map can deliver',
  },
  {
    id: 'mpStateCheckedAtRun',
    since: '6.17',
    commit: '0fe3e8d804fd',
    before: 'KVM_SET_MP_STATE refused INIT_RECEIVED / SIPI_RECEIVED while INIT was blocked or an SMI pending',
    after: 'KVM_SET_MP_STATE accepts them; KVM_RUN fails with EINVAL for wait-for-SIPI with INIT/SIPI blocked',
  },
  {
    id: 'x2apicIcrReservedGp',
    since: '6.12',
    commit: '71bf395a276f',
    before: 'x2APIC ICR reserved bits 31:20, 17:16, 13 were accepted',
    after: 'setting any of them raises #GP',
  },
  {
    id: 'oneshotRestoreFiresExpired',
    since: '6.3',
    commit: '8e6ed96cdd50',
    before: 'KVM_SET_LAPIC of a one-shot timer with TMCCT 0 (and TMICT != 0) restarted it for a whole TMICT period',
    after: 'a one-shot restored with TMCCT 0 expires at once (set_target_expiration: deadline 0 unless periodic)',
  },
  {
    id: 'lvtpcMaskOnPmi',
    since: '6.6',
    commit: 'a16eb25b09c0',
    before: 'delivering a PMI through LVTPC left the entry unmasked',
    after: 'kvm_apic_local_deliver() sets LVTPC.mask once it delivered a PMI (as the SDM says Intel CPUs do)',
  },
  {
    id: 'lvtpcMaskIntelOnly',
    since: '6.9',
    commit: '49ff3b4aec51',
    before: 'LVTPC self-masked on PMI delivery for every guest (6.6 - 6.8), AMD included',
    after: 'only Intel-compatible guests (guest_cpuid_is_intel_compatible); AMD and Hygon guests keep LVTPC unmasked',
  },
  {
    id: 'suppressEoiBroadcastFlags',
    since: '7.0',
    commit: '6517dfbcc918 (merged for 7.0; marked for stable, so Linux 6.18.44 accepts the flags too)',
    before: 'KVM_CAP_X2APIC_API accepted only USE_32BIT_IDS and DISABLE_BROADCAST_QUIRK',
    after: 'flags ENABLE (1<<2, split irqchip only) and DISABLE (1<<3) _SUPPRESS_EOI_BROADCAST make LVR bit 24 explicit',
  },
] as const satisfies readonly BehaviourChange[];

export type BehaviourId = (typeof BEHAVIOUR_CHANGES)[number]['id'];

export const OLDEST_RELEASE = '5.10';

/**
 * Every release the model tells apart, newest first: "current", then each mainline X.Y from the
 * newest behaviour change down to OLDEST_RELEASE (5.19 was followed by 6.0).
 */
export const MODELLED_RELEASES: readonly string[] = (() => {
  const newest = Math.max(...BEHAVIOUR_CHANGES.map((c) => releaseNumber(c.since)!));
  const out = ['current'];
  for (let n = newest; n >= releaseNumber(OLDEST_RELEASE)!; n--) {
    if (n % 1000 > 19) n = Math.floor(n / 1000) * 1000 + 19; // after 6.0 comes 5.19
    out.push(`${Math.floor(n / 1000)}.${n % 1000}`);
  }
  return out;
})();

/** "X.Y" -> comparable number; null if not a release string. */
export function releaseNumber(release: string): number | null {
  const m = /^(\d+)\.(\d+)$/.exec(release);
  if (!m) return null;
  return Number(m[1]) * 1000 + Number(m[2]);
}

export class KvmProfile {
  readonly release: string;
  /**
   * Each change by id, true when this KVM has its new behaviour: `profile.has.x2apicIcr64`. A
   * plain object read by name, which costs the ICR path nothing (a lookup by string cost a hash).
   */
  readonly has: Readonly<Record<BehaviourId, boolean>>;

  constructor(release: string) {
    const n = release === 'current' ? Infinity : releaseNumber(release);
    if (n === null || n < releaseNumber(OLDEST_RELEASE)!) {
      throw new RangeError(`KVM release "${release}" is not "current" or a release "X.Y" from ${OLDEST_RELEASE} on`);
    }
    this.release = release;
    this.has = Object.fromEntries(BEHAVIOUR_CHANGES.map((c) => [c.id, n >= releaseNumber(c.since)!])) as Record<BehaviourId, boolean>;
  }

  /** True when this KVM already has the new behaviour of change `id` (an id known only at run time: see `has`). */
  hasNew(id: BehaviourId): boolean {
    return this.has[id];
  }
}
