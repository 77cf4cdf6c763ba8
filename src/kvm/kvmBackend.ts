/**
 * The real kernel as a ScenarioBackend: a scenario replayed through /dev/kvm on a VM with an
 * in-kernel irqchip. Node only.
 *
 * Host ops are ioctls (KVM_GET/SET_MSRS, KVM_GET/SET_LAPIC, KVM_ENABLE_CAP, KVM_CREATE_VCPU,
 * KVM_SIGNAL_MSI, KVM_GET/SET_MP_STATE). Guest ops run guest code (guest.ts): MMIO loads and
 * stores, WRMSR/RDMSR (a refusal is the guest's #GP), `ack` (the guest opens IF and takes what KVM
 * injects) and `run` (KVM_RUN of a RUNNABLE vCPU). A guest op on a vCPU that KVM would not run
 * (UNINITIALIZED, waiting for SIPI, HALTED) is run by making it RUNNABLE for that step and putting
 * its MP state back, since the model lets any vCPU make guest accesses. `run` of a vCPU KVM would
 * block is not entered; its state is reported. Refused, each named: nested (VMX/SVM) and SMM ops,
 * the PV IPI hypercall (PV_IPI_REFUSAL: a guest's VMCALL never reaches kvm_emulate_hypercall on
 * this kernel), MMIO at guest RAM or above 4 GiB (the guest program's own memory, its 32-bit
 * addressing).
 *
 * Time (hostTime.ts): the kernel's APIC timer runs on host time. `advance` waits until the
 * backend's clock (host ns since the VM's time zero, `elapsedNs()`) reaches the scenario's clock
 * (the sum of the advances); `until: "next-timer-expiry"` waits for the kernel's own next expiry
 * (from its TMCCT and divide, or its TSC deadline), plus UNTIL_MARGIN_NS for the hrtimer to run;
 * if every programmed timer has already fired (the host lagged past it), it waits only the margin.
 * MSR 0x6E0 values are in the scenario's TSC, which starts at 0 at time zero as the model's does:
 * the guest TSC at time zero is added to writes and taken off reads (0, no deadline, stays 0).
 * `local_irq` is refused for each source, saying why; `nmi_watchdog` is one tick of an in-kernel
 * PIT (pit.ts).
 */
import { MP_STATES, type Errno, type MpState } from '../core/types';
import type { LOCAL_SOURCES } from '../scenario/schema';
import { LAPIC_STATE_SIZE } from '../core/apicdef';
import { UnsupportedStep, type HostTraits, type ScenarioBackend, type VcpuObservation } from '../scenario/backend';
import { imageBytes, imageWords } from '../scenario/lapicImage';
import { hex } from '../scenario/numbers';
import { stepResult, type StepResult } from '../scenario/result';
import { field, regsObject } from '../scenario/result';
import { vcpuIds } from '../scenario/runner';
import { ScenarioInputError, type Step, type VmInput } from '../scenario/schema';
import {
  KVM_CAP_MAX_VCPU_ID, KVM_CAP_MAX_VCPUS, KVM_CAP_X2APIC_API, KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED, type KvmSystem, type KvmVcpu, type KvmVm,
} from './kvmIoctl';
import { GuestError, GuestMachine, type GuestOutcome } from './guest';
import { isGuestRam, type GuestAccess } from './guestCode';
import { hostNowNs, kernelTimerRemainingNs, sleepUntil } from './hostTime';
import { MSR_IA32_TSC, MSR_IA32_TSC_DEADLINE } from './ioctlNumbers';
import { InKernelPit } from './pit';

/** A halted vCPU with an NMI it can take wakes in KVM_RUN (kvm_vcpu_has_events). */
function nmiWakes(v: KvmVcpu): boolean {
  const e = v.getVcpuEvents();
  return e.nmi.pending > 0 && !e.nmi.masked;
}

