/**
 * A KVM virtual machine with an in-kernel irqchip: its vCPUs, its VM-wide APIC state (the
 * optimized map and its dirty flag, KVM_CAP_X2APIC_API flags, APICv inhibits) and the ioctls
 * and guest accesses that reach the local APIC.
 *
 * Models x86.c: KVM_CREATE_VCPU (kvm_vm_ioctl_create_vcpu, kvm_arch_vcpu_precreate),
 * kvm_vm_ioctl_enable_cap(KVM_CAP_X2APIC_API), kvm_set_msr_common / kvm_get_msr_common for
 * MSR_IA32_APICBASE and the x2APIC range, vcpu_mmio_read / vcpu_mmio_write (the accessing vCPU's
 * own LAPIC first), KVM_GET/SET_LAPIC; lapic.c kvm_recalculate_apic_map's inhibit updates.
 *
 * Inaccuracies:
 * - Only MSR 0x1b and 0x800-0x8ff are modelled; other MSRs are refused as invalid input.
 * - By default KVM_MAX_VCPUS is 4096 and KVM_MAX_VCPU_IDS 16384 (a MAXSMP kernel); kernels built
 *   with a smaller CONFIG_KVM_MAX_NR_VCPUS refuse earlier (config maxVcpus / maxVcpuIds).
 */
import { APIC_LVT0, MSR_IA32_APICBASE, MSR_IA32_TSC_DEADLINE } from './apicdef';
import { buildApicMap, countMaxApicId, type ApicMap } from './apicMap';
import { buildApicMapV62 } from './apicMapLegacy';
import { setApicBase } from './apicBase';
import { ApicvInhibits, type AnyInhibitReason, type Vendor } from './inhibits';
import { deliverToApic, icrToIrq, msiRouteInvalid, msiToIrq, type DeliveryOutcome } from './delivery';
import { icrWriteHandling } from './ipiVirtualization';
import type { Lapic } from './lapic';
import { getLapicFails, getLapicState, setLapicState } from './lapicState';
import { KvmProfile } from './profile';
import { pvSendIpi, type PvIpiArgs, type PvIpiResult } from './pvIpi';
import { formatMsiSetIrq, msiTraceAddress, MsrTrace } from './traceFormat';
import type { EventDecision, InhibitCause, InhibitDecision, MapDecision, RefusalCode, RefusalDecision } from './decisions';
import { INHIBIT_REASONS } from './inhibits';
import { LazyTraceEvent, OK, type Errno, type Outcome, type TraceRecord, type VcpuId } from './types';
import { XapicIdIndex } from './xapicIdIndex';
import { Vcpu } from './vcpu';

export interface VmConfig {
  vendor: Vendor;
  /** enable_apicv (Intel) / avic (AMD) module parameter. */
  apicv: boolean;
  ipiv: boolean;
  x2avic: boolean;
  /** The AMD CPU has X86_FEATURE_X2AVIC_EXT (CPUID 0x8000000A ECX bit 6): x2AVIC for 4096 vCPUs, used since 6.19. */
  x2avicExt: boolean;
  x2apicCpuid: boolean;
  /** Guest CPUID.1:ECX.TSC_DEADLINE_TIMER: widens the LVT timer mode mask to bits 18:17. */
  tscDeadline: boolean;
  /** Guest MCG_CAP has MCG_CMCI_P: a 7th LVT (CMCI) since 6.0. */
  cmci: boolean;
  maxPhyAddr: number;
  bspVcpuId: number;
  /** The kvm.vector_hashing module parameter (lowest-priority target by vector). */
  vectorHashing: boolean;
  /** CONFIG_KVM_SMM: without it SMIs are never accepted. */
  smm: boolean;
  /** The guest TSC rate (vcpu->arch.virtual_tsc_khz): TSC-deadline values are in these cycles. */
  tscKhz: number;
  /**
   * The host EOIs an interrupt as it injects it (this project's kvm_pvm backend), so ISR is empty
   * when the guest's handler runs. Upstream KVM does not; compare mode sets it to match the kernel.
   */
  eoiOnInjection: boolean;
  /** KVM_CAP_MAX_VCPUS and KVM_CAP_MAX_VCPU_ID of the modelled kernel. */
  maxVcpus: number;
  maxVcpuIds: number;
  kvm: string;
  quirks: { lint0Reenabled: boolean; lapicMmioHole: boolean };
}

