/**
 * Register offsets, field masks and names of the local APIC page, as spelled in
 * arch/x86/include/asm/apicdef.h and arch/x86/kvm/lapic.h. Pure constants.
 */

export const APIC_ID = 0x20;
export const APIC_LVR = 0x30;
export const APIC_TASKPRI = 0x80;
export const APIC_ARBPRI = 0x90;
export const APIC_PROCPRI = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_RRR = 0xc0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SPIV = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_LVTCMCI = 0x2f0;
/** IA32_TSC_DEADLINE: the TSC-deadline timer's MSR. */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
export const APIC_ICR = 0x300;
export const APIC_ICR2 = 0x310;
export const APIC_LVTT = 0x320;
export const APIC_LVTTHMR = 0x330;
export const APIC_LVTPC = 0x340;
export const APIC_LVT0 = 0x350;
export const APIC_LVT1 = 0x360;
export const APIC_LVTERR = 0x370;
export const APIC_TMICT = 0x380;
export const APIC_TMCCT = 0x390;
export const APIC_TDCR = 0x3e0;
export const APIC_SELF_IPI = 0x3f0;

/** Size of the KVM_GET/SET_LAPIC image (struct kvm_lapic_state) and of the decoded page. */
export const LAPIC_STATE_SIZE = 0x400;
export const LAPIC_MMIO_LENGTH = 0x1000;
export const APIC_BASE_MSR = 0x800;
export const MSR_IA32_APICBASE = 0x1b;

// IA32_APIC_BASE bits
export const MSR_IA32_APICBASE_BSP = 1n << 8n;
export const X2APIC_ENABLE = 1n << 10n;
export const MSR_IA32_APICBASE_ENABLE = 1n << 11n;
/**
 * (0xfffff<<12) is an int in msr-index.h: it sign-extends when ANDed with the u64 APICBASE, so
 * KVM's base_address keeps every address bit (not just 31:12).
 */
export const MSR_IA32_APICBASE_BASE = 0xfffffffffffff000n;
export const APIC_DEFAULT_PHYS_BASE = 0xfee00000;

// Field masks
export const APIC_VERSION = 0x14;
export const APIC_LVR_DIRECTED_EOI = 1 << 24;
export const APIC_SPIV_APIC_ENABLED = 1 << 8;
export const APIC_SPIV_DIRECTED_EOI = 1 << 12;
export const APIC_LDR_MASK = 0xff000000;
export const APIC_DFR_FLAT = 0xffffffff;
export const APIC_DFR_CLUSTER = 0x0fffffff;
export const APIC_LVT_MASKED = 1 << 16;
export const APIC_SEND_PENDING = 1 << 12;
export const APIC_VECTOR_MASK = 0xff;
export const APIC_MODE_MASK = 0x700;
export const APIC_INPUT_POLARITY = 1 << 13;
export const APIC_LVT_REMOTE_IRR = 1 << 14;
export const APIC_LVT_LEVEL_TRIGGER = 1 << 15;
export const APIC_MODE_EXTINT = 0x7;
export const APIC_DM_NMI = 0x400;
export const APIC_LVT_TIMER_ONESHOT = 0;
export const APIC_LVT_TIMER_PERIODIC = 1 << 17;
export const APIC_LVT_TIMER_TSCDEADLINE = 2 << 17;
export const APIC_ICR_BUSY = 1 << 12;
export const APIC_DEST_SELF = 0x40000;
export const APIC_BROADCAST = 0xff;
export const X2APIC_BROADCAST = 0xffffffff;
/** GENMASK(31,20) | GENMASK(17,16) | BIT(13): must-be-zero bits of the x2APIC ICR (v6.12). */
export const X2APIC_ICR_RESERVED_BITS = 0xfff32000;

export const LVT_MASK = APIC_LVT_MASKED | APIC_SEND_PENDING | APIC_VECTOR_MASK;
export const LINT_MASK =
  LVT_MASK | APIC_MODE_MASK | APIC_INPUT_POLARITY | APIC_LVT_REMOTE_IRR | APIC_LVT_LEVEL_TRIGGER;