export const KVM_CAP_X86_SMM = 117;
/** struct kvm_sregs: 8 segments (24 bytes each), GDT and IDT (16 each), then cr0, cr2, cr3, cr4, cr8, efer, apic_base. */
const SREGS_CR8 = 8 * 24 + 2 * 16 + 4 * 8;
const SREGS_APIC_BASE = SREGS_CR8 + 16;
export const KVM_CAP_DISABLE_QUIRKS2 = 213;
const QUIRK_LINT0_REENABLED = 1n << 0n;
const QUIRK_LAPIC_MMIO_HOLE = 1n << 2n;

/** Why the kernel cannot raise each local interrupt source of `local_irq` by itself. */
export const LOCAL_IRQ_REFUSALS: Record<(typeof LOCAL_SOURCES)[number], string> = {
  LINT0:
    "nothing raises LINT0 by itself with an in-kernel irqchip: KVM delivers through LVT0 only for the PIT's NMI watchdog (op nmi_watchdog), and the PIC's interrupts reach a vCPU as ExtINT (kvm_cpu_get_extint), not through kvm_apic_local_deliver",
  LINT1: 'KVM has no caller of kvm_apic_local_deliver(APIC_LVT1): an NMI from userspace (KVM_NMI) is injected directly, not through LVT1',
  PERF: "a PMI needs a vPMU counter overflow (kvm_pmu_deliver_pmi), and the backend's guest CPUID has no architectural PMU (no leaf 0xA), so its vCPUs have no counters to overflow",
  CMCI: 'a CMCI needs an uncorrected-no-action machine check (KVM_X86_SET_MCE into a bank with CMCI enabled, after KVM_X86_SETUP_MCE with MCG_CMCI_P: kvm_vcpu_x86_set_ucna), which this backend does not set up',
};

/** The longest `advance` the kernel backend waits for: host time really passes. */
export const MAX_KVM_ADVANCE_NS = 60_000_000_000n;
/** After the kernel's next expiry, how long `until: "next-timer-expiry"` waits for its hrtimer to have run. */
export const UNTIL_MARGIN_NS = 2_000_000;

/**
 * Why `pv_send_ipi` cannot run. kvm_emulate_hypercall() runs only from the vendor module's VMCALL
 * (VMX) or VMMCALL (SVM) exit handler. On kvm_pvm the instruction emulator takes every guest
 * instruction: em_hypercall() rewrites the instruction to the backend's own (emulator_fix_hypercall;
 * measured on an AMD host: VMMCALL 0f 01 d9 became VMCALL 0f 01 c1 in guest memory) and
 * re-executes it, in the emulator again. The vCPU loops there (63 million kvm_emulate_insn lines of
 * that VMCALL in a minute, no kvm_hypercall line) and KVM_RUN returns only for a fatal signal (a
 * SIGUSR2 to the vCPU thread did not end it). With KVM_X86_QUIRK_FIX_HYPERCALL_INSN disabled the
 * emulator injects #UD instead: either way kvm_pv_send_ipi() is never reached.
 */
export const PV_IPI_REFUSAL =
  "the guest's hypercall never reaches KVM on this kernel: kvm_emulate_hypercall runs on a VMCALL/VMMCALL VM exit, but kvm_pvm emulates every guest instruction, and KVM's emulator (em_hypercall) only rewrites the instruction to VMCALL and executes it again, in the emulator, forever (KVM_RUN would not return)";

/** Why this backend cannot run `step`, or null when it can. */
export function kvmRefusal(step: Step): string | null {
  switch (step.op) {
    case 'advance':
      return step.ns !== undefined && step.ns > MAX_KVM_ADVANCE_NS ? `the kernel's timer runs in host time, so the backend really waits; more than ${MAX_KVM_ADVANCE_NS / 1_000_000_000n} s is refused` : null;
    case 'local_irq':
      return LOCAL_IRQ_REFUSALS[step.lvt];
    case 'nmi_watchdog':
    case 'wrmsr':
    case 'rdmsr':
    case 'get_lapic':
    case 'set_lapic':
    case 'enable_cap':
    case 'create_vcpu':
    case 'msi':
    case 'get_mp_state':
    case 'set_mp_state':
    case 'mmio_read':
    case 'mmio_write':
    case 'ack':
    case 'run':
      return null;
    case 'enter_smm':
    case 'rsm':
      return 'this kernel has no SMM (KVM_CAP_X86_SMM is absent), so a vCPU cannot enter or leave it';
    case 'pv_send_ipi':
      return step.op64 === false ? PV_IPI_REFUSAL : `${PV_IPI_REFUSAL}; and a 64-bit hypercall (op64) would need long mode, while the backend's guest runs in 32-bit protected mode`;
    case 'vmxon':
    case 'vmxoff':
    case 'enter_guest':
    case 'leave_guest':
    case 'clgi':
    case 'stgi':
      return "nested virtualization: the backend's guest program does not run VMX or SVM, so there is no L2 to enter, leave or exit from";
  }
  // No default: a new op must be placed above (tsc fails here), not fall into some other refusal.
}

