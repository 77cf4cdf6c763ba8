/**
 * `--kvm` and `--compare` for the scenario runner: replay a scenario on /dev/kvm, or on both the
 * model and the kernel, and report. Node only.
 */
import { APIC_ICR, APIC_DFR, APIC_ID, APIC_IRR, APIC_ISR, APIC_LDR, APIC_PROCPRI, APIC_SPIV, APIC_TASKPRI, APIC_TMR } from '../core/apicdef';
import { decodeIcrLow, DELIVERY_MODE_NAMES } from '../core/codec';
import { apicMode } from '../core/vcpu';
import type { VmConfig } from '../core/vm';
import type { HostTraits, VcpuObservation } from '../scenario/backend';
import { compareBackends, formatComparison, type Comparison } from '../scenario/compare';
import { ModelBackend } from '../scenario/modelBackend';
import { imageBytes } from '../scenario/lapicImage';
import { hex } from '../scenario/numbers';
import type { ScenarioResult } from '../scenario/result';
import type { Delivery, DeliveryModeName } from '../core/delivery';
import type { Scenario, Step } from '../scenario/schema';
import { KvmBackend, probeHost, type KvmHostTraits } from './kvmBackend';
import { vcpuIds } from '../scenario/runner';
import { openKvm, type KvmSystem } from './kvmIoctl';

function vectors(regs: Uint32Array, base: number): number[] {
  const out: number[] = [];
  for (let vec = 0; vec < 256; vec++) if ((regs[(base + 0x10 * (vec >> 5)) >> 2] >>> (vec & 31)) & 1) out.push(vec);
  return out;
}

/** The final state as far as the kernel's ioctls show it. */
function observedFinal(o: VcpuObservation, mpState: string) {
  const mode = apicMode(o.apicBase);
  const r = (off: number) => o.regs[off >> 2];
  return {
    vcpu: o.vcpu,
    apicBase: hex(o.apicBase),
    mode,
    swEnabled: (r(APIC_SPIV) & 0x100) !== 0,
    ...(mode === 'x2apic' ? {} : { xapicId: r(APIC_ID) >>> 24 }),
    x2apicId: o.vcpu,
    ldr: hex(r(APIC_LDR)),
    dfr: hex(r(APIC_DFR)),
    tpr: hex(r(APIC_TASKPRI)),
    ppr: hex(r(APIC_PROCPRI)),
    irr: vectors(o.regs, APIC_IRR),
    isr: vectors(o.regs, APIC_ISR),
    tmr: vectors(o.regs, APIC_TMR),
    mpState,
    pendingInit: o.latchedInit,
    nmiPending: o.nmiPending,
    smiPending: o.smiPending,
  };
}

/** The delivery mode and vector a step sends, if it sends an interrupt. */
function sentInterrupt(step: Step): { mode: DeliveryModeName; vector: number } | null {
  // MSI data has the delivery mode and vector at the bits of an ICR low half.
  const sent = (low: bigint) => {
    const f = decodeIcrLow(Number(BigInt.asUintN(32, low)));
    return { mode: DELIVERY_MODE_NAMES[f.deliveryMode], vector: f.vector };
  };
  if (step.op === 'msi') return sent(step.data);
  if (step.op === 'wrmsr' && step.msr === 0x830n) return sent(step.value);
  if (step.op === 'wrmsr' && step.msr === 0x83fn) return sent(step.value & 0xffn); // SELF_IPI: Fixed, the vector in bits 7:0
  if (step.op === 'mmio_write' && step.offset === BigInt(APIC_ICR)) return sent(step.value);
  return null;
}

/**
 * The deliveries a step made, as far as the kernel shows them: new IRR bits, more pending NMIs or
 * SMIs, a newly latched INIT. A StartUp, a re-delivered vector already in IRR and a RemoteRead kick
 * change nothing observable and are missed.
 */
function inferDeliveries(sent: { mode: DeliveryModeName; vector: number }, before: VcpuObservation[], after: VcpuObservation[]) {
  const out: Delivery[] = [];
  after.forEach((a, n) => {
    const b = before[n];
    if (!b || b.vcpu !== a.vcpu) return;
    const was = new Set(vectors(b.regs, APIC_IRR));
    for (const v of vectors(a.regs, APIC_IRR)) if (!was.has(v)) out.push({ vcpu: a.vcpu, mode: sent.mode === 'LowestPrio' ? 'LowestPrio' : 'Fixed', vector: v });
    if (a.nmiPending > b.nmiPending) out.push({ vcpu: a.vcpu, mode: 'NMI', vector: sent.vector });
    if (a.smiPending > b.smiPending) out.push({ vcpu: a.vcpu, mode: 'SMI', vector: sent.vector });
    if (a.latchedInit && !b.latchedInit) out.push({ vcpu: a.vcpu, mode: 'INIT', vector: sent.vector });
  });
  return out;
}

