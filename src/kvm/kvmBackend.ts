/**
 * The real kernel as a ScenarioBackend: a scenario replayed through /dev/kvm ioctls on a VM with
 * an in-kernel irqchip. Node only.
 *
 * Supported: host-initiated MSR access (KVM_GET/SET_MSRS) to APICBASE and the x2APIC range; guest
 * RDMSR of APICBASE and guest x2APIC MSR accesses (the kernel runs the same handler for both, a
 * refusal becomes #GP); KVM_GET/SET_LAPIC, KVM_ENABLE_CAP(X2APIC_API), KVM_CREATE_VCPU,
 * KVM_SIGNAL_MSI, KVM_GET/SET_MP_STATE. Everything that needs guest code to run (MMIO, a guest
 * APICBASE write, ack, run, nested and SMM ops) is refused with the step named.
 */
import { MP_STATES, type Errno, type MpState } from '../core/types';
import { LAPIC_STATE_SIZE } from '../core/apicdef';
import type { HostTraits, ScenarioBackend, VcpuObservation } from '../scenario/backend';
import { imageBytes, imageWords } from '../scenario/lapicImage';
import { hex } from '../scenario/numbers';
import { stepResult, type StepResult } from '../scenario/result';
import { regsObject } from '../scenario/result';
import { vcpuIds } from '../scenario/runner';
import { ScenarioInputError, type Step, type VmInput } from '../scenario/schema';
import {
  KVM_CAP_MAX_VCPU_ID, KVM_CAP_MAX_VCPUS, KVM_CAP_X2APIC_API, type KvmSystem, type KvmVcpu, type KvmVm,
} from './kvmIoctl';

export const KVM_CAP_X86_SMM = 117;
export const KVM_CAP_DISABLE_QUIRKS2 = 213;
const QUIRK_LINT0_REENABLED = 1n << 0n;
const QUIRK_LAPIC_MMIO_HOLE = 1n << 2n;

/** Why this backend cannot run `step`, or null when it can. */
export function kvmRefusal(step: Step): string | null {
  switch (step.op) {
    case 'wrmsr':
      return step.msr === 0x1bn && !step.host ? 'a guest WRMSR to IA32_APIC_BASE needs guest code (its transition rules differ from KVM_SET_MSRS)' : null;
    case 'rdmsr':
    case 'get_lapic':
    case 'set_lapic':
    case 'enable_cap':
    case 'create_vcpu':
    case 'msi':
    case 'get_mp_state':
    case 'set_mp_state':
      return null;
    case 'mmio_read':
    case 'mmio_write':
      return 'MMIO is a guest access and needs guest code';
    case 'ack':
      return 'acknowledging an interrupt needs the guest to run';
    default:
      return 'it needs KVM_RUN with guest code, which this backend cannot run';
  }
}

/** A step this backend cannot run: it needs guest code, which the kernel here cannot execute. */
export class UnsupportedOnKvm extends ScenarioInputError {}

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
    return {
      kernel: sys.kernelRelease,
      icrSplit: high === 0,
      smm: sys.checkExtension(KVM_CAP_X86_SMM) > 0,
      maxVcpus: sys.checkExtension(KVM_CAP_MAX_VCPUS),
      maxVcpuIds: sys.checkExtension(KVM_CAP_MAX_VCPU_ID),
    };
  } finally {
    vm.close();
  }
}

export class KvmBackend implements ScenarioBackend {
  readonly name = 'kvm';
  private readonly vm: KvmVm;
  private readonly vcpus: KvmVcpu[] = [];
  private readonly cpuid: { x2apic: boolean; maxPhyAddr: number; tscDeadline: boolean };

  constructor(sys: KvmSystem, input: VmInput) {
    this.cpuid = { x2apic: input.x2apicCpuid ?? true, maxPhyAddr: input.maxPhyAddr ?? 46, tscDeadline: input.tscDeadline ?? true };
    this.vm = sys.createVm();
    this.vm.createIrqchip();
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
    const v = this.vm.createVcpu(id);
    if (typeof v === 'string') return v;
    const err = v.setCpuid(this.cpuid);
    if (err) throw new Error(`KVM_SET_CPUID2 on vCPU ${id} failed: ${err}`);
    this.vcpus.push(v);
    return null;
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
        const refused = host ? { i, ok: false, error: 'EINVAL' as const } : { i, ok: false, fault: '#GP' as const };
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