/** enum lapic_lvt_entry, and the write mask of each (apic_lvt_mask[]). */
export const LVT_TIMER = 0;
export const LVT_CMCI = 6;
export const KVM_APIC_MAX_NR_LVT_ENTRIES = 7;
export const APIC_LVT_WRITE_MASK: readonly number[] = [
  LVT_MASK, // timer: the timer mode mask is added at run time
  LVT_MASK | APIC_MODE_MASK, // thermal
  LVT_MASK | APIC_MODE_MASK, // performance counter
  LINT_MASK, // LINT0
  LINT_MASK, // LINT1
  LVT_MASK, // error
  LVT_MASK | APIC_MODE_MASK, // CMCI
];

/** APIC_LVTx(): the register offset of LVT entry i. */
export function lvtOffset(i: number): number {
  return i === LVT_CMCI ? APIC_LVTCMCI : APIC_LVTT + 0x10 * i;
}

/** get_lvt_index(): the LVT entry behind an offset, or -1. */
export function lvtIndex(offset: number): number {
  if (offset === APIC_LVTCMCI) return LVT_CMCI;
  if (offset < APIC_LVTT || offset > APIC_LVTERR) return -1;
  return (offset - APIC_LVTT) >> 4;
}

/** Names of the 64 slots (offset 0x000..0x3f0), as apicdef.h spells them; null for reserved slots. */
export const SLOT_NAMES: ReadonlyMap<number, string> = new Map([
  [APIC_ID, 'APIC_ID'],
  [APIC_LVR, 'APIC_LVR'],
  [APIC_TASKPRI, 'APIC_TASKPRI'],
  [APIC_ARBPRI, 'APIC_ARBPRI'],
  [APIC_PROCPRI, 'APIC_PROCPRI'],
  [APIC_EOI, 'APIC_EOI'],
  [APIC_RRR, 'APIC_RRR'],
  [APIC_LDR, 'APIC_LDR'],
  [APIC_DFR, 'APIC_DFR'],
  [APIC_SPIV, 'APIC_SPIV'],
  ...Array.from({ length: 8 }, (_, i) => [APIC_ISR + 0x10 * i, `APIC_ISR${i}`] as [number, string]),
  ...Array.from({ length: 8 }, (_, i) => [APIC_TMR + 0x10 * i, `APIC_TMR${i}`] as [number, string]),
  ...Array.from({ length: 8 }, (_, i) => [APIC_IRR + 0x10 * i, `APIC_IRR${i}`] as [number, string]),
  [APIC_ESR, 'APIC_ESR'],
  [APIC_LVTCMCI, 'APIC_LVTCMCI'],
  [APIC_ICR, 'APIC_ICR'],
  [APIC_ICR2, 'APIC_ICR2'],
  [APIC_LVTT, 'APIC_LVTT'],
  [APIC_LVTTHMR, 'APIC_LVTTHMR'],
  [APIC_LVTPC, 'APIC_LVTPC'],
  [APIC_LVT0, 'APIC_LVT0'],
  [APIC_LVT1, 'APIC_LVT1'],
  [APIC_LVTERR, 'APIC_LVTERR'],
  [APIC_TMICT, 'APIC_TMICT'],
  [APIC_TMCCT, 'APIC_TMCCT'],
  [APIC_TDCR, 'APIC_TDCR'],
  [APIC_SELF_IPI, 'APIC_SELF_IPI'],
]);

/** The 64 slot offsets of the KVM_GET_LAPIC image: 0x000, 0x010, ..., 0x3f0. */
export const SLOT_OFFSETS: readonly number[] = Array.from({ length: 64 }, (_, i) => i * 0x10);

/** "0x020"-style key of a slot, as the scenario format names them. */
export function slotKey(offset: number): string {
  return '0x' + offset.toString(16).padStart(3, '0');
}
