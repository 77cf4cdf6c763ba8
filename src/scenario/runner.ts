/**
 * Replay a scenario through the emulation core: one pure function from a validated scenario to
 * its apic-result/1 document. The CLI, the store, the tests and the tours all call it.
 */
import { LAPIC_STATE_SIZE } from '../core/apicdef';
import type { Vcpu } from '../core/vcpu';
import { getMpState, runVcpu, setMpState } from '../core/mpState';
import { enterGuest, enterSmm, leaveGuest, rsm, setGif, vmxoff, vmxon, type NestedOpResult } from '../core/nested';
import { Vm, type VmConfig } from '../core/vm';
import type { TraceEvent } from '../core/types';
import { hex } from './numbers';
import { finalState, regsObject, type ScenarioResult, type StepResult } from './result';
import { ScenarioInputError, type Scenario, type Step, type VmInput } from './schema';

export interface RunOptions {
  /** Attach each step's trace events (KVM tracepoint names) as `trace`. */
  trace?: boolean;
}

/** The vCPU ids a `vm.vcpus` value names. */
export function vcpuIds(vcpus: VmInput['vcpus']): number[] {
  if (vcpus === undefined) return [0, 1];
  return Array.isArray(vcpus) ? vcpus : Array.from({ length: vcpus }, (_, i) => i);
}

/** Build the VM a scenario describes, with its initial vCPUs; `overrides` adapt it to a host. */
export function createVm(input: VmInput, overrides: Partial<VmConfig> = {}): Vm {
  const config: Partial<VmConfig> = {};
  for (const k of ['vendor', 'apicv', 'ipiv', 'x2avic', 'x2apicCpuid', 'tscDeadline', 'cmci', 'maxPhyAddr', 'bspVcpuId', 'kvm', 'vectorHashing', 'smm'] as const) {
    if (input[k] !== undefined) (config as Record<string, unknown>)[k] = input[k];
  }
  if (input.quirks) config.quirks = { lint0Reenabled: input.quirks.lint0Reenabled ?? true, lapicMmioHole: input.quirks.lapicMmioHole ?? true };
  const vm = new Vm({ ...config, ...overrides });
  for (const id of vcpuIds(input.vcpus)) {
    const refusal = vm.createVcpuRefusal(id);
    if (refusal) throw new ScenarioInputError(`scenario: vm.vcpus: KVM_CREATE_VCPU(${id}) fails with ${refusal.errno}: ${refusal.reason}`);
    vm.createVcpu(id);
  }
  vm.takeTrace();
  return vm;
}

/** Run one step against the VM; returns its result, with `path` and `delivered` when it sent interrupts. */
export function applyStep(vm: Vm, step: Step, i: number): StepResult {
  const r = applyStepOp(vm, step, i);
  const sent = vm.takeDeliveries();
  if (sent.length) {
    r.path = sent.some((d) => d.path === 'slow') ? 'slow' : 'fast';
    r.delivered = sent.flatMap((d) => d.delivered);
    r.why = sent.map((d) => d.reason).join('; ');
    r.examined = sent.reduce((n, d) => n + d.examined, 0);
    const exit = sent.find((d) => d.exit)?.exit;
    if (exit) r.exit = exit;
  }
  return r;
}