/** The model configuration that matches what this kernel is. */
export function hostOverrides(host: HostTraits & { tscKhz?: number }): Partial<VmConfig> {
  // No APICv on the kernels this backend drives (kvm_pvm emulates every guest instruction), so every
  // vCPU keeps KVM's software caches. Where the kernel EOIs at injection, the model's `ack` does too.
  // TSC-deadline values count the kernel's guest TSC, at its rate (KVM_GET_TSC_KHZ).
  return {
    vendor: host.icrSplit ? 'amd' : 'intel', apicv: false, smm: host.smm, eoiOnInjection: host.eoiOnInjection, maxVcpus: host.maxVcpus, maxVcpuIds: host.maxVcpuIds,
    ...(host.tscKhz ? { tscKhz: host.tscKhz } : {}),
  };
}

/** Up to this many vCPUs, each gets its own host thread `CPU <id>/KVM` (a Node worker costs ~20 ms and ~7 MB). */
export const THREADED_VCPUS = 64;
export const threaded = (s: Scenario): boolean => vcpuIds(s.vm.vcpus).length <= THREADED_VCPUS;

async function withKvm<T>(fn: (sys: KvmSystem) => T): Promise<T> {
  const sys = await openKvm();
  try {
    return fn(sys);
  } finally {
    sys.close();
  }
}

/** The kernel as `probeHost` finds it: probe before tracing starts, so the trace has only the scenario's VM. */
export function probeKvm(): Promise<KvmHostTraits> {
  return withKvm(probeHost);
}

/** Each vCPU's KVM_GET_LAPIC image at the end of a run, in creation order. */
export interface FinalImage {
  vcpu: number;
  image: Uint8Array;
}

/** `--kvm`: the scenario on the real kernel, as an apic-result/1 with what the kernel lets us observe. */
export async function runOnKvm(scenario: Scenario): Promise<ScenarioResult> {
  return (await runOnKvmWithImages(scenario)).result;
}

/** `runOnKvm`, plus the final LAPIC images; `host` skips the probe (whose VM would show in a trace). */
export function runOnKvmWithImages(scenario: Scenario, host?: KvmHostTraits): Promise<{ result: ScenarioResult; images: FinalImage[] }> {
  return withKvm((sys) => {
    host ??= probeHost(sys);
    const backend = new KvmBackend(sys, scenario.vm, { threads: threaded(scenario) });
    try {
      const steps = scenario.steps.map((s, i) => {
        const sent = sentInterrupt(s);
        const before = sent ? backend.observe() : [];
        const r = backend.applyStep(s, i);
        if (sent && (r.op === 'wrmsr' || r.op === 'msi' || r.op === 'mmio_write')) {
          r.delivered = inferDeliveries(sent, before, backend.observe());
          r.deliveredInferred = true;
        }
        return r;
      });
      const mp = backend.readMpStates();
      const observed = backend.observe();
      const result = {
        format: 'apic-result/1',
        kernel: host.kernel,
        backend: { ...host, note: 'observed through ioctls; map, inhibits and APICv state are not observable; final mpState read with KVM_GET_MP_STATE, which processes pending INIT/SIPI' },
        steps,
        final: { clockNs: backend.elapsedNs(), vcpus: observed.map((o, n) => observedFinal(o, mp[n].mpState)) }, // clockNs: host time since the VM's time zero
      } as unknown as ScenarioResult;
      return { result, images: observed.map((o) => ({ vcpu: o.vcpu, image: imageBytes(o.regs) })) };
    } finally {
      backend.close();
    }
  });
}

/** `--compare`: the scenario on the model (adapted to this kernel) and on the kernel, step by step. */
export function compareOnKvm(scenario: Scenario): Promise<{ comparison: Comparison; report: string }> {
  return withKvm((sys) => {
    const host = probeHost(sys);
    const overrides = hostOverrides(host);
    const model = new ModelBackend(scenario.vm, overrides);
    const kernel = new KvmBackend(sys, scenario.vm, { threads: threaded(scenario) });
    const comparison = compareBackends(scenario, model, kernel);
    const header = [`kernel ${host.kernel}: model run as vendor ${overrides.vendor}, APICv off, SMM ${host.smm ? 'on' : 'off'}, at most ${host.maxVcpus} vCPUs with ids below ${host.maxVcpuIds}, to match it.`];
    if (host.eoiOnInjection) header.push('this kernel EOIs an interrupt as it injects it (ISR is empty when the guest handler runs): after `ack` the model EOIs too.');
    header.push(
      `the model's TSC runs at the kernel's ${host.tscKhz} kHz (KVM_GET_TSC_KHZ)${scenario.vm.tscKhz !== undefined && scenario.vm.tscKhz !== host.tscKhz ? `, not the scenario's ${scenario.vm.tscKhz} kHz (the kernel cannot change its guest TSC rate)` : ''}; ` +
        "the kernel's timer runs in host time: TMCCT is compared within how far its clock ran ahead of the model's.",
    );
    const release = scenario.vm.kvm ?? 'current';
    if (release !== 'current') header.push(`note: the scenario models KVM ${release}; the kernel is ${host.kernel}, so differences are expected.`);
    return { comparison, report: formatComparison(comparison, header) };
  });
}
