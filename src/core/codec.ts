/**
 * The one codec of the interrupt bit layouts: the ICR (xAPIC ICR + ICR2, the x2APIC 64-bit ICR),
 * the MSI address and data, the delivery modes and the shorthands. Encode and decode, pure, no
 * DOM. The core, the ICR composer, the register page, the trace importer and the KVM backend all
 * go through it (src/core/codec.test.ts checks that none of them decodes these bits itself).
 *
 * Models apicdef.h (APIC_VECTOR_MASK, APIC_MODE_MASK, APIC_DEST_LOGICAL, APIC_ICR_BUSY,
 * APIC_INT_ASSERT, APIC_INT_LEVELTRIG, APIC_SHORT_MASK, GET_XAPIC_DEST_FIELD), lapic.c
 * kvm_icr_to_lapic_irq / kvm_apic_send_ipi, irq.c kvm_set_msi_irq with x86_msi_msg_get_destid, and
 * the names of trace.h's kvm_deliver_mode and kvm_apic_dst_shorthand.
 *
 * Inaccuracies: MSI address bits 31:20 are written as 0xfee but never checked (KVM does not check
 * them either); the 15-bit extended destination of address_lo bits 11:5 is neither encoded nor
 * decoded (KVM's kvm_set_msi_irq ignores it too).
 *
 *   register            field         bits              meaning
 *   ICR low half        vector        7:0
 *                       deliveryMode  10:8              DELIVERY_MODE_NAMES (APIC_MODE_MASK)
 *                       logical       11                destination mode: 1 logical, 0 physical
 *                       busy          12                delivery status; KVM always clears it
 *                       level         14                1 assert, 0 de-assert (APIC_INT_ASSERT)
 *                       trigLevel     15                trigger: 1 level, 0 edge (APIC_INT_LEVELTRIG)
 *                       shorthand     19:18             SHORTHAND_NAMES: none, self, all incl., all excl.
 *                       reserved      31:20, 17:16, 13  x2APIC: #GP since 6.12 (X2APIC_ICR_RESERVED_BITS)
 *   xAPIC ICR2          destId        31:24             8-bit destination; KVM keeps only these bits
 *   x2APIC ICR (0x830)  destId        63:32             32-bit destination; bits 31:0 = the low half
 *   MSI address_lo      (0xfee)       31:20             the MSI window
 *                       destId        19:12             destination bits 7:0
 *                       msiRedirHint  3                 redirection hint: lowest priority
 *                       logical       2                 destination mode
 *   MSI address_hi      destId        31:8              destination bits 31:8, only with
 *                                                       KVM_X2APIC_API_USE_32BIT_IDS (bits 7:0 must be 0)
 *   MSI data            vector        7:0               same bits as the ICR low half
 *                       deliveryMode  10:8
 *                       level         14                written, but KVM always asserts an MSI
 *                       trigLevel     15
 */
import { APIC_ICR_BUSY, APIC_MODE_MASK, APIC_VECTOR_MASK, X2APIC_ICR_RESERVED_BITS } from './apicdef';

export { APIC_ICR_BUSY, X2APIC_ICR_RESERVED_BITS };

/** Delivery modes by value (bits 10:8), as the lab's results name them. */
export const DELIVERY_MODE_NAMES = ['Fixed', 'LowestPrio', 'SMI', 'RemoteRead', 'NMI', 'INIT', 'StartUp', 'ExtINT'] as const;
export type DeliveryModeName = (typeof DELIVERY_MODE_NAMES)[number];
/** trace.h kvm_deliver_mode: the same modes as KVM's trace prints them. */
export const KVM_DELIVERY_MODE_NAMES = ['Fixed', 'LowPrio', 'SMI', 'Res3', 'NMI', 'INIT', 'SIPI', 'ExtINT'] as const;
export const DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_REMRD = 3, DM_NMI = 4, DM_INIT = 5, DM_STARTUP = 6, DM_EXTINT = 7;

/** Destination shorthands by value (bits 19:18), in words. */
export const SHORTHAND_NAMES = ['none', 'self', 'all incl. self', 'all excl. self'] as const;
/** trace.h kvm_apic_dst_shorthand. */
export const KVM_SHORTHAND_NAMES = ['dst', 'self', 'all', 'all-but-self'] as const;
export const SHORT_NONE = 0, SHORT_SELF = 1, SHORT_ALLINC = 2, SHORT_ALLBUT = 3;

const MODE_SHIFT = 8;
const DEST_LOGICAL = 1 << 11;
const INT_ASSERT = 1 << 14;
const INT_LEVELTRIG = 1 << 15;
const SHORT_SHIFT = 18;
const XAPIC_DEST_SHIFT = 24;
const MSI_ADDR_BASE = 0xfee00000;
const MSI_DEST_SHIFT = 12;
const MSI_REDIR_HINT = 1 << 3;
const MSI_DEST_LOGICAL = 1 << 2;
const MSI_HI_DEST_MASK = 0xffffff00;

/** The fields of an ICR low half; MSI data has vector, deliveryMode, level and trigLevel at the same bits. */
export interface IcrLow {
  vector: number;
  /** 0..7 (DELIVERY_MODE_NAMES). */
  deliveryMode: number;
  logical: boolean;
  /** Assert (1) or de-assert (0). */
  level: boolean;
  /** Level-triggered. */
  trigLevel: boolean;
  /** 0..3 (SHORTHAND_NAMES). */
  shorthand: number;
}

