/**
 * The ICR composer's pure helpers: ICR fields <-> raw values in both APIC modes, the MSI that the
 * same fields make, hex parsing, and the scenario steps that send them. The bit layouts themselves
 * (ICR, ICR2, the 64-bit x2APIC ICR, MSI address/data) are core/codec.ts's; this module only maps
 * the composer's fields (`mode`, `dest`, `extra`) onto them.
 */
import {
  APIC_ICR_BUSY, decodeIcrLow, decodeMsi as decodeMsiIrq, DELIVERY_MODE_NAMES, encodeIcrLow, encodeMsi as encodeMsiIrq,
  icrDestId, icrHigh, SHORTHAND_NAMES, X2APIC_ICR_RESERVED_BITS, x2apicIcr, x2apicIcrHalves, type Msi,
} from '../../core/codec';

export type { Msi };
export const DELIVERY_MODES = DELIVERY_MODE_NAMES;
export const SHORTHANDS = SHORTHAND_NAMES;

export const ICR_BUSY = APIC_ICR_BUSY;
/** X2APIC_ICR_RESERVED_BITS: bits 31:20, 17:16 and 13 of the low half. */
export const X2APIC_ICR_RESERVED = X2APIC_ICR_RESERVED_BITS;
/** Low-half bits that are not a composer field: busy (12) and the reserved bits. */
export const ICR_EXTRA_BITS = (X2APIC_ICR_RESERVED | ICR_BUSY) >>> 0;

export interface IcrFields {
  /** 0..0xff, bits 7:0. */
  vector: number;
  /** 0..7, bits 10:8 (DELIVERY_MODES). */
  mode: number;
  /** Bit 11: logical destination mode. */
  logical: boolean;
  /** Bit 14: level assert. */
  level: boolean;
  /** Bit 15: level-triggered. */
  trigLevel: boolean;
  /** 0..3, bits 19:18 (SHORTHANDS). */
  shorthand: number;
  /** The destination: 8 bits in xAPIC mode, 32 bits in x2APIC mode. */
  dest: number;
  /** The low-half bits that are no field (ICR_EXTRA_BITS: busy and reserved), kept as written. */
  extra: number;
}

export const DEFAULT_FIELDS: IcrFields = { vector: 0x41, mode: 0, logical: false, level: true, trigLevel: false, shorthand: 0, dest: 0, extra: 0 };

/** The ICR low 32 bits (APIC_ICR / MSR 0x830 bits 31:0). */
export function encodeLow(f: IcrFields): number {
  return (encodeIcrLow({ ...f, deliveryMode: f.mode }) | (f.extra & ICR_EXTRA_BITS)) >>> 0;
}

/** The fields of an ICR low half, with `dest`. */
export function decodeLow(low: number, dest: number): IcrFields {
  const { deliveryMode, ...fields } = decodeIcrLow(low);
  return { ...fields, mode: deliveryMode, dest: dest >>> 0, extra: (low & ICR_EXTRA_BITS) >>> 0 };
}

/** x2APIC: the 64-bit ICR, destination in bits 63:32. */
export function encodeX2apic(f: IcrFields): bigint {
  return x2apicIcr(encodeLow(f), icrHigh(f.dest, true));
}

export function decodeX2apic(v: bigint): IcrFields {
  const { low, high } = x2apicIcrHalves(v);
  return decodeLow(low, icrDestId(high, true));
}

/** xAPIC: APIC_ICR2 (destination in bits 31:24) and APIC_ICR. */
export function encodeXapic(f: IcrFields): { icr2: number; icr: number } {
  return { icr2: icrHigh(f.dest, false), icr: encodeLow(f) };
}

/** KVM keeps only ICR2 bits 31:24, so the other bits of `icr2` are dropped. */
export function decodeXapic(icr2: number, icr: number): IcrFields {
  return decodeLow(icr, icrDestId(icr2, false));
}

/** The reserved bits (X2APIC_ICR_RESERVED_BITS) set in a low half. */
export function reservedBits(low: number): number {
  return (low & X2APIC_ICR_RESERVED) >>> 0;
}

/** "13, 17:16, 31:20"-style list of the reserved bit ranges that `bits` touches. */
export function reservedRanges(bits: number): string {
  const out: string[] = [];
  if (bits & 0x2000) out.push('13');
  if (bits & 0x30000) out.push('17:16');
  if (bits & 0xfff00000) out.push('31:20');
  return out.join(', ');
}

/** The MSI a non-IPI source would send for the same fields (no shorthand, no redirection hint). */
export function encodeMsi(f: IcrFields): Msi {
  return encodeMsiIrq({ ...f, deliveryMode: f.mode, destId: f.dest, msiRedirHint: false });
}

/** kvm_set_msi_irq's view of an MSI: the fields it carries (level as written in data bit 14). */
export function decodeMsi(m: Msi, x2apicFormat: boolean): Omit<IcrFields, 'extra' | 'shorthand'> {
  const { vector, deliveryMode, logical, level, trigLevel, destId } = decodeMsiIrq(m, x2apicFormat);
  return { vector, mode: deliveryMode, logical, level, trigLevel, dest: destId };
}

export type Parsed = { value: bigint } | { error: string };

