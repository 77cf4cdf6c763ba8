/**
 * Words for register values: the fields of a slot of the LAPIC page, as apicdef.h and the SDM
 * name them. Pure functions, used by the register page.
 */
import {
  APIC_DFR, APIC_ICR, APIC_ICR2, APIC_ID, APIC_LDR, APIC_LVR, APIC_LVT0, APIC_LVT1, APIC_LVTCMCI, APIC_LVTERR,
  APIC_LVTPC, APIC_LVTT, APIC_LVTTHMR, APIC_SPIV, APIC_TDCR,
} from '../core/apicdef';
import { decodeIcrLow, DELIVERY_MODE_NAMES, deliveryModeOf, icrDestId, SHORTHAND_NAMES } from '../core/codec';

const TIMER_MODES = ['one-shot', 'periodic', 'TSC-deadline', 'reserved'];
const LVTS = new Set([APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_LVTCMCI]);

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/** A short decoding of `value` in slot `offset`, or '' when there is nothing to say. */
export function decodeSlot(offset: number, value: number, x2apic: boolean): string {
  if (offset === APIC_ID) return x2apic ? `x2APIC ID ${value >>> 0}` : `xAPIC ID ${value >>> 24}`;
  if (offset === APIC_LVR) return `version ${hex(value & 0xff)}, max LVT ${(value >>> 16) & 0xff}${value & (1 << 24) ? ', directed EOI' : ''}`;
  if (offset === APIC_LDR) {
    return x2apic ? `cluster ${value >>> 16}, mask ${hex(value & 0xffff)}` : `logical ID ${hex(value >>> 24)}`;
  }
  if (offset === APIC_DFR) return (value >>> 28) === 0xf ? 'flat model' : (value >>> 28) === 0 ? 'cluster model' : `model ${hex(value >>> 28)}`;
  if (offset === APIC_SPIV) return `vector ${hex(value & 0xff)}, ${value & 0x100 ? 'software-enabled' : 'software-disabled'}${value & 0x200 ? ', no focus check' : ''}`;
  if (offset === APIC_TDCR) {
    const shift = (((value & 3) | ((value & 8) >> 1)) + 1) & 7;
    return `divide by ${1 << shift}`;
  }
  if (offset === APIC_ICR) {
    const f = decodeIcrLow(value);
    return `vector ${hex(f.vector)}, ${DELIVERY_MODE_NAMES[f.deliveryMode]}, ${f.logical ? 'logical' : 'physical'}, shorthand ${SHORTHAND_NAMES[f.shorthand]}`;
  }
  if (offset === APIC_ICR2) return x2apic ? `ICR bits 63:32 = ${hex(value)}` : `destination ${hex(icrDestId(value, false))}`;
  if (LVTS.has(offset)) {
    const parts = [`vector ${hex(value & 0xff)}`];
    if (offset === APIC_LVTT) parts.push(TIMER_MODES[(value >> 17) & 3]);
    else if (offset !== APIC_LVTERR) parts.push(DELIVERY_MODE_NAMES[deliveryModeOf(value)]);
    parts.push(value & 0x10000 ? 'masked' : 'unmasked');
    return parts.join(', ');
  }
  return '';
}

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