export const DEFAULT_VM_CONFIG: VmConfig = {
  vendor: 'intel',
  apicv: true,
  ipiv: false,
  x2avic: true,
  x2avicExt: false,
  x2apicCpuid: true,
  tscDeadline: true,
  cmci: false,
  maxPhyAddr: 46,
  bspVcpuId: 0,
  vectorHashing: true,
  smm: true,
  tscKhz: 1_000_000,
  eoiOnInjection: false,
  maxVcpus: 4096,
  maxVcpuIds: 16384,
  kvm: 'current',
  quirks: { lint0Reenabled: true, lapicMmioHole: true },
};

export const KVM_CAP_X2APIC_API = 129;
export const KVM_X2APIC_API_USE_32BIT_IDS = 1 << 0;
export const KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK = 1 << 1;
export const KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST = 1 << 2;
export const KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST = 1 << 3;
/** KVM_MAX_VCPUS of a MAXSMP kernel; KVM_MAX_VCPU_IDS is four times it. */
export const KVM_MAX_VCPUS = 4096;

export type MsrResult = Outcome & { value?: bigint; refusal?: RefusalDecision };

export class Vm {
  readonly config: VmConfig;
  readonly profile: KvmProfile;
  /** In creation order (vcpu_idx), as kvm_for_each_vcpu walks them. */
  readonly vcpus: Vcpu[] = [];
  private readonly byId = new Map<VcpuId, Vcpu>();
  readonly inhibits: ApicvInhibits;
  /** x2apic_icr_is_split: SVM since 6.12 (fixed by the vendor and release; read on every ICR access). */
  readonly icrIsSplit: boolean;
  /** kvm->arch.x2apic_format (KVM_X2APIC_API_USE_32BIT_IDS). */
  x2apicFormat = false;
  /** kvm->arch.x2apic_broadcast_quirk_disabled. */
  broadcastQuirkDisabled = false;
  /** kvm->arch.apic_map_dirty: CLEAN or DIRTY (the rebuild is synchronous here). */
  mapDirty = false;
  /** Counts map rebuilds (to tell whether one happened during an operation). */
  mapGeneration = 0;
  apicMap: ApicMap | null = null;
  /**
   * What the rebuild's first loop would find for max_apic_id (countMaxApicId), or undefined when
   * it must count again. Kept as vCPUs come online and flip APICBASE.EN: creating n vCPUs rebuilds
   * the map at each one, and counting all of them again at every rebuild was most of creating 4096.
   */
  private maxApicId: number | undefined = 255;
  /** The online xAPIC-mode vCPUs by xAPIC ID: the slow path's physical unicasts ask only these and the vCPU of that vcpu_id (xapicIdIndex.ts). */
  xapicIds = new XapicIdIndex();
  /** How many online vCPUs have APICBASE.EN: the slow path's walk examines that many. */
  enabledCount = 0;
  /** What the last rebuild found: why the map is absent or its logical part disabled, the hotplug hack's choices. */
  mapWhy: MapDecision[] = [];
  /**
   * The APIC-access page memslot at 0xfee00000 (kvm_alloc_apic_access_page): allocated when
   * APICv/AVIC is enabled, deleted for good by kvm_inhibit_apic_access_page().
   */
  apicAccessPage: 'none' | 'mapped' | 'deleted';
  /** What last set each inhibit reason. */
  readonly inhibitCauses = new Map<AnyInhibitReason, InhibitCause>();
  /** The in-kernel I/O APIC (KVM_CREATE_IRQCHIP): always, in this model. */
  readonly ioapicInKernel = true;
  private traceSink: TraceRecord[] = [];
  private deliveries: DeliveryOutcome[] = [];
  private events: EventDecision[] = [];
  /** The guest clock (ns since the VM was created): moved only by `advance`, so replays repeat exactly. */
  clockNs = 0;
  /** vCPUs whose state something other than their own op may have changed (see touch()), each once. */
  private touched: Vcpu[] = [];
  /** Marks a vCPU as listed in `touched` (Vcpu.touchRound): cheaper than a Set on every accepted interrupt. */
  private touchRound = 1;