/** A step this backend cannot run (named in the message). */
export class UnsupportedOnKvm extends UnsupportedStep {}

/** What probeHost learns: the traits a model must share, and the guest TSC rate. */
export interface KvmHostTraits extends HostTraits {
  /** KVM_GET_TSC_KHZ of a fresh vCPU: the rate of the guest TSC that TSC-deadline values count. */
  tscKhz: number;
}

/** Learn what the kernel's KVM is: release, ICR layout, SMM, vCPU limits, TSC rate. */
export function probeHost(sys: KvmSystem): KvmHostTraits {
  const vm = sys.createVm();
  try {
    vm.createIrqchip();
    const v = vm.createVcpu(0);
    if (typeof v === 'string') throw new Error(`KVM_CREATE_VCPU(0) failed: ${v}`);
    v.setCpuid({ x2apic: true, maxPhyAddr: 46 });
    v.setMsr(0x1b, 0xfee00d00n);
    v.setMsr(0x830, 0x0000000500000400n); // an NMI to APIC ID 5, which nobody has
    const high = imageWords(v.getLapic())[0x304 >> 2];
    // Does the kernel EOI what it injects? A self-IPI taken by the guest, then ISR.
    const guest = new GuestMachine(vm);
    guest.addVcpu(0);
    v.setMsr(0x80f, 0x1ffn);
    v.setMsr(0x83f, 0x40n);
    const took = guest.perform(v, { kind: 'ack' }).interrupt;
    if (took !== 0x40) throw new Error(`probe: the guest took ${took} instead of the self-IPI 0x40`);
    const isr = imageWords(v.getLapic())[(0x100 + 0x10 * (0x40 >> 5)) >> 2];
    return {
      kernel: sys.kernelRelease,
      eoiOnInjection: ((isr >>> (0x40 & 31)) & 1) === 0,
      icrSplit: high === 0,
      smm: sys.checkExtension(KVM_CAP_X86_SMM) > 0,
      maxVcpus: sys.checkExtension(KVM_CAP_MAX_VCPUS),
      maxVcpuIds: sys.checkExtension(KVM_CAP_MAX_VCPU_ID),
      tscKhz: v.getTscKhz(),
    };
  } finally {
    vm.close();
  }
}

export interface KvmBackendOptions {
  /** Make each vCPU's ioctls on its own host thread `CPU <id>/KVM`, as QEMU does (readable traces). */
  threads?: boolean;
}

export class KvmBackend implements ScenarioBackend {
  readonly name = 'kvm';
  private readonly vm: KvmVm;
  private readonly vcpus: KvmVcpu[] = [];
  private readonly cpuid: { x2apic: boolean; maxPhyAddr: number; tscDeadline: boolean };
  private readonly guest: GuestMachine;
  /** The host clock at the VM's time zero (the end of construction). */
  private readonly zero: bigint;
  /** The scenario's clock as this backend keeps it (ns): where `advance` waits until. */
  private clockNs = 0;
  /** The guest TSC at time zero (read once, when a TSC-deadline value is first needed). */
  private tscAtZero: bigint | null = null;
  private tscRate: number | null = null;
  /** The in-kernel PIT, created by the first `nmi_watchdog`. */
  private pit: InKernelPit | null = null;
  /** Events the guest took during a step, after its access, since takeHostEvents() (see GuestOutcome.takenAfterAccess). */
  private hostEvents: string[] = [];

