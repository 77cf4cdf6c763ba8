/**
 * The register names' tooltips: each slot's bit fields as apicdef.h and the SDM name them. Loaded
 * the first time such a tooltip opens (RegisterPage.tsx): a chunk of its own, since most visits
 * never hover a register's name.
 */
import { APIC_DFR, APIC_ICR, APIC_ICR2, APIC_ID, APIC_LDR, APIC_LVR, APIC_LVT0, APIC_LVT1, APIC_LVTCMCI, APIC_LVTERR, APIC_LVTPC, APIC_LVTT, APIC_LVTTHMR, APIC_SPIV, APIC_TDCR } from '../core/apicdef';

/** The bit fields of each register, for tooltips (SDM and apicdef.h names). */
export const FIELD_DOCS: ReadonlyMap<number, string> = new Map([
  [APIC_ID, 'xAPIC: bits 31:24 APIC ID (KVM lets the guest write it). x2APIC: the 32-bit x2APIC ID = vcpu_id, read-only'],
  [APIC_LVR, 'bits 7:0 version (0x14), 23:16 max LVT entry, 24 directed EOI supported (not with the in-kernel I/O APIC). Read-only'],
  [0x80, 'APIC_TASKPRI: bits 7:4 task priority class, 3:0 subclass; KVM keeps bits 7:0'],
  [0x90, 'APIC_ARBPRI: KVM always reads 0; not an x2APIC register'],
  [0xa0, 'APIC_PROCPRI: max(TPR, class of the highest ISR vector); recomputed by KVM. Read-only'],
  [0xb0, 'APIC_EOI: write-only; a write clears the highest ISR bit (KVM ignores the value)'],
  [APIC_LDR, 'xAPIC: bits 31:24 logical ID. x2APIC: bits 31:16 cluster (ID >> 4), 15:0 one bit (1 << (ID & 0xf)); read-only'],
  [APIC_DFR, 'xAPIC only: bits 31:28 model (0xf flat, 0x0 cluster); KVM forces bits 27:0 to 1'],
  [APIC_SPIV, 'bits 7:0 spurious vector, 8 APIC software enable, 9 focus check disable, 12 EOI-broadcast suppression (only if LVR bit 24)'],
  [0x280, 'APIC_ESR: KVM never records errors, reads 0; x2APIC: writing non-zero #GPs'],
  [APIC_ICR, 'bits 7:0 vector, 10:8 delivery mode, 11 logical, 12 busy (KVM: always 0), 14 assert, 15 level, 19:18 shorthand; x2APIC: one 64-bit MSR with the destination in 63:32'],
  [APIC_ICR2, 'xAPIC: bits 31:24 destination. Not an x2APIC register (#GP)'],
  [APIC_LVTT, 'bits 7:0 vector, 12 delivery status, 16 mask, 18:17 mode (one-shot, periodic, TSC-deadline)'],
  [APIC_LVTTHMR, 'bits 7:0 vector, 10:8 delivery mode, 12 status, 16 mask'],
  [APIC_LVTPC, 'bits 7:0 vector, 10:8 delivery mode, 12 status, 16 mask'],
  [APIC_LVT0, 'bits 7:0 vector, 10:8 delivery mode, 12 status, 13 polarity, 14 remote IRR, 15 level, 16 mask'],
  [APIC_LVT1, 'bits 7:0 vector, 10:8 delivery mode, 12 status, 13 polarity, 14 remote IRR, 15 level, 16 mask'],
  [APIC_LVTERR, 'bits 7:0 vector, 12 status, 16 mask'],
  [APIC_LVTCMCI, 'bits 7:0 vector, 10:8 delivery mode, 12 status, 16 mask; exists only with MCG_CMCI_P (6.0+)'],
  [0x380, 'APIC_TMICT: initial count; writing it (re)starts the timer, 0 stops it (ignored in TSC-deadline mode)'],
  [0x390, 'APIC_TMCCT: current count, as a read returns it: KVM computes it from the time left (apic_get_tmcct); 0 in TSC-deadline mode. Read-only'],
  [APIC_TDCR, 'bits 3, 1:0 divide value (KVM keeps bits 3,1,0)'],
  [0x3f0, 'APIC_SELF_IPI: x2APIC only, write-only; bits 7:0 vector, 31:8 reserved (#GP since 6.3)'],
]);

/** The tooltip of the register at `off` named `name`: its fields, or which vectors an IRR/ISR/TMR word holds. */
export function FieldDoc({ off, name }: { off: number; name: string; onClose?: () => void }) {
  const doc = FIELD_DOCS.get(off);
  if (doc !== undefined) return <>{doc}</>;
  if (off < 0x100 || off >= 0x280) return null;
  const first = (((off - 0x100) % 0x80) >> 4) * 32;
  return <>{`${name}: vectors ${first}-${first + 31} (bit n = vector ${first} + n)`}</>;
}
