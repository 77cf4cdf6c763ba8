/**
 * How an ICR write reaches KVM, or whether the CPU handled it itself: words and a short code for
 * the trace and the step result, not a model of the hardware. With Intel IPI virtualization
 * (IPIv, v5.19) or AMD AVIC the CPU delivers some IPIs without KVM and exits to KVM for the rest;
 * KVM then runs the same kvm_apic_send_ipi() that the model runs, so receivers end up in the same
 * state either way. Without them an x2APIC ICR write is a WRMSR exit, which KVM may complete in
 * its fastpath (handle_fastpath_set_msr_irqoff -> kvm_x2apic_icr_write_fast) when the optimized
 * map can deliver the IPI.
 *
 * Sources: vmx.c (IPIv, PID-pointer table sized by max_vcpu_ids, handle_apic_write ->
 * kvm_apic_write_nodecode), svm/avic.c (avic_incomplete_ipi_interception), x86.c
 * handle_fastpath_set_msr_irqoff, the SDM chapter on IPI virtualization.
 *
 * Inaccuracies: running vCPUs are not modelled, so an AVIC doorbell to a running target is never
 * the outcome (the one running vCPU known is the sender: a Fixed IPI to the self shorthand, which
 * the CPU writes into the sender's own vIRR without reading the physical ID table, exits nowhere,
 * nor does one sent to the sender's own physical ID, as with AMD's enable_ipiv on, the default;
 * a logical one that reaches only the sender is still reported as an exit; the enable_ipiv=0 of
 * 6.17+, forced on Zen 1/2 and Hygon, is not modelled); an AVIC IPI to an empty
 * table entry is reported as TARGET_NOT_RUNNING, not INVALID_TARGET (KVM delivers both alike);
 * hardware reserved-bit checks (the busy bit, for IPIv) are not modelled; accesses the CPU serves from the
 * virtual-APIC page through the APIC-access page (for example a load at 0xfee00000 after the
 * base was moved, before 5.19, or hybrid AVIC's MMIO in x2APIC mode before 6.3) are not modelled:
 * the model answers them as KVM's software LAPIC would.
 */
import { SHORT_SELF } from './codec';
import type { DeliveryOutcome, LapicIrq } from './delivery';
import type { Lapic } from './lapic';
import type { Vm } from './vm';

export type IcrExit = 'ipiv' | 'avic' | 'apic-write' | 'wrmsr-fastpath' | 'wrmsr' | 'mmio' | 'avic-incomplete-ipi';

/** The exit and, formatted on demand, the words for it. */
export interface IcrHandling {
  exit: IcrExit;
  note: () => string;
}

/** The two WRMSR exits of an x2APIC ICR write that exits for `why`. */
function wrmsrExits(why: string): { fastpath: IcrHandling; full: IcrHandling } {
  return {
    fastpath: { exit: 'wrmsr-fastpath', note: () => `${why}: WRMSR VM exit completed in KVM's fastpath (handle_fastpath_set_msr_irqoff)` },
    full: { exit: 'wrmsr', note: () => `${why}: WRMSR VM exit, full handling (kvm_x2apic_icr_write)` },
  };
}
// Made once per reason: an IPI-heavy loop asks for one on every ICR write.
const NO_APICV = wrmsrExits('no APIC virtualization');
const APICV_INTERCEPTS = wrmsrExits('APICv intercepts x2APIC ICR writes');
const HYBRID_AVIC = wrmsrExits('hybrid AVIC intercepts x2APIC MSRs (doorbells still deliver)');
// The others that do not depend on the IPI, also made once (a closure made per IPI keeps the IPI
// alive in every step of a long log).
const constant = (exit: IcrExit, text: string): IcrHandling => ({ exit, note: () => text });
const MMIO_NO_APICV = constant('mmio', 'APIC MMIO write exits to KVM, which emulates the store (apic_mmio_write)');
const APIC_WRITE_NO_IPIV = constant('apic-write', 'APICv without IPIv: APIC-write VM exit (trap-like) -> kvm_apic_write_nodecode() re-runs the write');
const APIC_WRITE_NOT_IPIV_CASE = constant('apic-write', 'not an IPIv case (only Fixed, edge-triggered, physical, no shorthand, vector 16 or above, destination in the PID table): APIC-write VM exit (trap-like) -> kvm_apic_write_nodecode() re-runs the write');
const MMIO_NO_ACCESS_PAGE = constant('mmio', 'the APIC-access page is gone (hybrid AVIC): the xAPIC store faults and KVM emulates it (apic_mmio_write)');
const AVIC_NOT_FIXED = constant('avic-incomplete-ipi', 'AVIC: not a Fixed edge-triggered IPI -> incomplete-IPI VM exit (INVALID_INT_TYPE) -> kvm_apic_write_nodecode()');
const AVIC_SELF = constant('avic', "AVIC: a Fixed self-IPI: the CPU sets the vector in the sender's own backing page (the sender is running), without a VM exit");
const AVIC_SENDER_ONLY = constant('avic', "AVIC: the destination is the sender itself, which is running (IsRunning in its physical ID table entry): the CPU sets the vector in its own backing page, without a VM exit (with enable_ipiv off, 6.17+, and on Zen 1/2 KVM never sets IsRunning, and this exits)");
const AVIC_NOT_RUNNING = constant('avic-incomplete-ipi', "AVIC: the CPU sets IRR in the targets' backing pages; targets not running -> incomplete-IPI VM exit (TARGET_NOT_RUNNING), KVM kicks them");

