/**
 * Host time for the kernel backend. The kernel's APIC timer is an hrtimer on the host's monotonic
 * clock, so letting guest time pass on the kernel means waiting, and the guest TSC is the host's
 * (plus KVM's offset: none on kvm_pvm, where it reads as the host's uptime in cycles). Node only.
 *
 * The backend's clock: host nanoseconds since its VM's time zero (the end of KvmBackend's
 * constructor). `advance` waits until that clock reaches the scenario's clock (the sum of the
 * advances), so host time spent on earlier steps counts against the next wait instead of
 * accumulating; the scenario's TSC is the guest TSC minus its value at time zero.
 */
import { APIC_LVTT, APIC_TDCR, APIC_TMCCT, APIC_TMICT } from '../core/apicdef';
import { imageWords } from '../scenario/lapicImage';
import type { KvmVcpu } from './kvmIoctl';
import { MSR_IA32_TSC, MSR_IA32_TSC_DEADLINE } from './ioctlNumbers';

const scratch = new Int32Array(new SharedArrayBuffer(4));

export const hostNowNs = (): bigint => process.hrtime.bigint();

/** Blocks this thread until the host's monotonic clock reaches `deadline` (ns); never returns early. */
export function sleepUntil(deadline: bigint): void {
  for (;;) {
    const left = deadline - process.hrtime.bigint();
    if (left <= 0n) return;
    // Atomics.wait may wake a little late; the last 0.3 ms are spun.
    if (left > 300_000n) Atomics.wait(scratch, 0, 0, Number(left - 200_000n) / 1e6);
  }
}

/** update_divide_count(): TDCR bits 3, 1:0 select 2, 4, ... 128, or 1 (0b1011). */
export function divideCount(tdcr: number): number {
  const t = tdcr & 0xf;
  return 1 << ((((t & 3) | ((t & 8) >> 1)) + 1) & 7);
}

/**
 * How long until the kernel's APIC timer of `v` fires next (ns of host time), from what the
 * kernel reports: TMCCT and the divide (KVM_GET_LAPIC) in one-shot and periodic mode, the
 * deadline (MSR 0x6E0) against the guest TSC (MSR 0x10) in TSC-deadline mode. 'expired' when it
 * is programmed but has fired (a one-shot counted down, a deadline passed); null when it is not
 * programmed (TMICT 0, no deadline).
 */
export function kernelTimerRemainingNs(v: KvmVcpu, tscKhz: number): number | 'expired' | null {
  const w = imageWords(v.getLapic());
  const mode = (w[APIC_LVTT >> 2] >>> 17) & 3;
  if (mode === 2) {
    const deadline = v.getMsr(MSR_IA32_TSC_DEADLINE) ?? 0n;
    if (!deadline) return null;
    const tsc = v.getMsr(MSR_IA32_TSC) ?? 0n;
    return deadline > tsc ? Number(((deadline - tsc) * 1_000_000n + BigInt(tscKhz) - 1n) / BigInt(tscKhz)) : 'expired';
  }
  const tmcct = w[APIC_TMCCT >> 2];
  if (!w[APIC_TMICT >> 2]) return null;
  if (tmcct === 0 && mode !== 1) return 'expired';
  return (tmcct + 1) * divideCount(w[APIC_TDCR >> 2]); // TMCCT is rounded down: round the time up
}