function applyStepOp(vm: Vm, step: Step, i: number): StepResult {
  const base: StepResult = { i, op: step.op, ok: true };
  const vcpuOf = (id: number): Vcpu => {
    const v = vm.vcpu(id);
    if (!v) throw new ScenarioInputError(`step ${i} (${step.op}): vcpu ${id} does not exist`);
    return v;
  };
  switch (step.op) {
    case 'wrmsr':
    case 'rdmsr': {
      const msr = Number(step.msr);
      if (!Vm.modelsMsr(msr)) {
        throw new ScenarioInputError(`step ${i} (${step.op}): msr ${hex(msr)} is not modelled (only 0x1b and 0x800-0x8ff)`);
      }
      const v = vcpuOf(step.vcpu);
      const r = step.op === 'wrmsr' ? vm.wrmsr(v, msr, step.value, step.host ?? false) : vm.rdmsr(v, msr, step.host ?? false);
      const out: StepResult = { ...base, ...r };
      if (r.value !== undefined) out.value = hex(r.value);
      return out;
    }
    case 'mmio_read':
    case 'mmio_write': {
      const v = vcpuOf(step.vcpu);
      const gpa = step.gpa ?? BigInt(v.apic.baseAddress) + step.offset!;
      if (step.op === 'mmio_read') {
        const r = vm.mmioRead(v, gpa);
        return 'value' in r ? { ...base, value: hex(r.value) } : { ...base, unclaimed: true };
      }
      return { ...base, ...vm.mmioWrite(v, gpa, Number(step.value)) };
    }
    case 'get_lapic':
    {
      const image = vm.getLapicChecked(vcpuOf(step.vcpu));
      return typeof image === 'string' ? { ...base, ok: false, error: image } : { ...base, regs: regsObject(image) };
    }
    case 'set_lapic': {
      const v = vcpuOf(step.vcpu);
      const image = step.merge ? vm.getLapicChecked(v) : new Uint32Array(LAPIC_STATE_SIZE / 4);
      if (typeof image === 'string') return { ...base, ok: false, error: image, reason: 'merging needs KVM_GET_LAPIC, which failed' };
      for (const [k, val] of Object.entries(step.regs)) image[parseInt(k, 16) >> 2] = Number(val);
      const err = vm.setLapic(v, image);
      return err ? { ...base, ok: false, error: err } : base;
    }
    case 'enable_cap': {
      const err = vm.enableX2apicApi(step.flags);
      return err ? { ...base, ok: false, error: err } : base;
    }
    case 'create_vcpu': {
      const refusal = vm.createVcpuRefusal(step.vcpu);
      if (refusal) return { ...base, ok: false, error: refusal.errno, reason: refusal.reason };
      vm.createVcpu(step.vcpu);
      return base;
    }
    case 'ack': {
      const v = vcpuOf(step.vcpu);
      const vector = v.apic.hasInterrupt();
      if (vector !== -1) v.apic.ackInterrupt(vector);
      return { ...base, vector: vector === -1 ? null : vector };
    }
    case 'msi': {
      const r = vm.signalMsi(Number(step.addressLo), Number(step.addressHi ?? 0n), Number(step.data));
      return 'error' in r ? { ...base, ok: false, error: r.error } : { ...base, count: r.count };
    }
    case 'get_mp_state':
      return { ...base, mpState: getMpState(vcpuOf(step.vcpu)) };
    case 'set_mp_state': {
      const v = vcpuOf(step.vcpu);
      return setMpState(v, step.state) ? { ...base, mpState: v.mpState } : { ...base, ok: false, error: 'EINVAL' };
    }
    case 'run': {
      const v = vcpuOf(step.vcpu);
      const refused = runVcpu(v);
      if (refused) return { ...base, ok: false, error: 'EINVAL', reason: refused };
      const out: StepResult = { ...base, mpState: v.mpState };
      if (v.lastVmexit) out.vmexit = { ...v.lastVmexit };
      return out;
    }
    case 'vmxon':
      return nested(base, vmxon(vcpuOf(step.vcpu)));
    case 'vmxoff':
      return nested(base, vmxoff(vcpuOf(step.vcpu)));
    case 'enter_guest':
      return nested(base, enterGuest(vcpuOf(step.vcpu), step.activity ?? 'active', step.interceptInit ?? true));
    case 'leave_guest':
      return nested(base, leaveGuest(vcpuOf(step.vcpu)));
    case 'enter_smm':
      return nested(base, enterSmm(vcpuOf(step.vcpu)));
    case 'rsm':
      return nested(base, rsm(vcpuOf(step.vcpu)));
    case 'clgi':
    case 'stgi':
      return nested(base, setGif(vcpuOf(step.vcpu), step.op === 'stgi'));
  }
}

function nested(base: StepResult, r: NestedOpResult): StepResult {
  return r.ok ? base : { ...base, ok: false, error: 'EINVAL', reason: r.reason };
}

/** Replay a whole scenario. Throws ScenarioInputError for invalid input found while running. */
export function runScenario(scenario: Scenario, opts: RunOptions = {}): ScenarioResult {
  const vm = createVm(scenario.vm);
  const steps = scenario.steps.map((step, i) => {
    const r = applyStep(vm, step, i);
    const trace: TraceEvent[] = vm.takeTrace();
    if (opts.trace) r.trace = trace;
    return r;
  });
  return { format: 'apic-result/1', steps, final: finalState(vm) };
}