/** struct kvm_lapic_irq: the interrupt an ICR or an MSI describes. */
export interface Irq extends IcrLow {
  destId: number;
  msiRedirHint: boolean;
}

/** The three 32-bit words of an MSI (struct msi_msg). */
export interface Msi {
  addressLo: number;
  addressHi: number;
  data: number;
}

/** The delivery mode (bits 10:8) of an ICR, MSI data, LVT entry or I/O APIC redirection entry. */
export const deliveryModeOf = (v: number): number => (v & APIC_MODE_MASK) >>> MODE_SHIFT;

export function decodeIcrLow(low: number): IcrLow {
  return {
    vector: low & APIC_VECTOR_MASK,
    deliveryMode: deliveryModeOf(low),
    logical: (low & DEST_LOGICAL) !== 0,
    level: (low & INT_ASSERT) !== 0,
    trigLevel: (low & INT_LEVELTRIG) !== 0,
    shorthand: (low >>> SHORT_SHIFT) & 3,
  };
}

/** The low half with these fields; busy and reserved bits are not fields and stay 0. */
export function encodeIcrLow(f: IcrLow): number {
  return (
    ((f.vector & APIC_VECTOR_MASK) |
      ((f.deliveryMode & 7) << MODE_SHIFT) |
      (f.logical ? DEST_LOGICAL : 0) |
      (f.level ? INT_ASSERT : 0) |
      (f.trigLevel ? INT_LEVELTRIG : 0) |
      ((f.shorthand & 3) << SHORT_SHIFT)) >>>
    0
  );
}

/** kvm_apic_send_ipi()'s dest_id: x2APIC: ICR bits 63:32; xAPIC: ICR2 bits 31:24 (GET_XAPIC_DEST_FIELD). */
export function icrDestId(icrHigh: number, x2apic: boolean): number {
  return x2apic ? icrHigh >>> 0 : icrHigh >>> XAPIC_DEST_SHIFT;
}

/** The high word for a destination: ICR2 (bits 31:24) in xAPIC mode, ICR bits 63:32 in x2APIC mode. */
export function icrHigh(destId: number, x2apic: boolean): number {
  return x2apic ? destId >>> 0 : ((destId & 0xff) << XAPIC_DEST_SHIFT) >>> 0;
}

/** kvm_icr_to_lapic_irq(). One object literal: this is on every IPI's path. */
export function decodeIcr(low: number, high: number, x2apic: boolean): Irq {
  return {
    vector: low & APIC_VECTOR_MASK,
    deliveryMode: deliveryModeOf(low),
    logical: (low & DEST_LOGICAL) !== 0,
    level: (low & INT_ASSERT) !== 0,
    trigLevel: (low & INT_LEVELTRIG) !== 0,
    shorthand: (low >>> SHORT_SHIFT) & 3,
    destId: icrDestId(high, x2apic),
    msiRedirHint: false,
  };
}

export function encodeIcr(f: IcrLow & { destId: number }, x2apic: boolean): { low: number; high: number } {
  return { low: encodeIcrLow(f), high: icrHigh(f.destId, x2apic) };
}

/** The x2APIC ICR as one 64-bit value (MSR 0x830). */
export function x2apicIcr(low: number, high: number): bigint {
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}

export function x2apicIcrHalves(icr: bigint): { low: number; high: number } {
  return { low: low32(icr), high: high32(icr) };
}

// A 64-bit value's 32-bit halves, read through an 8-byte buffer: every BigInt mask or shift makes
// a new BigInt, and each x2APIC ICR write splits one. The store keeps bits 63:0 of the value (two's
// complement for a negative one), as masking and shifting would.
const u64 = new BigUint64Array(1);
const u32 = new Uint32Array(u64.buffer);
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1; // the platform's byte order

/** Bits 31:0 of a 64-bit value. */
export function low32(v: bigint): number {
  u64[0] = v;
  return u32[LOW];
}

/** Bits 63:32 of a 64-bit value. */
export function high32(v: bigint): number {
  u64[0] = v;
  return u32[1 - LOW];
}

/** kvm_set_msi_irq()'s fields, with level as written in data bit 14 (KVM then delivers with level 1). */
export function decodeMsi(m: Msi, x2apicFormat: boolean): Irq {
  let destId = (m.addressLo >>> MSI_DEST_SHIFT) & 0xff;
  if (x2apicFormat) destId = (destId | (m.addressHi & MSI_HI_DEST_MASK)) >>> 0;
  return {
    vector: m.data & APIC_VECTOR_MASK,
    deliveryMode: deliveryModeOf(m.data),
    logical: (m.addressLo & MSI_DEST_LOGICAL) !== 0,
    level: (m.data & INT_ASSERT) !== 0,
    trigLevel: (m.data & INT_LEVELTRIG) !== 0,
    shorthand: SHORT_NONE,
    destId,
    msiRedirHint: (m.addressLo & MSI_REDIR_HINT) !== 0,
  };
}

/** The MSI a device sends for these fields (no shorthand: MSIs have none). */
export function encodeMsi(f: Omit<Irq, 'shorthand'>): Msi {
  return {
    addressLo: (MSI_ADDR_BASE | ((f.destId & 0xff) << MSI_DEST_SHIFT) | (f.msiRedirHint ? MSI_REDIR_HINT : 0) | (f.logical ? MSI_DEST_LOGICAL : 0)) >>> 0,
    addressHi: (f.destId & MSI_HI_DEST_MASK) >>> 0,
    data: encodeIcrLow({ ...f, logical: false, shorthand: SHORT_NONE }),
  };
}