  constructor(sys: KvmSystem, input: VmInput, private readonly opts: KvmBackendOptions = {}) {
    this.cpuid = { x2apic: input.x2apicCpuid ?? true, maxPhyAddr: input.maxPhyAddr ?? 46, tscDeadline: input.tscDeadline ?? true };
    this.vm = sys.createVm();
    this.vm.createIrqchip();
    this.guest = new GuestMachine(this.vm);
    const quirks = (input.quirks?.lint0Reenabled === false ? QUIRK_LINT0_REENABLED : 0n) | (input.quirks?.lapicMmioHole === false ? QUIRK_LAPIC_MMIO_HOLE : 0n);
    if (quirks) {
      const err = this.vm.enableCap(KVM_CAP_DISABLE_QUIRKS2, quirks);
      if (err) throw new ScenarioInputError(`scenario: vm.quirks: KVM_CAP_DISABLE_QUIRKS2 fails with ${err} on this kernel`);
    }
    if ((input.bspVcpuId ?? 0) !== 0) {
      const err = this.vm.setBootCpuId(input.bspVcpuId!);
      if (err) throw new ScenarioInputError(`scenario: vm.bspVcpuId: KVM_SET_BOOT_CPU_ID fails with ${err}`);
    }
    for (const id of vcpuIds(input.vcpus)) {
      const err = this.createVcpu(id);
      if (err) throw new ScenarioInputError(`scenario: vm.vcpus: KVM_CREATE_VCPU(${id}) fails with ${err} on this kernel`);
    }
    // Each vCPU thread's first call waits for the thread to start: make it before time zero.
    for (const v of this.vcpus) v.getLapic();
    this.zero = hostNowNs();
  }

  /** The backend's clock: host time since the VM's time zero (ns); the kernel's timers run on it. */
  elapsedNs(): number {
    return Number(hostNowNs() - this.zero);
  }

  /** KVM_GET_TSC_KHZ (every vCPU of a VM has the host's rate here). */
  tscKhz(v: KvmVcpu): number {
    return (this.tscRate ??= v.getTscKhz());
  }

  /** The guest TSC at time zero, from a KVM_GET_MSRS(IA32_TSC) timed on the host clock. */
  private tscZero(v: KvmVcpu): bigint {
    if (this.tscAtZero === null) {
      const before = hostNowNs();
      const tsc = v.getMsr(MSR_IA32_TSC);
      const after = hostNowNs();
      if (tsc === null) throw new Error('KVM_GET_MSRS(IA32_TSC) refused');
      const at = (before + after) / 2n - this.zero;
      this.tscAtZero = tsc - (at * BigInt(this.tscKhz(v))) / 1_000_000n;
      this.tscZeroError = Number(after - before) / 2;
    }
    return this.tscAtZero;
  }
  private tscZeroError = 0;

  /** How far off (ns) the guest TSC at time zero may be: half the KVM_GET_MSRS it was read with. */
  tscZeroErrorNs(): number {
    return this.tscZeroError;
  }

  /** Per vCPU: the last TSC deadline written, in the scenario's TSC and as the kernel got it. */
  private readonly deadlines = new Map<number, { scenario: bigint; kernel: bigint }>();

  /**
   * A TSC-deadline value of the scenario (TSC 0 at time zero) as the kernel's guest TSC, and back.
   * 0 (no deadline) stays 0; a deadline beyond the kernel's 64-bit TSC saturates (never fires, as
   * in the model), and reads back as written.
   */
  private toKernelTsc(v: KvmVcpu, value: bigint): bigint {
    if (value === 0n) return 0n;
    const sum = value + this.tscZero(v);
    const kernel = sum > 0xffffffffffffffffn ? 0xffffffffffffffffn : sum;
    this.deadlines.set(v.id, { scenario: value, kernel });
    return kernel;
  }
  private fromKernelTsc(v: KvmVcpu, value: bigint): bigint {
    if (value === 0n) return 0n;
    const written = this.deadlines.get(v.id);
    return written?.kernel === value ? written.scenario : BigInt.asUintN(64, value - this.tscZero(v));
  }