  constructor(config: Partial<VmConfig> = {}) {
    this.config = { ...DEFAULT_VM_CONFIG, ...config, quirks: { ...DEFAULT_VM_CONFIG.quirks, ...config.quirks } };
    this.profile = new KvmProfile(this.config.kvm);
    this.icrIsSplit = this.config.vendor === 'amd' && this.profile.has.amdSplitIcr;
    this.inhibits = new ApicvInhibits(this.config.vendor);
    if (!this.config.apicv) {
      this.inhibits.setOrClear('DISABLED', true);
      this.inhibitCauses.set('DISABLED', inhibitDecision('DISABLED', 'MODULE_PARAM_OFF', 'kvm_apicv_init', []));
    }
    this.apicAccessPage = this.config.apicv ? 'mapped' : 'none';
    // Before 6.0, AVIC was off for any guest whose CPUID had x2APIC (APICV_INHIBIT_REASON_X2APIC).
    if (this.config.vendor === 'amd' && this.config.x2apicCpuid && !this.profile.has.hybridAvic) {
      this.setApicvInhibit('X2APIC', true, inhibitDecision('X2APIC', 'GUEST_CPUID_X2APIC', 'svm_vcpu_after_set_cpuid', []));
    }
    // ABSENT is cleared by KVM_CREATE_IRQCHIP, which every VM here has.
  }

  get apicvActive(): boolean {
    return !this.inhibits.any;
  }

  vcpu(id: VcpuId): Vcpu | undefined {
    return this.byId.get(id);
  }

  trace(e: TraceRecord): void {
    this.traceSink.push(e);
  }
  /**
   * Hand over the trace gathered since the last call, as recorded: traceEvents() makes it the
   * events (each delivery's accepts are one record until then).
   */
  takeTrace(): TraceRecord[] {
    const t = this.traceSink;
    this.traceSink = [];
    return t;
  }

  /**
   * Note that `v`'s state may have changed through another vCPU's op or the VM's (an interrupt
   * accepted, a timer counting down). Not a KVM structure: it lets a caller update only what a
   * step changed (the store's change set); a superset is fine, the caller compares.
   */
  touch(v: Vcpu): void {
    if (v.touchRound === this.touchRound) return;
    v.touchRound = this.touchRound;
    this.touched.push(v);
  }
  /** Hand over the vCPUs touched since the last call (each once). */
  takeTouched(): Vcpu[] {
    const t = this.touched;
    this.touched = [];
    this.touchRound++;
    return t;
  }

  /** When the next APIC timer fires (ns on the VM clock), or null when none is running. */
  nextTimerExpiry(): number | null {
    let next: number | null = null;
    for (const v of this.vcpus) {
      const at = v.apic.timer.armedAt;
      if (at !== null && (next === null || at < next)) next = at;
    }
    return next;
  }

  /**
   * Let `ns` of guest time pass: every APIC timer that comes due fires at its own time, in time
   * order (vCPU creation order on a tie), as the hrtimers would (apic_timer_fn).
   */
  advance(ns: number): void {
    const end = this.clockNs + ns;
    // Every running timer's current count (TMCCT) moves with the clock.
    for (const v of this.vcpus) if (v.apic.timer.period !== 0) this.touch(v);
    for (;;) {
      let due: Vcpu | null = null;
      for (const v of this.vcpus) {
        const at = v.apic.timer.armedAt;
        if (at !== null && at <= end && (due === null || at < due.apic.timer.armedAt!)) due = v;
      }
      if (!due) break;
      this.clockNs = Math.max(this.clockNs, due.apic.timer.armedAt!);
      this.touch(due);
      due.apic.timer.fire();
    }
    this.clockNs = end;
  }

