/**
 * A place to replay scenarios: the emulation core (modelBackend.ts) or the real kernel
 * (src/kvm/kvmBackend.ts). Both answer the same steps and expose the same observation: what the
 * kernel's ioctls let userspace see of each vCPU, so that the two can be compared step by step.
 */
import type { StepResult } from './result';
import { ScenarioInputError, type Step } from './schema';

/** A step a backend cannot run at all (the message names the step and why). */
export class UnsupportedStep extends ScenarioInputError {}

/** What KVM_GET_MSRS(APICBASE), KVM_GET_LAPIC and KVM_GET_VCPU_EVENTS show of one vCPU. */
export interface VcpuObservation {
  vcpu: number;
  apicBase: bigint;
  /** The KVM_GET_LAPIC image as 256 little-endian 32-bit words (offset = index * 4). */
  regs: Uint32Array;
  nmiPending: number;
  smiPending: number;
  /** KVM_GET_VCPU_EVENTS smi.latched_init: an INIT is pending. */
  latchedInit: boolean;
}

export interface ScenarioBackend {
  readonly name: 'model' | 'kvm';
  applyStep(step: Step, i: number): StepResult;
  /** Side-effect-free observation of every vCPU, in creation order. */
  observe(): VcpuObservation[];
  /** KVM_GET_MP_STATE of every vCPU (which processes pending INIT/SIPI first). */
  readMpStates(): { vcpu: number; mpState: string }[];
  /**
   * What the host did at a time no model can know, since the last call, in words: the kernel
   * backend's guest taking an event in the middle of a step (an NMI it sent itself, let in early
   * because the host preempted the vCPU thread). The comparison reports them beside its differences.
   */
  takeHostEvents?(): string[];
  close(): void;
}

/** Properties of the kernel a model must share to be compared with it. */
export interface HostTraits {
  kernel: string;
  /** x2apic_icr_is_split: the vendor module keeps the x2APIC ICR halves apart (AMD). */
  icrSplit: boolean;
  /** KVM_CAP_X86_SMM. */
  smm: boolean;
  /** The kernel EOIs an interrupt as it injects it (ISR is empty when the guest's handler runs). */
  eoiOnInjection: boolean;
  maxVcpus: number;
  maxVcpuIds: number;
}
