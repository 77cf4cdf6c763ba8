/** The emulation core as a ScenarioBackend. */
import { getMpState } from '../core/mpState';
import type { Vm, VmConfig } from '../core/vm';
import type { ScenarioBackend, VcpuObservation } from './backend';
import { applyStep, createVm } from './runner';
import type { StepResult } from './result';
import type { Step, VmInput } from './schema';

export class ModelBackend implements ScenarioBackend {
  readonly name = 'model';
  readonly vm: Vm;

  constructor(input: VmInput, overrides: Partial<VmConfig> = {}) {
    this.vm = createVm(input, overrides);
  }

  applyStep(step: Step, i: number): StepResult {
    const r = applyStep(this.vm, step, i);
    this.vm.takeTrace();
    return r;
  }

  observe(): VcpuObservation[] {
    return this.vm.vcpus.map((v) => ({
      vcpu: v.id,
      apicBase: v.apicBase,
      regs: this.vm.getLapic(v),
      nmiPending: v.nmiPending,
      smiPending: v.smiPending,
      latchedInit: v.apic.pendingInit,
    }));
  }

  readMpStates() {
    return this.vm.vcpus.map((v) => ({ vcpu: v.id, mpState: getMpState(v) }));
  }

  close(): void {}
}