  /** kvm_apic_nmi_wd_deliver() from the PIT: every LAPIC, through LVT0, if any has LVT0 in NMI mode. */
  nmiWatchdogTick(): void {
    if (!this.vcpus.some((v) => v.apic.lvt0InNmiMode)) {
      this.recordEvent({ kind: 'event', code: 'NMI_WATCHDOG_IDLE', kvm: 'kvm_apic_nmi_wd_deliver', vcpus: [] });
      return;
    }
    for (const v of this.vcpus) v.apic.localDeliver(APIC_LVT0);
  }

  /** Note what processing a pending INIT or SIPI did. */
  recordEvent(d: EventDecision): void {
    this.events.push(d);
  }
  /** Hand over the INIT/SIPI decisions made since the last call. */
  takeEvents(): EventDecision[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Hand over the deliveries made since the last call (one per IPI or MSI sent). */
  takeDeliveries(): DeliveryOutcome[] {
    const d = this.deliveries;
    this.deliveries = [];
    return d;
  }

  markMapDirty(): void {
    this.mapDirty = true;
  }

  /**
   * kvm_set_or_clear_apicv_inhibit(): `cause` is why a reason is set; a reason is cleared by `by`
   * finding its condition gone.
   */
  setApicvInhibit(reason: AnyInhibitReason, set: boolean, cause?: InhibitCause, by: InhibitDecision['kvm'] = 'kvm_recalculate_apic_map'): void {
    const wasActive = this.apicvActive;
    if (set && cause) this.inhibitCauses.set(reason, cause);
    if (this.inhibits.setOrClear(reason, set)) {
      // trace.h kvm_apicv_inhibit_changed: "%s reason=%u, inhibits=0x%lx".
      const bit = (INHIBIT_REASONS as readonly string[]).indexOf(reason);
      const decision = set ? cause : inhibitDecision(reason, 'CAUSE_GONE', by, []);
      this.trace({
        event: 'kvm_apicv_inhibit_changed',
        detail: `${set ? 'set' : 'cleared'} reason=${bit < 0 ? reason : bit}, inhibits=0x${this.inhibits.mask().toString(16)}`,
        ...(decision ? { decision } : {}),
      });
      // kvm_make_all_cpus_request(KVM_REQ_APICV_UPDATE): each vCPU follows at its next entry.
      if (wasActive !== this.apicvActive) {
        for (const v of this.vcpus) {
          v.apicvUpdatePending = true;
          this.touch(v);
        }
      }
    }
  }

  /** kvm_recalculate_apic_map(): a no-op unless something marked the map dirty. */
  recalculateApicMap(): void {
    if (!this.mapDirty) return;
    const modern = this.profile.has.architecturalAliasing;
    const r = modern ? buildApicMap(this.vcpus, this.x2apicFormat, (this.maxApicId ??= countMaxApicId(this.vcpus))) : buildApicMapV62(this.vcpus);
    this.apicMap = r.map;
    this.mapWhy = r.why;
    this.mapDirty = false;
    this.mapGeneration++;
    if (modern) {
      const physAlias = r.map === null ? r.why[0] : undefined;
      const logicalOff = physAlias ?? (r.map?.logicalMode === 'MAP_DISABLED' ? r.why.find((d) => d.kvm === 'kvm_recalculate_logical_map') : undefined);
      this.setApicvInhibit('PHYSICAL_ID_ALIASED', physAlias !== undefined, physAlias);
      this.setApicvInhibit('LOGICAL_ID_ALIASED', logicalOff !== undefined, logicalOff);
      this.setApicvInhibit('APIC_ID_MODIFIED', r.xapicIdMismatch !== null, r.xapicIdMismatch ?? undefined);
    }
    this.trace({ event: 'kvm_recalculate_apic_map', detail: r.map ? `max_apic_id ${r.map.maxApicId}, logical ${r.map.logicalMode}` : 'no map' });
  }

  /** maxApicId, for the fuzzer's check that it is what a count finds. */
  get knownMaxApicId(): number | undefined {
    return this.maxApicId;
  }

  /**
   * `v`'s APICBASE.EN changed, or it came online: keep maxApicId and enabledCount (a vCPU not
   * online yet counts when it comes online).
   */
  enableChanged(v: Vcpu): void {
    if (this.byId.get(v.id) !== v) return;
    if (v.hwEnabled) {
      this.enabledCount++;
      if (this.maxApicId !== undefined && v.id > this.maxApicId) this.maxApicId = v.id;
    } else {
      this.enabledCount--;
      if (v.id === this.maxApicId) this.maxApicId = undefined;
    }
  }

  /** Why KVM_CREATE_VCPU would refuse `id`, or null. */
  createVcpuRefusal(id: VcpuId): RefusalDecision | null {
    const refuse = (code: RefusalCode, error: Errno, kvm: RefusalDecision['kvm'], limit: number): RefusalDecision =>
      ({ kind: 'refusal', code, kvm, vcpus: [id], error, limit });
    if (!Number.isInteger(id) || id < 0 || id >= this.config.maxVcpuIds) return refuse('VCPU_ID_TOO_BIG', 'EINVAL', 'kvm_vm_ioctl_create_vcpu', this.config.maxVcpuIds);
    if (this.vcpus.length >= this.config.maxVcpus) return refuse('TOO_MANY_VCPUS', 'EINVAL', 'kvm_vm_ioctl_create_vcpu', this.config.maxVcpus);
    if (this.byId.has(id)) return refuse('VCPU_EXISTS', 'EEXIST', 'kvm_vm_ioctl_create_vcpu', this.vcpus.length);
    if (this.config.vendor === 'amd' && this.config.apicv && id > this.avicMaxId() && !this.profile.has.avicIdTooBigInhibit) {
      return { ...refuse('AVIC_VCPU_ID_TOO_BIG', 'EINVAL', 'avic_init_backing_page', this.avicMaxId()), since: this.config.kvm };
    }
    return null;
  }

  /** KVM_CREATE_VCPU. */
  createVcpu(id: VcpuId): RefusalDecision | null {
    const refusal = this.createVcpuRefusal(id);
    if (refusal?.code === 'VCPU_EXISTS') {
      // kvm_arch_vcpu_create() has already reset the new vCPU, dirtying and rebuilding the map
      // from the online vCPUs, when kvm_vm_ioctl_create_vcpu() finds the duplicate id.
      this.markMapDirty();
      this.recalculateApicMap();
    }
    if (refusal) return refusal;
    // AVIC's physical ID table holds IDs up to 254 (x2AVIC: 511, 4095 with X2AVIC_EXT since 6.19); a larger vcpu_id inhibits AVIC
    // (before 6.17 KVM_CREATE_VCPU failed instead, see the check above). avic_init_backing_page()
    // runs in svm_vcpu_create(), before kvm_vcpu_reset(): the inhibit is traced before RESET's lines.
    if (this.avicIdTooBig(id)) {
      this.setApicvInhibit('PHYSICAL_ID_TOO_BIG', true, { ...inhibitDecision('PHYSICAL_ID_TOO_BIG', 'VCPU_ID_ABOVE_AVIC_TABLE', 'avic_init_backing_page', [id]), limit: this.avicMaxId() });
    }
    const generation = this.mapGeneration;
    // RESET inside the constructor rebuilds the map before the vCPU is online (visible to
    // kvm_for_each_vcpu), so a new vCPU stays out of the optimized map until the next rebuild.
    // Observed on Linux 6.18: after creating vCPUs 0, 1, 256, an NMI MSI to APIC ID 0 reaches
    // only vCPU 0 through the fast path, although 256 aliases xAPIC ID 0.
    const v = new Vcpu(this, id);
    this.vcpus.push(v);
    this.byId.set(id, v);
    this.xapicIds.place(v);
    if (v.hwEnabled) this.enableChanged(v);
    if (this.mapGeneration !== generation && this.apicMap && v.apic.hwEnabled) {
      this.mapWhy = [...this.mapWhy, { kind: 'map', code: 'VCPU_NOT_ONLINE', kvm: 'kvm_vcpu_reset', vcpus: [id] }];
    }
    return null;
  }

  /** avic_init_backing_page() (6.17+): `id` is beyond AVIC's physical ID table, so AVIC is inhibited for good. */
  avicIdTooBig(id: VcpuId): boolean {
    return this.config.vendor === 'amd' && this.config.apicv && this.profile.has.avicIdTooBigInhibit && id > this.avicMaxId();
  }

  /**
   * The largest vcpu_id AVIC's physical ID table takes: AVIC_MAX_PHYSICAL_ID, or with x2AVIC (since
   * 6.0) x2avic_max_physical_id, which avic_hardware_setup() raises to 4095 on X2AVIC_EXT CPUs (6.19).
   */
  private avicMaxId(): number {
    if (!this.config.x2avic || !this.profile.has.hybridAvic) return 254;
    return this.config.x2avicExt && this.profile.has.x2avic4kVcpus ? 4095 : 511;
  }

  /**
   * kvm_lapic_xapic_id_updated() (5.19 - 6.2): writing an xAPIC ID other than vcpu_id
   * (untruncated) inhibits APICv for good. From 6.3 the map rebuild decides instead.
   */
  xapicIdUpdated(apic: Lapic): void {
    if (!this.profile.has.apicIdModifiedInhibit || this.profile.has.apicIdModifiedDynamic) return;
    if (apic.x2apicMode || apic.xapicId === apic.vcpu.id) return;
    this.setApicvInhibit('APIC_ID_MODIFIED', true, { ...inhibitDecision('APIC_ID_MODIFIED', 'XAPIC_ID_WRITTEN', 'kvm_lapic_xapic_id_updated', [apic.vcpu.id]), xapicId: apic.xapicId });
  }

  /** KVM_ENABLE_CAP(KVM_CAP_X2APIC_API). */
  enableX2apicApi(flags: bigint): RefusalDecision | null {
    let valid = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
    // ENABLE_SUPPRESS_EOI_BROADCAST needs a split irqchip; this VM's I/O APIC is in the kernel.
    if (this.profile.has.suppressEoiBroadcastFlags) valid |= KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST;
    if (flags & ~BigInt(valid)) {
      return { kind: 'refusal', code: 'X2APIC_API_BAD_FLAGS', kvm: 'kvm_vm_ioctl_enable_cap', vcpus: [], error: 'EINVAL', flags: '0x' + flags.toString(16), validFlags: '0x' + valid.toString(16) };
    }
    // Flags only ever turn on; the map is not rebuilt (the next rebuild sees the new format).
    if (flags & BigInt(KVM_X2APIC_API_USE_32BIT_IDS)) this.x2apicFormat = true;
    if (flags & BigInt(KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK)) this.broadcastQuirkDisabled = true;
    return null;
  }

  /**
   * kvm_vcpu_update_apicv() after a vCPU's APIC mode changed: AVIC without x2AVIC
   * (allow_apicv_in_x2apic_without_x2apic_virtualization) must not leave the APIC-access page
   * mapped once any vCPU is in x2APIC mode, so KVM deletes the memslot for the VM's lifetime.
   */
  updateApicv(v: Vcpu): void {
    const hybridAvic = this.config.vendor === 'amd' && this.config.apicv && !this.config.x2avic;
    if (hybridAvic && v.apic.x2apicMode && this.apicAccessPage === 'mapped' && this.profile.has.apicAccessPageInhibit) {
      this.apicAccessPage = 'deleted';
      this.trace({ event: 'kvm_inhibit_apic_access_page', vcpu: v.id, detail: 'x2APIC without x2AVIC: APIC-access memslot deleted for good' });
    }
  }

  /** The NESTED inhibit (AVIC): a vCPU running L2 cannot be targeted by AVIC doorbells. */
  updateNestedInhibit(): void {
    const inL2 = this.vcpus.find((v) => v.guestMode);
    this.setApicvInhibit('NESTED', inL2 !== undefined, inL2 ? inhibitDecision('NESTED', 'VCPU_IN_L2', 'avic_vcpu_get_apicv_inhibit_reasons', [inL2.id]) : undefined, 'avic_vcpu_get_apicv_inhibit_reasons');
  }

  /** Is this MSR one the model knows (APICBASE, TSC_DEADLINE or the x2APIC range)? */
  static modelsMsr(msr: number): boolean {
    return msr === MSR_IA32_APICBASE || msr === MSR_IA32_TSC_DEADLINE || (msr >= 0x800 && msr <= 0x8ff);
  }

  /**
   * WRMSR (guest) or KVM_SET_MSRS (host). A refused host write is EINVAL, a guest one #GP. As
   * kvm_emulate_wrmsr() does, a guest access is traced (kvm_msr) after it ran; a host one is not.
   */
  wrmsr(vcpu: Vcpu, msr: number, value: bigint, host: boolean): MsrResult {
    if (!host) vcpu.enterGuest();
    let r: MsrResult;
    if (msr === MSR_IA32_APICBASE) r = refused(setApicBase(vcpu, value, host), host);
    else if (msr === MSR_IA32_TSC_DEADLINE) {
      vcpu.apic.timer.writeTscDeadline(value); // never faults: ignored unless in TSC-deadline mode
      r = OK;
    } else {
      const w = vcpu.apic.x2apicMsrWrite(msr, value);
      r = refused(w && { kind: 'refusal', code: w.code, kvm: w.kvm, vcpus: [vcpu.id], msr, reg: (msr - 0x800) << 4, value: '0x' + value.toString(16) }, host);
    }
    if (!host) this.trace(new MsrTrace(vcpu.id, true, msr, value, !r.ok));
    return r;
  }

  /** RDMSR (guest) or KVM_GET_MSRS (host). */
  rdmsr(vcpu: Vcpu, msr: number, host: boolean): MsrResult {
    if (!host) vcpu.enterGuest();
    const r = this.rdmsrUntraced(vcpu, msr, host);
    if (!host) this.trace(new MsrTrace(vcpu.id, false, msr, r.value ?? 0n, !r.ok));
    return r;
  }

  // `{ ok: true, value }`, not `{ ...OK, value }`: V8 builds a spread followed by a field in its
  // runtime, half a microsecond per read.
  private rdmsrUntraced(vcpu: Vcpu, msr: number, host: boolean): MsrResult {
    if (msr === MSR_IA32_APICBASE) return { ok: true, value: vcpu.apicBase };
    if (msr === MSR_IA32_TSC_DEADLINE) return { ok: true, value: vcpu.apic.timer.readTscDeadline() };
    const refuse = (code: RefusalCode, kvm: RefusalDecision['kvm']) => refused({ kind: 'refusal', code, kvm, vcpus: [vcpu.id], msr, reg: (msr - 0x800) << 4 }, host);
    if (!vcpu.apic.x2apicMode) return refuse('X2APIC_MSR_IN_XAPIC_MODE', 'kvm_x2apic_msr_read');
    const value = vcpu.apic.x2apicMsrRead(msr);
    if (value === null) return refuse('REG_NOT_READABLE', 'kvm_lapic_reg_read');
    return { ok: true, value };
  }

  /** A guest load from `gpa`: vcpu_mmio_read() tries the accessing vCPU's own LAPIC. */
  mmioRead(vcpu: Vcpu, gpa: bigint, len = 4): { value: number } | { unclaimed: true } | { unreadable: true } {
    vcpu.enterGuest();
    const v = vcpu.apic.mmioRead(gpa, len);
    return v === null ? { unclaimed: true } : v === 'unreadable' ? { unreadable: true } : { value: v };
  }

  /** A guest store to `gpa`. */
  mmioWrite(vcpu: Vcpu, gpa: bigint, value: number, len = 4): { unclaimed?: true } {
    vcpu.enterGuest();
    return vcpu.apic.mmioWrite(gpa, len, value) ? {} : { unclaimed: true };
  }

  getLapic(vcpu: Vcpu): Uint32Array {
    return getLapicState(vcpu);
  }

  /** KVM_GET_LAPIC: the image, or EINVAL when KVM's fixup refuses it. */
  getLapicChecked(vcpu: Vcpu): Uint32Array | RefusalDecision {
    return getLapicFails(vcpu) ? lapicIdMismatch(vcpu) : getLapicState(vcpu);
  }

  setLapic(vcpu: Vcpu, image: Uint32Array): RefusalDecision | null {
    return setLapicState(vcpu, image) ? null : lapicIdMismatch(vcpu);
  }

  /**
   * kvm_apic_send_ipi(): decode the ICR and deliver. The delivery's trace record holds the
   * kvm_apic_ipi line, the accepts, and the words for the ICR exit (ipi_virtualization).
   */
  sendIpi(src: Lapic, icrLow: number, icrHigh: number, fromSelfIpiRegister = false): void {
    const irq = icrToIrq(src, icrLow, icrHigh);
    const out = deliverToApic(this, src, irq, icrLow);
    // A write to the SELF_IPI register is not an ICR write: it has no ICR exit path to report.
    if (!fromSelfIpiRegister) {
      const h = icrWriteHandling(this, src, icrLow, irq, out);
      out.exit = h.exit;
      out.exitNote = h.note;
    }
    this.deliveries.push(out);
  }

  /** A guest KVM_HC_SEND_IPI hypercall (VMCALL): what it returned in RAX, and what it delivered. */
  pvSendIpi(vcpu: Vcpu, args: PvIpiArgs): PvIpiResult {
    vcpu.enterGuest();
    const r = pvSendIpi(this, vcpu, args);
    if (r.outcome) this.deliveries.push(r.outcome);
    return r;
  }

  /** KVM_SIGNAL_MSI: the count of accepting LAPICs, or EPERM when nobody matched (-1), EINVAL for a bad route. */
  signalMsi(addressLo: number, addressHi: number, data: number): { count: number } | { error: Errno; refusal: RefusalDecision } {
    if (msiRouteInvalid(this, addressHi)) {
      return { error: 'EINVAL', refusal: { kind: 'refusal', code: 'MSI_ROUTE_INVALID', kvm: 'kvm_msi_route_invalid', vcpus: [], error: 'EINVAL', value: '0x' + addressHi.toString(16) } };
    }
    const irq = msiToIrq(this, addressLo, addressHi, data);
    // The address as traced when the MSI happens: a later KVM_ENABLE_CAP must not change the line.
    const address = msiTraceAddress(addressLo, addressHi, this.x2apicFormat);
    this.trace(new LazyTraceEvent('kvm_msi_set_irq', undefined, () => formatMsiSetIrq(address, data)));
    const out = deliverToApic(this, null, irq);
    this.deliveries.push(out);
    if (out.count >= 0) return { count: out.count };
    return { error: 'EPERM', refusal: { kind: 'refusal', code: 'MSI_NO_TARGET', kvm: 'kvm_send_userspace_msi', vcpus: [], error: 'EPERM' } };
  }
}

/** A refused MSR access: #GP for the guest, EINVAL for KVM_SET/GET_MSRS; OK when nothing refused it. */
function refused(refusal: RefusalDecision | null, host: boolean): MsrResult {
  if (!refusal) return OK;
  const fault: Outcome = host ? { ok: false, error: 'EINVAL' } : { ok: false, fault: '#GP' };
  return { ...fault, refusal: { ...refusal, ...(host ? { error: 'EINVAL' as const } : { fault: '#GP' as const }) } };
}

/** An inhibit set for a reason no map rebuild explains. */
function inhibitDecision(reason: AnyInhibitReason, code: InhibitDecision['code'], kvm: InhibitDecision['kvm'], vcpus: VcpuId[]): InhibitDecision {
  return { kind: 'inhibit', code, kvm, reason, vcpus };
}

/** kvm_apic_state_fixup(): with 32-bit IDs, an x2APIC vCPU's image must carry its own x2APIC ID. */
function lapicIdMismatch(vcpu: Vcpu): RefusalDecision {
  return { kind: 'refusal', code: 'LAPIC_X2APIC_ID_MISMATCH', kvm: 'kvm_apic_state_fixup', vcpus: [vcpu.id], error: 'EINVAL' };
}
