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
 * MMIO at guest RAM or above 4 GiB (the guest program's own memory, its 32-bit addressing).
 */
import { MP_STATES, type Errno, type MpState } from '../core/types';
import { LAPIC_STATE_SIZE } from '../core/apicdef';
import { UnsupportedStep, type HostTraits, type ScenarioBackend, type VcpuObservation } from '../scenario/backend';
import { imageBytes, imageWords } from '../scenario/lapicImage';
import { hex } from '../scenario/numbers';
import { stepResult, type StepResult } from '../scenario/result';
import { regsObject } from '../scenario/result';
import { vcpuIds } from '../scenario/runner';
import { ScenarioInputError, type Step, type VmInput } from '../scenario/schema';
import {
  KVM_CAP_MAX_VCPU_ID, KVM_CAP_MAX_VCPUS, KVM_CAP_X2APIC_API, KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE, type KvmSystem, type KvmVcpu, type KvmVm,
} from './kvmIoctl';
import { GuestError, GuestMachine, type GuestOutcome } from './guest';
import type { GuestAccess } from './guestCode';

/** A halted vCPU with an NMI it can take wakes in KVM_RUN (kvm_vcpu_has_events). */
function nmiWakes(v: KvmVcpu): boolean {
  const e = v.getVcpuEvents();
  return e.nmi.pending > 0 && !e.nmi.masked;
}

export const KVM_CAP_X86_SMM = 117;
export const KVM_CAP_DISABLE_QUIRKS2 = 213;
const QUIRK_LINT0_REENABLED = 1n << 0n;
const QUIRK_LAPIC_MMIO_HOLE = 1n << 2n;

/** Why this backend cannot run `step`, or null when it can. */
export function kvmRefusal(step: Step): string | null {
  switch (step.op) {
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
    default:
      return "nested virtualization: the backend's guest program does not run VMX or SVM, so there is no L2 to enter, leave or exit from";
  }
}

/** A step this backend cannot run (named in the message). */
export class UnsupportedOnKvm extends UnsupportedStep {}

/** Learn what the kernel's KVM is: release, ICR layout, SMM, vCPU limits. */
export function probeHost(sys: KvmSystem): HostTraits {
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

  /** Guest code on `v`: made RUNNABLE for the step if KVM would not run it, then put back. */
  private inGuest(v: KvmVcpu, access: GuestAccess): GuestOutcome {
    const state = v.getMpState(); // processes INIT/SIPI, as KVM_RUN's entry would
    if (state === KVM_MP_STATE_RUNNABLE) return this.guest.perform(v, access);
    v.setMpState(KVM_MP_STATE_RUNNABLE);
    try {
      return this.guest.perform(v, access);
    } finally {
      v.setMpState(state);
    }
  }

  /** The guest physical address of an MMIO step, refused where the guest program cannot reach it. */
  private mmioGpa(step: Step & { op: 'mmio_read' | 'mmio_write' }, v: KvmVcpu, i: number): number {
    const gpa = step.gpa ?? ((v.getMsr(0x1b) ?? 0n) & ~0xfffn) + step.offset!;
    const at = `step ${i} (${step.op}): not supported on real KVM: guest physical address ${hex(gpa)}`;
    if (gpa + 4n > 0x100000000n) throw new UnsupportedOnKvm(`${at} is above 4 GiB, beyond the 32-bit guest program`);
    if (GuestMachine.isRam(gpa)) throw new UnsupportedOnKvm(`${at} is RAM of the backend's guest, so the access would not reach the LAPIC`);
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
    const fail = (error: string) => ({ i, ok: false, error: error as Errno });
    switch (step.op) {
      case 'wrmsr':
      case 'rdmsr': {
        const msr = Number(step.msr);
        const host = step.host ?? false;
        if (msr !== 0x1b && (msr < 0x800 || msr > 0x8ff)) throw new ScenarioInputError(`step ${i} (${step.op}): msr ${hex(msr)} is not modelled (only 0x1b and 0x800-0x8ff)`);
        const v = this.vcpu(step, i);
        if (!host) return this.guestMsr(step, v, i);
        const refused = { i, ok: false, error: 'EINVAL' as const };
        if (step.op === 'wrmsr') return v.setMsr(msr, step.value) ? stepResult(i, step.op) : { ...refused, op: step.op };
        const value = v.getMsr(msr);
        return value === null ? { ...refused, op: step.op } : stepResult(i, step.op, { value: hex(value) });
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
        const out = this.guest.perform(v, { kind: 'nothing' });
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