/** The WRMSR exit for an x2APIC ICR write: the fastpath when the map delivers it (and, before 6.18, only simple IPIs). */
function wrmsrExit(vm: Vm, irq: LapicIrq, path: 'fast' | 'slow', exits: { fastpath: IcrHandling; full: IcrHandling }): IcrHandling {
  const simple = irq.deliveryMode === 0 && !irq.logical && irq.shorthand === 0 && irq.destId !== 0xffffffff;
  // 6.18+: any ICR the optimized map delivers; before: only simple ones, which the fastpath then
  // completed through kvm_x2apic_icr_write() whatever path delivery took.
  const fastpath = vm.profile.has.x2apicIcrFastpathAny ? path === 'fast' : simple;
  return fastpath ? exits.fastpath : exits.full;
}

/** How the ICR write `icrLow` from `src`, delivered through `path`, reaches KVM. */
export function icrWriteHandling(vm: Vm, src: Lapic, icrLow: number, irq: LapicIrq, out: Pick<DeliveryOutcome, 'path' | 'targets'>): IcrHandling {
  const x2 = src.x2apicMode;
  const path = out.path;
  if (!src.vcpu.apicvActive) return x2 ? wrmsrExit(vm, irq, path, NO_APICV) : MMIO_NO_APICV;
  if (vm.config.vendor === 'intel') return apicvHandling(vm, x2, icrLow, irq, path);
  const onlySender = !irq.logical && out.targets.length === 1 && out.targets[0] === src.vcpu;
  return avicHandling(vm, x2, irq, path, onlySender);
}

/** Intel APICv, with or without IPI virtualization. */
function apicvHandling(vm: Vm, x2: boolean, icrLow: number, irq: LapicIrq, path: 'fast' | 'slow'): IcrHandling {
  const cfg = vm.config;
  // SDM "IPI virtualization": Fixed, edge-triggered, physical, no shorthand; a vector below 16 is illegal and exits.
  const fixedPhysicalUnicast = irq.deliveryMode === 0 && !irq.trigLevel && !irq.logical && irq.shorthand === 0 && irq.vector >= 16;
  const ipiv = cfg.ipiv && vm.profile.has.ipiv;
  if (ipiv && fixedPhysicalUnicast && irq.destId < cfg.maxVcpuIds) return ipivPosted(icrLow, irq.destId);
  if (x2 && !ipiv) return wrmsrExit(vm, irq, path, APICV_INTERCEPTS);
  return ipiv ? APIC_WRITE_NOT_IPIV_CASE : APIC_WRITE_NO_IPIV;
}

/** IPIv delivered it: no exit. */
function ipivPosted(icrLow: number, destId: number): IcrHandling {
  return { exit: 'ipiv', note: () => `IPIv: the CPU posts vector ${icrLow & 0xff} in the PID of APIC ID ${destId} and notifies it, without a VM exit` };
}

/** AMD AVIC (x2AVIC or hybrid). */
function avicHandling(vm: Vm, x2: boolean, irq: LapicIrq, path: 'fast' | 'slow', onlySender: boolean): IcrHandling {
  if (x2 && !vm.config.x2avic) return wrmsrExit(vm, irq, path, HYBRID_AVIC);
  if (!x2 && vm.apicAccessPage === 'deleted') return MMIO_NO_ACCESS_PAGE;
  // avic_incomplete_ipi_interception(): the CPU generates only Fixed, edge-triggered IPIs.
  if (irq.deliveryMode !== 0 || irq.trigLevel) return AVIC_NOT_FIXED;
  if (irq.shorthand === SHORT_SELF) return AVIC_SELF;
  // The sender is running: __avic_vcpu_load() set IsRunning in its own physical ID entry.
  return onlySender ? AVIC_SENDER_ONLY : AVIC_NOT_RUNNING;
}
