/**
 * A vCPU as far as the local APIC cares: its IA32_APIC_BASE, its LAPIC, MP state and the
 * event state that INIT/SIPI and NMI/SMI delivery touch.
 *
 * Models x86.c kvm_arch_vcpu_create (initial mp_state, apicv_active with KVM_REQ_APICV_UPDATE
 * pending), kvm_vcpu_is_reset_bsp / kvm_vcpu_is_bsp, kvm_lapic_reset(init_event=false) through
 * RESET at creation, and __kvm_vcpu_update_apicv() when the vCPU enters the guest.
 *
 * Entering the guest (vcpu_enter_guest) processes the APICv update, pending INIT/SIPI
 * (kvm_apic_accept_events), injects a pending NMI (inject_pending_event) and recomputes PPR
 * (kvm_apic_has_interrupt).
 *
 * Inaccuracies: general-purpose registers, CR8 and the rest of kvm_vcpu_reset are not modelled.
 * "Entering the guest" is any guest access, `ack`, or `run` of a RUNNABLE vCPU, before the access:
 * an event a guest access raises for its own vCPU (a self-NMI, a self-INIT) waits for the vCPU's
 * next step, as on the project's kernel (kvm_pvm emulates a batch of instructions and injects at
 * the next KVM_RUN). On VMX or SVM hardware KVM re-enters the guest right after handling the
 * access's exit and injects it there, within the same KVM_RUN; the state after the step differs
 * (NMI pending vs taken) until the next step. The vendor's
 * per-vCPU inhibit reasons (NESTED on AMD) are VM-wide here. The guest's NMI blocking is set by an
 * injected NMI and cleared only by INIT (the lab's guest never executes IRET); in L2 or SMM a
 * pending NMI is not injected.
 */
import { MSR_IA32_APICBASE_BSP, MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE, APIC_DEFAULT_PHYS_BASE } from './apicdef';
import { setApicBaseRaw } from './apicBase';
import { Lapic } from './lapic';
import type { NestedExit } from './nested';
import { acceptEvents } from './mpState';
import type { LapicMode, MpState, VcpuId } from './types';
import type { Vm } from './vm';

export class Vcpu {
  private base = 0n;
  /** APICBASE.EN and EXTD as booleans: read on every access and delivery. */
  hwEnabled = false;
  x2apicMode = false;

  /** vcpu->arch.apic_base (IA32_APIC_BASE). */
  get apicBase(): bigint {
    return this.base;
  }
  set apicBase(v: bigint) {
    this.base = v;
    const hwEnabled = (v & MSR_IA32_APICBASE_ENABLE) !== 0n;
    if (hwEnabled !== this.hwEnabled) {
      this.hwEnabled = hwEnabled;
      this.vm.enableChanged(this);
    }
    const x2apicMode = (v & X2APIC_ENABLE) !== 0n;
    if (x2apicMode !== this.x2apicMode) {
      this.x2apicMode = x2apicMode;
      this.vm.xapicIds.place(this);
    }
  }
  readonly apic: Lapic;
  mpState: MpState;
  /** vcpu->arch.apic_arb_prio: lowest-priority arbitration counter. */
  arbPrio = 0;
  nmiPending = 0;
  /** The guest CPU blocks NMIs: one was injected and the guest has not executed IRET since. */
  nmiMasked = false;
  smiPending = 0;
  guestMode = false;
  vmxon = false;
  smm = false;
  /** AMD's global interrupt flag (CLGI/STGI; cleared by #VMEXIT). */
  gif = true;
  /** SVM: vmcb12 intercepts INIT. */
  interceptInit = true;
  /** The last nested VM-exit an INIT or SIPI caused. */
  lastVmexit: NestedExit | null = null;
  /** vcpu->arch.pv.pv_unhalted (set by a RemoteRead-mode "kick"). */
  pvUnhalted = false;
  /**
   * vcpu->arch.apic->apicv_active: this vCPU's own view of APICv/AVIC. It follows the VM's
   * inhibits only when the vCPU next enters the guest (KVM_REQ_APICV_UPDATE).
   */
  apicvActive: boolean;
  /** KVM_REQ_APICV_UPDATE is pending. */
  apicvUpdatePending = false;
  /** Vm.touch() bookkeeping (not KVM state): the round in which this vCPU was last listed as touched. */
  touchRound = 0;
  /** Vm.xapicIds bookkeeping (not KVM state): the xAPIC ID it lists this vCPU under, -1 for none. */
  listedXapicId = -1;
  /** CS and RIP as the last SIPI set them (kvm_vcpu_deliver_sipi_vector). */
  csSelector = 0xf000;
  csBase = 0xffff0000;
  rip = 0xfff0;