  /** `advance`: wait until the backend's clock reaches the scenario's, or the kernel's next timer expiry. */
  private advance(step: Step & { op: 'advance' }, i: number): StepResult {
    if (step.until) {
      let next: number | null = null;
      let fired = false;
      for (const v of this.vcpus) {
        const left = kernelTimerRemainingNs(v, this.tscKhz(v));
        if (left === 'expired') fired = true;
        else if (left !== null && (next === null || left < next)) next = left;
      }
      const now = this.elapsedNs();
      // Programmed timers that have all fired: the host lagged past the expiry the scenario waits
      // for (the comparison reports it as a close call); there is nothing left to wait for.
      if (next === null && !fired) throw new ScenarioInputError(`step ${i} (advance): until "next-timer-expiry": no APIC timer is programmed on the kernel (TMICT 0, no TSC deadline), so there is no next expiry`);
      if (next !== null && next > Number(MAX_KVM_ADVANCE_NS)) throw new UnsupportedOnKvm(`step ${i} (advance): not supported on real KVM: the kernel's next timer expiry is ${(next / 1e9).toFixed(1)} s away, and the backend really waits (at most ${MAX_KVM_ADVANCE_NS / 1_000_000_000n} s)`);
      this.clockNs = Math.max(this.clockNs, now + (next ?? 0));
      sleepUntil(this.zero + BigInt(this.clockNs + UNTIL_MARGIN_NS));
    } else {
      this.clockNs += Number(step.ns);
      sleepUntil(this.zero + BigInt(this.clockNs));
    }
    return stepResult(i, step.op, { nowNs: this.elapsedNs() });
  }

  private createVcpu(id: number): string | null {
    const v = this.vm.createVcpu(id, { thread: this.opts.threads });
    if (typeof v === 'string') return v;
    const err = v.setCpuid(this.cpuid);
    if (err) throw new Error(`KVM_SET_CPUID2 on vCPU ${id} failed: ${err}`);
    this.guest.addVcpu(id);
    this.vcpus.push(v);
    return null;
  }

  /**
   * vCPUs that ran guest code while KVM would not have run them (not started, waiting for SIPI),
   * with their registers and segments from before (their RESET or INIT state). A SIPI sets only CS
   * and RIP, so it would start the real-mode stub in the guest program's protected mode (and
   * triple-fault): before a step that may send a StartUp, they get that state back.
   */
  private readonly forcedFrom = new Map<number, { regs: Uint8Array; sregs: Uint8Array }>();

  /** Guest code on `v`: made RUNNABLE for the step if KVM would not run it, then put back. */
  private inGuest(v: KvmVcpu, access: GuestAccess): GuestOutcome {
    const state = v.getMpState(); // processes INIT/SIPI, as KVM_RUN's entry would
    if (state === KVM_MP_STATE_RUNNABLE) {
      this.forcedFrom.delete(v.id); // running as KVM runs it: its state is its own
      return this.perform(v, access);
    }
    if ((state === KVM_MP_STATE_INIT_RECEIVED || state === KVM_MP_STATE_UNINITIALIZED) && !this.forcedFrom.has(v.id)) this.forcedFrom.set(v.id, v.getCpuState());
    v.setMpState(KVM_MP_STATE_RUNNABLE);
    try {
      return this.perform(v, access);
    } finally {
      v.setMpState(state);
    }
  }

  private perform(v: KvmVcpu, access: GuestAccess): GuestOutcome {
    const out = this.guest.perform(v, access);
    for (const vector of out.takenAfterAccess) this.hostEvents.push(`vCPU ${v.id} took vector ${vector} during the step, after its access (the host preempted the vCPU thread and KVM entered the guest again)`);
    return out;
  }

  takeHostEvents(): string[] {
    const e = this.hostEvents;
    this.hostEvents = [];
    return e;
  }

