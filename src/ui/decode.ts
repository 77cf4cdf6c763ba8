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

