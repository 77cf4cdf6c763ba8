/**
 * The PV IPI hypercall (KVM_HC_SEND_IPI, KVM_FEATURE_PV_SEND_IPI): a Linux guest on KVM sends IPIs
 * with one VMCALL per 128 APIC IDs (64 in a 32-bit guest) instead of one ICR write per target:
 * a0/a1 are bitmaps, a2 the APIC ID of a0's bit 0, a3 the ICR's low half.
 *
 * Models x86.c ____kvm_emulate_hypercall (the kvm_hypercall trace with the registers as read,
 * their truncation to 32 bits for a guest not in 64-bit mode, the KVM_HC_SEND_IPI case) and
 * lapic.c kvm_pv_send_ipi (the ICR check and fields); delivery.ts deliverPvBitmaps models
 * __pv_send_ipi's walk of phys_map. Unchanged in what a guest sees from 5.10 to now (a 2025 fix
 * only added array_index_nospec).
 *
 * Inaccuracies: the guest is taken to run at CPL 0 (else -KVM_EPERM) and the hypercall to be
 * allowed (with KVM_CAP_ENFORCE_PV_FEATURE_CPUID and no KVM_FEATURE_PV_SEND_IPI in CPUID it
 * returns -KVM_ENOSYS); Xen and Hyper-V hypercall pages are not modelled.
 */
import { decodeIcrLow } from './codec';
import type { RefusalDecision } from './decisions';
import { deliverPvBitmaps, type DeliveryOutcome } from './delivery';
import { LazyTraceEvent } from './types';
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

/** KVM_HC_SEND_IPI (include/uapi/linux/kvm_para.h). */
export const KVM_HC_SEND_IPI = 10;
/** The hypercall's error returns (kvm_para.h: KVM_EINVAL, and -EOPNOTSUPP from kvm_pv_send_ipi). */
export const KVM_EINVAL = 22, EOPNOTSUPP = 95;

/** The registers of one KVM_HC_SEND_IPI: RBX, RCX, RDX, RSI. */
export interface PvIpiArgs {
  bitmapLow: bigint;
  bitmapHigh: bigint;
  min: bigint;
  icr: bigint;
  /** The guest is in 64-bit mode (is_64_bit_hypercall): else every argument is cut to 32 bits, and each bitmap covers 32 IDs. */
  op64: boolean;
}

/** What the hypercall returned in RAX (as a signed number: the count, or a negative error), and what it delivered. */
export interface PvIpiResult {
  ret: number;
  outcome: DeliveryOutcome | null;
  refusal: RefusalDecision | null;
}

/** kvm_pv_send_ipi(): "if (icr & (APIC_DEST_MASK | APIC_SHORT_MASK)) return -KVM_EINVAL": a logical destination or a shorthand. */
export function pvIcrRefused(icrLow: number): boolean {
  const f = decodeIcrLow(icrLow);
  return f.logical || f.shorthand !== 0;
}

const U32 = 0xffffffffn;
const hex = (v: bigint) => '0x' + v.toString(16);

/** KVM_HC_SEND_IPI from `v`, as kvm_emulate_hypercall() handles the VMCALL (VMMCALL on AMD). */
export function pvSendIpi(vm: Vm, v: Vcpu, a: PvIpiArgs): PvIpiResult {
  // trace_kvm_hypercall(nr, a0, a1, a2, a3) prints the registers before the 32-bit cut.
  vm.trace(new LazyTraceEvent('kvm_hypercall', v.id, () => `nr 0x${KVM_HC_SEND_IPI.toString(16)} a0 ${hex(a.bitmapLow)} a1 ${hex(a.bitmapHigh)} a2 ${hex(a.min)} a3 ${hex(a.icr)}`));
  const cut = (x: bigint) => (a.op64 ? x : x & U32);
  const icrLow = Number(cut(a.icr) & U32);
  if (pvIcrRefused(icrLow)) {
    const refusal: RefusalDecision = { kind: 'refusal', code: 'PV_IPI_NOT_PHYSICAL', kvm: 'kvm_pv_send_ipi', vcpus: [v.id], value: hex(BigInt(icrLow)), ret: -KVM_EINVAL };
    return { ret: -KVM_EINVAL, outcome: null, refusal };
  }
  const min = Number(a.min & U32); // u32 min
  const irq = { ...decodeIcrLow(icrLow), destId: min, msiRedirHint: false };
  const noMap = vm.apicMap === null;
  const outcome = deliverPvBitmaps(vm, v.apic, irq, [cut(a.bitmapLow), cut(a.bitmapHigh)], min, a.op64 ? 64 : 32);
  if (noMap) {
    const refusal: RefusalDecision = { kind: 'refusal', code: 'PV_IPI_NO_MAP', kvm: 'kvm_pv_send_ipi', vcpus: [v.id], ret: -EOPNOTSUPP };
    return { ret: -EOPNOTSUPP, outcome, refusal };
  }
  return { ret: outcome.count, outcome, refusal: null };
}