  /** Before a step that may send a StartUp (an ICR write or MSI in StartUp mode, SIPI_RECEIVED set). */
  private beforeStartUp(step: Step): void {
    if (!this.forcedFrom.size) return;
    const mode = (low: bigint) => Number((low >> 8n) & 7n);
    const startUp =
      (step.op === 'msi' && mode(step.data) === 6) ||
      (step.op === 'wrmsr' && step.msr === 0x830n && mode(step.value) === 6) ||
      (step.op === 'mmio_write' && ((step.offset ?? step.gpa ?? 0n) & 0xfffn) === 0x300n && mode(step.value) === 6) ||
      (step.op === 'set_mp_state' && step.state === 'SIPI_RECEIVED');
    if (!startUp) return;
    for (const [id, from] of this.forcedFrom) this.restoreStartState(this.vcpus.find((x) => x.id === id)!, from);
    this.forcedFrom.clear();
  }

  /**
   * KVM_SET_SREGS and KVM_SET_REGS with the state from before the forced run, but the APIC base and
   * CR8 as they are now. KVM_SET_SREGS writes both into the LAPIC (kvm_set_apic_base: unchanged;
   * kvm_lapic_set_tpr: TPR from CR8, bits 7:4 only, then a PPR update), so TPR bits 3:0 are written
   * back through the x2APIC TPR MSR. Refused, before anything is written, where that would show:
   * a TPR the host cannot write back (xAPIC mode, or bits above 7), or a PPR that the update would
   * change (left stale by KVM_SET_LAPIC).
   */
  private restoreStartState(v: KvmVcpu, from: { regs: Uint8Array; sregs: Uint8Array }): void {
    const lapic = () => imageWords(v.getLapic());
    const w = lapic();
    const tpr = w[0x80 >> 2];
    const x2apic = ((v.getMsr(0x1b) ?? 0n) & (1n << 10n)) !== 0n;
    const refuse = (why: string) => {
      throw new UnsupportedOnKvm(`vCPU ${v.id} ran guest code while KVM would not have run it, and a StartUp may now reach it: it needs its RESET or INIT state back (a SIPI sets only CS and RIP), but KVM_SET_SREGS ${why}`);
    };
    const fixTpr = (tpr & 0xf) !== 0 || tpr > 0xff;
    if (fixTpr && (!x2apic || tpr > 0xff)) refuse(`would leave TPR ${hex(tpr)} as ${hex(tpr & 0xf0)} (CR8), and the host can write TPR back only through the x2APIC MSR (8 bits, x2APIC mode)`);
    let isrv = 0;
    for (let vec = 255; vec >= 0 && !isrv; vec--) if ((w[(0x100 + 0x10 * (vec >> 5)) >> 2] >>> (vec & 31)) & 1) isrv = vec;
    const ppr = (tpr & 0xf0) >= (isrv & 0xf0) ? tpr & 0xff : isrv & 0xf0; // __apic_update_ppr()
    if (ppr !== w[0xa0 >> 2]) refuse(`would update PPR ${hex(w[0xa0 >> 2])} to ${hex(ppr)} (kvm_lapic_set_tpr)`);
    const now = v.getCpuState().sregs;
    const sregs = from.sregs.slice();
    sregs.set(now.subarray(SREGS_CR8, SREGS_CR8 + 8), SREGS_CR8);
    sregs.set(now.subarray(SREGS_APIC_BASE, SREGS_APIC_BASE + 8), SREGS_APIC_BASE);
    const err = v.setCpuState({ regs: from.regs, sregs });
    if (err) throw new GuestError(`vCPU ${v.id}: putting back its RESET or INIT state failed: ${err}`);
    if (fixTpr && !v.setMsr(0x808, BigInt(tpr))) throw new GuestError(`vCPU ${v.id}: writing TPR ${hex(tpr)} back failed`);
    const after = lapic();
    if (after[0x80 >> 2] !== tpr || after[0xa0 >> 2] !== w[0xa0 >> 2]) throw new GuestError(`vCPU ${v.id}: putting back its RESET or INIT state changed TPR/PPR from ${hex(tpr)}/${hex(w[0xa0 >> 2])} to ${hex(after[0x80 >> 2])}/${hex(after[0xa0 >> 2])}`);
  }