/** Hex text ("0x" optional, "_" allowed, any case) that fits in `bits` bits. */
export function parseHex(text: string, bits: number): Parsed {
  const t = text.trim().replace(/_/g, '');
  const digits = t.replace(/^0x/i, '');
  if (digits === '') return { error: 'empty: type a hex number' };
  if (!/^[0-9a-f]+$/i.test(digits)) {
    const bad = digits.match(/[^0-9a-f]/i)![0];
    return { error: `not hex: "${bad}" is not a hex digit` };
  }
  const value = BigInt('0x' + digits);
  if (value >> BigInt(bits) !== 0n) return { error: `0x${value.toString(16)} does not fit in ${bits} bits` };
  return { value };
}

/** Lowercase hex with 0x, zero-padded to `digits`; 16-digit values get an "_" between the halves. */
export function hexPad(v: number | bigint, digits: number): string {
  const s = BigInt.asUintN(64, BigInt(v)).toString(16).padStart(digits, '0');
  return '0x' + (digits === 16 ? s.slice(0, 8) + '_' + s.slice(8) : s);
}

export const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/** The scenario steps a guest on `vcpu` runs to send the ICR (xAPIC: ICR2 then ICR; x2APIC: one WRMSR). */
export function ipiSteps(vcpu: number, x2apic: boolean, f: IcrFields): object[] {
  if (x2apic) return [{ op: 'wrmsr', vcpu, msr: '0x830', value: '0x' + encodeX2apic(f).toString(16) }];
  const { icr2, icr } = encodeXapic(f);
  return [
    { op: 'mmio_write', vcpu, offset: '0x310', value: hex(icr2) },
    { op: 'mmio_write', vcpu, offset: '0x300', value: hex(icr) },
  ];
}

/**
 * The PV IPI hypercall a Linux guest makes for one target (arch/x86/kernel/kvm.c __send_ipi_mask):
 * min = the APIC ID, bitmap bit 0, the ICR's low half (a 64-bit guest).
 */
export function pvIpiStep(vcpu: number, f: IcrFields): object {
  return { op: 'pv_send_ipi', vcpu, bitmapLow: '0x1', min: hex(f.dest), icr: hex(encodeLow(f)) };
}

export function msiStep(f: IcrFields): object {
  const m = encodeMsi(f);
  return { op: 'msi', addressLo: hex(m.addressLo), addressHi: hex(m.addressHi), data: hex(m.data) };
}

/** Does this KVM release ("current" or "X.Y") #GP on x2APIC ICR reserved bits (6.12, 71bf395a276f)? */
export function checksReservedBits(kvm: string | undefined): boolean {
  if (!kvm || kvm === 'current') return true;
  const [maj, min] = kvm.split('.').map(Number);
  return maj > 6 || (maj === 6 && min >= 12);
}

/** Words for the destination, as KVM will read it. */
export function destHint(f: IcrFields, x2apic: boolean): string {
  if (f.shorthand) return `ignored: shorthand ${SHORTHANDS[f.shorthand]}`;
  const broadcast = x2apic ? 0xffffffff : 0xff;
  if (f.dest === broadcast) return 'broadcast';
  if (!f.logical) return `APIC ID ${f.dest}`;
  if (x2apic) return `cluster ${f.dest >>> 16}, mask ${hex(f.dest & 0xffff)}`;
  return `logical ${hex(f.dest)} (flat: bitmask; cluster: ${f.dest >>> 4}/${hex(f.dest & 0xf)})`;
}

/** What one step's result says about a delivery, as the panel shows it. */
export interface ResultView {
  ok: boolean;
  /** "#GP: reason" or "EINVAL: ..." for a fault or a refused ioctl. */
  failure?: string;
  path?: string;
  pathFn?: string;
  examined?: number;
  why?: string;
  delivered: { vcpu: number; mode: string; vector: number }[];
  /** Set when the step went through KVM's delivery but nobody accepted. */
  nobody?: string;
}

export const PATH_WORDS: Record<string, string> = {
  fast: 'fast: through the optimized map',
  slow: 'slow: matched every vCPU',
};
const PV_PATH_WORDS = 'PV IPI: the optimized map only';
const PATH_FN: Record<string, string> = {
  fast: 'kvm_irq_delivery_to_apic_fast',
  slow: '__kvm_irq_delivery_to_apic',
};

export function viewResult(r: Record<string, unknown>): ResultView {
  const ok = r.ok === true;
  const delivered = Array.isArray(r.delivered) ? (r.delivered as ResultView['delivered']) : [];
  const v: ResultView = { ok, delivered };
  if (!ok) {
    const what = String(r.fault ?? r.error ?? 'failed');
    v.failure = typeof r.reason === 'string' ? `${what}: ${r.reason}` : what;
  }
  if (typeof r.path === 'string') {
    // The hypercall reads the optimized map only: a path of its own, named by its function.
    const pv = r.op === 'pv_send_ipi';
    v.path = pv ? PV_PATH_WORDS : (PATH_WORDS[r.path] ?? r.path);
    v.pathFn = pv ? 'kvm_pv_send_ipi' : PATH_FN[r.path];
    const noMap = (r.route as { code?: string } | undefined)?.code === 'PV_NO_MAP';
    if (!delivered.length) v.nobody = noMap ? 'no optimized map: nobody was looked up' : r.count === -1 ? 'no vCPU matched the destination' : 'no LAPIC accepted it';
  }
  if (typeof r.examined === 'number') v.examined = r.examined;
  if (typeof r.why === 'string') v.why = r.why;
  return v;
}
