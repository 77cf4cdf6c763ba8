/**
 * A vCPU as far as the local APIC cares: its IA32_APIC_BASE, its LAPIC, MP state and the
 * event state that INIT/SIPI and NMI/SMI delivery touch.
 *
 * Models x86.c kvm_arch_vcpu_create (initial mp_state), kvm_vcpu_is_reset_bsp / kvm_vcpu_is_bsp,
 * and kvm_lapic_reset(init_event=false) through RESET at creation.
 *
 * Inaccuracies: general-purpose registers, CR8 and the rest of kvm_vcpu_reset are not modelled.
 */
import { MSR_IA32_APICBASE_BSP, MSR_IA32_APICBASE_ENABLE, X2APIC_ENABLE, APIC_DEFAULT_PHYS_BASE } from './apicdef';
import { setApicBaseRaw } from './apicBase';
import { Lapic } from './lapic';
import type { NestedExit } from './nested';
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
    this.hwEnabled = (v & MSR_IA32_APICBASE_ENABLE) !== 0n;
    this.x2apicMode = (v & X2APIC_ENABLE) !== 0n;
  }
  readonly apic: Lapic;
  mpState: MpState;
  /** vcpu->arch.apic_arb_prio: lowest-priority arbitration counter. */
  arbPrio = 0;
  nmiPending = 0;
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
  /** CS and RIP as the last SIPI set them (kvm_vcpu_deliver_sipi_vector). */
  csSelector = 0xf000;
  csBase = 0xffff0000;
  rip = 0xfff0;

  constructor(readonly vm: Vm, readonly id: VcpuId) {
    this.apic = new Lapic(this);
    // kvm_create_lapic() stuffs EN so that RESET's __kvm_apic_set_base sees no EN toggle.
    this.apicBase = MSR_IA32_APICBASE_ENABLE;
    this.resetApic();
    this.mpState = this.isResetBsp ? 'RUNNABLE' : 'UNINITIALIZED';
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