  /** vcpu->vcpu_idx: its place in creation order (Vm.vcpus). */
  readonly idx: number;

  constructor(readonly vm: Vm, readonly id: VcpuId) {
    this.idx = vm.vcpus.length;
    this.apic = new Lapic(this);
    // kvm_arch_vcpu_create(): with enable_apicv, start active and evaluate the inhibits at the
    // first KVM_RUN, whatever the VM's state now; except that avic_init_backing_page(), before
    // RESET, clears apicv_active at once for a vcpu_id beyond AVIC's table (6.17+).
    this.apicvActive = vm.config.apicv && !vm.avicIdTooBig(id);
    this.apicvUpdatePending = vm.config.apicv;
    // kvm_create_lapic() stuffs EN so that RESET's __kvm_apic_set_base sees no EN toggle.
    this.apicBase = MSR_IA32_APICBASE_ENABLE;
    this.resetApic();
    this.mpState = this.isResetBsp ? 'RUNNABLE' : 'UNINITIALIZED';
  }

  /**
   * What entering the guest does first (vcpu_enter_guest): a pending KVM_REQ_APICV_UPDATE runs
   * __kvm_vcpu_update_apicv(), which takes the VM's APICv state (off while the APIC is disabled)
   * and resynchronises the LAPIC when it changed. Every guest access goes through here, so each
   * step is called only when it has work: the checks are all that most accesses run (and all that
   * the JIT then compiles into them).
   */
  enterGuest(): void {
    const apic = this.apic;
    if (this.apicvUpdatePending) this.updateApicv();
    if (apic.timer.pending > 0) apic.timer.injectIfPending(); // vcpu_run(): kvm_inject_pending_timer_irqs()
    if (apic.pendingInit || apic.pendingSipi) acceptEvents(this);
    if (this.nmiPending > 0) this.injectNmi();
    // kvm_check_and_inject_events() asks kvm_apic_has_interrupt(), which recomputes PPR of an
    // enabled APIC without APICv: where a PPR left stale by KVM_SET_LAPIC (which requests this
    // event check) catches up.
    if (this.hwEnabled && !this.apicvActive) apic.updatePpr();
  }

  /** KVM_REQ_APICV_UPDATE, pending. */
  private updateApicv(): void {
    this.apicvUpdatePending = false;
    const activate = this.vm.apicvActive && this.mode !== 'disabled';
    if (activate === this.apicvActive) return;
    this.apicvActive = activate;
    this.apic.updateApicv();
    this.vm.trace({ event: 'kvm_vcpu_update_apicv', vcpu: this.id, detail: `apicv_active ${activate ? 1 : 0}` });
  }

  /** inject_pending_event(): a pending NMI is injected unless the guest blocks NMIs. */
  private injectNmi(): void {
    if (this.nmiPending === 0 || this.nmiMasked || this.guestMode || this.smm) return;
    this.nmiPending--;
    this.nmiMasked = true;
    this.vm.recordEvent({ kind: 'event', code: 'NMI_INJECTED', kvm: 'inject_pending_event', vcpus: [this.id] });
  }

  /** kvm_vcpu_is_reset_bsp(): vcpu_id == KVM_SET_BOOT_CPU_ID. */
  get isResetBsp(): boolean {
    return this.id === this.vm.config.bspVcpuId;
  }

  /** kvm_vcpu_is_bsp(): APICBASE.BSP, which the guest may change. */
  get isBsp(): boolean {
    return (this.apicBase & MSR_IA32_APICBASE_BSP) !== 0n;
  }

  /** kvm_get_apic_mode(). */
  get mode(): LapicMode {
    return apicMode(this.apicBase);
  }

  /** kvm_lapic_reset(vcpu, false): RESET, as at creation. */
  resetApic(): void {
    let msr = BigInt(APIC_DEFAULT_PHYS_BASE) | MSR_IA32_APICBASE_ENABLE;
    if (this.isResetBsp) msr |= MSR_IA32_APICBASE_BSP;
    setApicBaseRaw(this, msr);
    this.apic.reset(false);
    this.vm.recalculateApicMap();
  }
}

/** kvm_apic_mode(): the lapic_mode a value of IA32_APIC_BASE selects. */
export function apicMode(value: bigint): LapicMode {
  const en = (value & MSR_IA32_APICBASE_ENABLE) !== 0n;
  const extd = (value & X2APIC_ENABLE) !== 0n;
  if (en) return extd ? 'x2apic' : 'xapic';
  return extd ? 'invalid' : 'disabled';
}