  /** The guest physical address of an MMIO step, refused where the guest program cannot reach it. */
  private mmioGpa(step: Step & { op: 'mmio_read' | 'mmio_write' }, v: KvmVcpu, i: number): number {
    const gpa = step.gpa ?? ((v.getMsr(0x1b) ?? 0n) & ~0xfffn) + step.offset!;
    const at = `step ${i} (${step.op}): not supported on real KVM: guest physical address ${hex(gpa)}`;
    if (gpa + 4n > 0x100000000n) throw new UnsupportedOnKvm(`${at} is above 4 GiB, beyond the 32-bit guest program`);
    if (isGuestRam(gpa)) throw new UnsupportedOnKvm(`${at} is RAM of the backend's guest, so the access would not reach the LAPIC`);
    return Number(gpa);
  }

  private guestMsr(step: Step & { op: 'wrmsr' | 'rdmsr' }, v: KvmVcpu, i: number): StepResult {
    const msr = Number(step.msr);
    const out = this.inGuest(v, step.op === 'wrmsr' ? { kind: 'wrmsr', msr, value: step.value } : { kind: 'rdmsr', msr });
    if (out.fault === 13) return { i, op: step.op, ok: false, fault: '#GP' };
    if (out.fault !== undefined) throw new GuestError(`step ${i} (${step.op}): the guest took exception ${out.fault}`);
    return step.op === 'rdmsr' ? stepResult(i, step.op, { value: hex(out.value!) }) : stepResult(i, step.op);
  }

  private vcpu(step: Step & { vcpu: number }, i: number): KvmVcpu {
    const v = this.vcpus.find((x) => x.id === step.vcpu);
    if (!v) throw new ScenarioInputError(`step ${i} (${step.op}): vcpu ${step.vcpu} does not exist`);
    return v;
  }

