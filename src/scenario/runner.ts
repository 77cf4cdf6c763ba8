/**
 * Replay a scenario through the emulation core: one pure function from a validated scenario to
 * its apic-result/1 document. The store, the tests and the tours call it; the CLI takes the
 * results one by one (replayScenario), each made text as it comes.
 */
import { APIC_EOI, APIC_LVT0, APIC_LVT1, APIC_LVTCMCI, APIC_LVTPC, LAPIC_STATE_SIZE } from '../core/apicdef';
import type { Vcpu } from '../core/vcpu';
import { getMpState, runVcpu, setMpState } from '../core/mpState';
import { enterGuest, enterSmm, leaveGuest, rsm, setGif, vmxoff, vmxon, type NestedOpResult } from '../core/nested';
import { Vm, type VmConfig } from '../core/vm';
import type { AcceptDecision } from '../core/decisions';
import type { Delivery } from '../core/delivery';
import type { IcrExit } from '../core/ipiVirtualization';
import { traceEvents } from '../core/types';
import { hex } from './numbers';
import { explain } from '../explain/explain';
import { finalState, regsObject, stepResult, type EventFields, type ScenarioResult, type StepResult } from './result';
import { ScenarioInputError, type OpName, type Scenario, type Step, type VmInput } from './schema';

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
  for (const k of ['vendor', 'apicv', 'ipiv', 'x2avic', 'x2avicExt', 'x2apicCpuid', 'tscDeadline', 'tscKhz', 'cmci', 'maxPhyAddr', 'bspVcpuId', 'kvm', 'vectorHashing', 'smm'] as const) {
    if (input[k] !== undefined) (config as Record<string, unknown>)[k] = input[k];
  }
  if (input.quirks) config.quirks = { lint0Reenabled: input.quirks.lint0Reenabled ?? true, lapicMmioHole: input.quirks.lapicMmioHole ?? true };
  const vm = new Vm({ ...config, ...overrides });
  for (const id of vcpuIds(input.vcpus)) {
    const refusal = vm.createVcpu(id);
    if (refusal) throw new ScenarioInputError(`scenario: vm.vcpus: KVM_CREATE_VCPU(${id}) fails with ${refusal.error}: ${explain(refusal)}`);
  }
  vm.takeTrace();
  return vm;
}

/** Run one step against the VM; returns its result, with the route and deliveries when it sent interrupts. */
export function applyStep(vm: Vm, step: Step, i: number): StepResult {
  const r = applyStepOp(vm, step, i);
  const sent = vm.takeDeliveries();
  if (sent.length && (r.op === 'wrmsr' || r.op === 'mmio_write' || r.op === 'msi' || r.op === 'pv_send_ipi')) {
    // One pass over what the step sent (almost always one IPI or MSI), in the order sent.
    let slow = false;
    let examined = 0;
    let exit: IcrExit | undefined;
    const delivered: Delivery[] = [];
    const dropped: AcceptDecision[] = [];
    const why: string[] = [];
    for (const d of sent) {
      slow ||= d.path === 'slow';
      delivered.push(...d.delivered);
      dropped.push(...d.dropped);
      why.push(explain(d.route));
      examined += d.examined;
      exit ??= d.exit;
    }
    r.path = slow ? 'slow' : 'fast';
    r.delivered = delivered;
    if (dropped.length) r.dropped = dropped;
    r.route = sent[0].route;
    r.why = why.join('; ');
    r.examined = examined;
    if (exit) r.exit = exit;
  }
  const events = vm.takeEvents();
  if (events.length && EVENT_OPS.has(r.op)) (r as EventFields).events = events;
  return r;
}

/** The LVT entry behind each local source: kvm_pmu_deliver_pmi() uses LVTPC, kvm_vcpu_x86_set_ucna() LVTCMCI. */
const LOCAL_SOURCE_LVT = { LINT0: APIC_LVT0, LINT1: APIC_LVT1, PERF: APIC_LVTPC, CMCI: APIC_LVTCMCI } as const;

