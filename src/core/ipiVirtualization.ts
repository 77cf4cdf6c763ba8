/**
 * Would the CPU have handled this ICR write itself? Words for the trace, not a model of the
 * hardware: with Intel IPI virtualization (IPIv, v5.19) or AMD AVIC the CPU delivers some IPIs
 * without KVM and exits to KVM for the rest; KVM then runs the same kvm_apic_send_ipi() that the
 * model runs, so receivers end up in the same state either way.
 *
 * Sources: vmx.c (IPIv, PID-pointer table sized by max_vcpu_ids, handle_apic_write ->
 * kvm_apic_write_nodecode), svm/avic.c (avic_incomplete_ipi_interception: TARGET_NOT_RUNNING,
 * INVALID_INT_TYPE, INVALID_TARGET), the SDM chapter on IPI virtualization.
 *
 * Inaccuracies: running vCPUs are not modelled, so an AVIC doorbell to a running target is never
 * the outcome; hardware reserved-bit checks are not modelled.
 */
import type { Lapic } from './lapic';
import type { Vm } from './vm';

/** How the ICR write `icrLow` from `src` reaches KVM, in words. */
export function icrWriteHandling(vm: Vm, src: Lapic, icrLow: number, destId: number): string {
  const cfg = vm.config;
  const fixedPhysicalUnicast = ((icrLow >>> 8) & 7) === 0 && !(icrLow & 0x800) && ((icrLow >>> 18) & 3) === 0;
  const x2 = src.x2apicMode;
  if (!vm.apicvActive) {
    return x2
      ? 'WRMSR VM exit; KVM handles the x2APIC ICR write (fastpath when the optimized map can deliver)'
      : 'APIC MMIO write exits to KVM, which emulates the store (apic_mmio_write)';
  }
  if (cfg.vendor === 'intel') {
    if (!cfg.ipiv) {
      return x2
        ? 'WRMSR VM exit (APICv intercepts x2APIC ICR writes without IPIv)'
        : 'APIC-write VM exit (trap-like) -> kvm_apic_write_nodecode() re-runs the write in KVM';
    }
    if (fixedPhysicalUnicast && destId < cfg.maxVcpuIds) {
      return `IPIv: the CPU posts vector ${icrLow & 0xff} in the PID of APIC ID ${destId} and notifies it, without a VM exit`;
    }
    return 'not an IPIv case (only Fixed, physical, no shorthand, destination in the PID table): APIC-write VM exit -> kvm_apic_write_nodecode()';
  }
  if (x2 && !cfg.x2avic) return 'hybrid AVIC: x2APIC MSRs are intercepted, WRMSR VM exit; KVM delivers (AVIC doorbells for running targets)';
  if (((icrLow >>> 8) & 7) !== 0) return 'AVIC: not a Fixed IPI -> incomplete-IPI VM exit (INVALID_INT_TYPE) -> kvm_apic_write_nodecode()';
  return 'AVIC: the CPU sets IRR in the targets\' backing pages; targets not running -> incomplete-IPI VM exit (TARGET_NOT_RUNNING), KVM kicks them';
}