  applyStep(step: Step, i: number): StepResult {
    const refusal = kvmRefusal(step);
    if (refusal) throw new UnsupportedOnKvm(`step ${i} (${step.op}): not supported on real KVM: ${refusal}`);
    try {
      this.beforeStartUp(step);
    } catch (e) {
      if (e instanceof UnsupportedOnKvm) throw new UnsupportedOnKvm(`step ${i} (${step.op}): not supported on real KVM: ${e.message}`);
      throw e;
    }
    const fail = (error: string) => ({ i, ok: false, error: error as Errno });
    switch (step.op) {
      case 'wrmsr':
      case 'rdmsr': {
        const msr = Number(step.msr);
        const host = step.host ?? false;
        if (msr !== 0x1b && msr !== MSR_IA32_TSC_DEADLINE && (msr < 0x800 || msr > 0x8ff)) throw new ScenarioInputError(`step ${i} (${step.op}): msr ${hex(msr)} is not modelled (only 0x1b, 0x6e0 and 0x800-0x8ff)`);
        const v = this.vcpu(step, i);
        // TSC-deadline values: the scenario's TSC in, the scenario's TSC out.
        const deadline = msr === MSR_IA32_TSC_DEADLINE;
        const s = deadline && step.op === 'wrmsr' ? { ...step, value: this.toKernelTsc(v, step.value) } : step;
        if (!host) {
          const r = this.guestMsr(s, v, i);
          const value = field(r, 'value');
          return deadline && r.op === 'rdmsr' && value !== undefined ? { ...r, value: hex(this.fromKernelTsc(v, BigInt(value))) } : r;
        }
        const refused = { i, ok: false, error: 'EINVAL' as const };
        if (s.op === 'wrmsr') return v.setMsr(msr, s.value) ? stepResult(i, s.op) : { ...refused, op: s.op };
        const value = v.getMsr(msr);
        return value === null ? { ...refused, op: step.op } : stepResult(i, step.op, { value: hex(deadline ? this.fromKernelTsc(v, value) : value) });
      }
      case 'get_lapic':
        return stepResult(i, step.op, { regs: regsObject(imageWords(this.vcpu(step, i).getLapic())) });
      case 'set_lapic': {
        const v = this.vcpu(step, i);
        const words = step.merge ? imageWords(v.getLapic()) : new Uint32Array(LAPIC_STATE_SIZE / 4);
        for (const [k, val] of Object.entries(step.regs)) words[parseInt(k, 16) >> 2] = Number(val);
        const err = v.setLapic(imageBytes(words));
        return err ? { ...fail(err), op: step.op } : stepResult(i, step.op);
      }
      case 'enable_cap': {
        const err = this.vm.enableCap(KVM_CAP_X2APIC_API, step.flags);
        return err ? { ...fail(err), op: step.op } : stepResult(i, step.op);
      }
      case 'create_vcpu': {
        const err = this.createVcpu(step.vcpu);
        return err ? { ...fail(err), op: step.op } : stepResult(i, step.op);
      }
      case 'msi': {
        const r = this.vm.signalMsi(Number(step.addressLo), Number(step.addressHi ?? 0n), Number(step.data));
        return typeof r === 'string' ? { ...fail(r), op: step.op } : stepResult(i, step.op, { count: r });
      }
      case 'mmio_read': {
        const v = this.vcpu(step, i);
        const out = this.inGuest(v, { kind: 'mmio_read', gpa: this.mmioGpa(step, v, i) });
        return stepResult(i, step.op, out.unclaimed ? { unclaimed: true } : { value: hex(out.value!) });
      }
      case 'mmio_write': {
        const v = this.vcpu(step, i);
        const out = this.inGuest(v, { kind: 'mmio_write', gpa: this.mmioGpa(step, v, i), value: Number(step.value) });
        return stepResult(i, step.op, out.unclaimed ? { unclaimed: true } : {});
      }
      case 'ack': {
        const out = this.inGuest(this.vcpu(step, i), { kind: 'ack' });
        return stepResult(i, step.op, { vector: out.interrupt ?? null });
      }
      case 'run': {
        const v = this.vcpu(step, i);
        const state = v.getMpState();
        // KVM_RUN would block a vCPU that waits (SIPI, HLT) until something wakes it: report its state.
        if (state !== KVM_MP_STATE_RUNNABLE && !(state === KVM_MP_STATE_HALTED && nmiWakes(v))) return stepResult(i, step.op, { mpState: MP_STATES[state] ?? 'unknown' });
        this.forcedFrom.delete(v.id);
        const out = this.perform(v, { kind: 'nothing' });
        const sipi = out.started.find((s) => s.base < 0x100000n);
        return { ...stepResult(i, step.op, { mpState: 'RUNNABLE' }), ...(sipi ? { startedAt: `CS ${hex(sipi.selector)} (base ${hex(sipi.base)}), IP 0` } : {}) };
      }
      case 'get_mp_state':
        return stepResult(i, step.op, { mpState: MP_STATES[this.vcpu(step, i).getMpState()] ?? 'unknown' });
      case 'set_mp_state': {
        const v = this.vcpu(step, i);
        const err = v.setMpState(MP_STATES.indexOf(step.state as MpState));
        // Report the state as stored, without KVM_GET_MP_STATE (which would process events).
        return err ? { ...fail(err), op: step.op } : stepResult(i, step.op, { mpState: step.state === 'SIPI_RECEIVED' ? 'INIT_RECEIVED' : step.state });
      }
      case 'advance':
        return this.advance(step, i);
      case 'nmi_watchdog': {
        if (!this.pit) {
          const pit = InKernelPit.create(this.vm);
          if (typeof pit === 'string') throw new UnsupportedOnKvm(`step ${i} (nmi_watchdog): not supported on real KVM: ${pit}`);
          this.pit = pit;
        }
        this.pit.tick();
        return stepResult(i, step.op);
      }
      default:
        throw new Error(`kvmRefusal() let ${step.op} through`);
    }
  }

  observe(): VcpuObservation[] {
    return this.vcpus.map((v) => {
      const events = v.getVcpuEvents();
      return {
        vcpu: v.id,
        apicBase: v.getMsr(0x1b) ?? 0n,
        regs: imageWords(v.getLapic()),
        nmiPending: events.nmi.pending,
        smiPending: events.smi.pending,
        latchedInit: events.smi.latchedInit !== 0,
      };
    });
  }

  readMpStates() {
    return this.vcpus.map((v) => ({ vcpu: v.id, mpState: MP_STATES[v.getMpState()] ?? 'unknown' }));
  }

  close(): void {
    this.vm.close();
  }
}