/**
 * The ops whose results carry event decisions: entering the guest (INIT/SIPI, NMI injection, HLT
 * wake-up, timer delivery), reading the MP state, KVM_SET_LAPIC (a restored timer), time passing
 * and local sources.
 */
const EVENT_OPS: ReadonlySet<OpName> = new Set<OpName>(['run', 'get_mp_state', 'ack', 'mmio_read', 'mmio_write', 'wrmsr', 'rdmsr', 'set_lapic', 'advance', 'local_irq', 'nmi_watchdog', 'pv_send_ipi']);

/** The vCPU a step names; that it does not exist is the scenario's error. */
function stepVcpu(vm: Vm, step: Step & { vcpu: number }, i: number): Vcpu {
  const v = vm.vcpu(step.vcpu);
  if (!v) throw new ScenarioInputError(`step ${i} (${step.op}): vcpu ${step.vcpu} does not exist`);
  return v;
}

function applyStepOp(vm: Vm, step: Step, i: number): StepResult {
  switch (step.op) {
    case 'wrmsr':
    case 'rdmsr': {
      const msr = Number(step.msr);
      if (!Vm.modelsMsr(msr)) {
        throw new ScenarioInputError(`step ${i} (${step.op}): msr ${hex(msr)} is not modelled (only 0x1b and 0x800-0x8ff)`);
      }
      const v = stepVcpu(vm, step, i);
      if (step.op === 'wrmsr') return stepResult(i, step.op, {}, vm.wrmsr(v, msr, step.value, step.host ?? false).refusal);
      const r = vm.rdmsr(v, msr, step.host ?? false);
      return stepResult(i, step.op, r.value !== undefined ? { value: hex(r.value) } : {}, r.refusal);
    }
    case 'mmio_read': {
      const v = stepVcpu(vm, step, i);
      const r = vm.mmioRead(v, step.gpa ?? BigInt(v.apic.baseAddress) + step.offset!);
      return stepResult(i, step.op, 'value' in r ? { value: hex(r.value) } : r);
    }
    case 'mmio_write': {
      const v = stepVcpu(vm, step, i);
      return stepResult(i, step.op, vm.mmioWrite(v, step.gpa ?? BigInt(v.apic.baseAddress) + step.offset!, Number(step.value)));
    }
    case 'get_lapic': {
      const image = vm.getLapicChecked(stepVcpu(vm, step, i));
      return image instanceof Uint32Array ? stepResult(i, step.op, { regs: regsObject(image) }) : stepResult(i, step.op, {}, image);
    }
    case 'set_lapic': {
      const v = stepVcpu(vm, step, i);
      const image = step.merge ? vm.getLapicChecked(v) : new Uint32Array(LAPIC_STATE_SIZE / 4);
      if (!(image instanceof Uint32Array)) return stepResult(i, step.op, {}, image);
      for (const [k, val] of Object.entries(step.regs)) image[parseInt(k, 16) >> 2] = Number(val);
      return stepResult(i, step.op, {}, vm.setLapic(v, image));
    }
    case 'enable_cap':
      return stepResult(i, step.op, {}, vm.enableX2apicApi(step.flags));
    case 'create_vcpu':
      return stepResult(i, step.op, {}, vm.createVcpu(step.vcpu));
    case 'ack': {
      const v = stepVcpu(vm, step, i);
      v.enterGuest(); // the CPU takes interrupts only in the guest
      const vector = v.apic.hasInterrupt();
      if (vector !== -1) v.apic.ackInterrupt(vector);
      if (vector !== -1 && vm.config.eoiOnInjection) v.apic.regWrite(APIC_EOI, 0);
      return stepResult(i, step.op, { vector: vector === -1 ? null : vector });
    }
    case 'msi': {
      const r = vm.signalMsi(Number(step.addressLo), Number(step.addressHi ?? 0n), Number(step.data));
      return 'error' in r ? stepResult(i, step.op, {}, r.refusal) : stepResult(i, step.op, { count: r.count });
    }
    case 'get_mp_state':
      return stepResult(i, step.op, { mpState: getMpState(stepVcpu(vm, step, i)) });
    case 'set_mp_state': {
      const v = stepVcpu(vm, step, i);
      const refusal = setMpState(v, step.state);
      return refusal ? stepResult(i, step.op, {}, refusal) : stepResult(i, step.op, { mpState: v.mpState });
    }
    case 'run': {
      const v = stepVcpu(vm, step, i);
      const refusal = runVcpu(v);
      if (refusal) return stepResult(i, step.op, {}, refusal);
      return stepResult(i, step.op, v.lastVmexit ? { mpState: v.mpState, vmexit: { ...v.lastVmexit } } : { mpState: v.mpState });
    }
    case 'vmxon':
      return nested(i, step.op, vmxon(stepVcpu(vm, step, i)));
    case 'vmxoff':
      return nested(i, step.op, vmxoff(stepVcpu(vm, step, i)));
    case 'enter_guest':
      return nested(i, step.op, enterGuest(stepVcpu(vm, step, i), step.activity ?? 'active', step.interceptInit ?? true));
    case 'leave_guest':
      return nested(i, step.op, leaveGuest(stepVcpu(vm, step, i)));
    case 'enter_smm':
      return nested(i, step.op, enterSmm(stepVcpu(vm, step, i)));
    case 'rsm':
      return nested(i, step.op, rsm(stepVcpu(vm, step, i)));
    case 'clgi':
    case 'stgi':
      return nested(i, step.op, setGif(stepVcpu(vm, step, i), step.op === 'stgi'));
    case 'advance': {
      let ns = Number(step.ns ?? 0n);
      if (step.until) {
        const next = vm.nextTimerExpiry();
        if (next === null) throw new ScenarioInputError(`step ${i} (advance): until "next-timer-expiry": no APIC timer is running, so there is no next expiry`);
        ns = next - vm.clockNs;
      }
      vm.advance(ns);
      return stepResult(i, step.op, { nowNs: vm.clockNs });
    }
    case 'local_irq': {
      const v = stepVcpu(vm, step, i);
      if (step.lvt === 'CMCI' && v.apic.nrLvtEntries < 7) throw new ScenarioInputError(`step ${i} (local_irq): lvt CMCI: this VM has no CMCI LVT entry (vm.cmci is off: MCG_CAP without MCG_CMCI_P)`);
      v.apic.localDeliver(LOCAL_SOURCE_LVT[step.lvt]);
      return stepResult(i, step.op);
    }
    case 'nmi_watchdog':
      vm.nmiWatchdogTick();
      return stepResult(i, step.op);
    case 'pv_send_ipi': {
      const { ret, refusal } = vm.pvSendIpi(stepVcpu(vm, step, i), { bitmapLow: step.bitmapLow, bitmapHigh: step.bitmapHigh ?? 0n, min: step.min, icr: step.icr, op64: step.op64 ?? true });
      return stepResult(i, step.op, { ret }, refusal);
    }
  }
}

function nested(i: number, op: 'vmxon' | 'vmxoff' | 'enter_guest' | 'leave_guest' | 'enter_smm' | 'rsm' | 'clgi' | 'stgi', r: NestedOpResult): StepResult {
  return stepResult(i, op, {}, r.ok ? null : r.refusal);
}

/** Replay a whole scenario. Throws ScenarioInputError for invalid input found while running. */
export function runScenario(scenario: Scenario, opts: RunOptions = {}): ScenarioResult {
  const steps: StepResult[] = [];
  const vm = replayScenario(scenario, opts, (r) => steps.push(r));
  return { format: 'apic-result/1', steps, final: finalState(vm) };
}

/**
 * Replay a whole scenario, handing each step's result to `each` as soon as it is made; returns the
 * VM after the last step (its finalState() ends the result). For a caller that need not keep
 * every result: the CLI prints a 100,000-step replay without holding 100,000 results at once.
 */
export function replayScenario(scenario: Scenario, opts: RunOptions, each: (r: StepResult) => void): Vm {
  const vm = createVm(scenario.vm);
  scenario.steps.forEach((step, i) => {
    const r = applyStep(vm, step, i);
    const trace = vm.takeTrace();
    if (opts.trace) r.trace = traceEvents(trace);
    each(r);
  });
  return vm;
}

