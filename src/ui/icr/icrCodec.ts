/**
 * The ICR composer's pure helpers: ICR fields <-> raw values in both APIC modes, the MSI that the
 * same fields make, hex parsing, and the scenario steps that send them.
 *
 * Layout (apicdef.h, lapic.c kvm_icr_to_lapic_irq): ICR bits 7:0 vector, 10:8 delivery mode,
 * 11 destination mode (APIC_DEST_LOGICAL), 12 delivery status (APIC_ICR_BUSY), 14 level
 * (APIC_INT_ASSERT), 15 trigger (APIC_INT_LEVELTRIG), 19:18 shorthand. xAPIC: the destination is
 * APIC_ICR2 bits 31:24 (KVM stores ICR2 & 0xff000000). x2APIC: one 64-bit MSR 0x830 with the 32-bit
 * destination in bits 63:32; bits 31:20, 17:16 and 13 are X2APIC_ICR_RESERVED_BITS (#GP since 6.12).
 * MSI (irq.c kvm_set_msi_irq): address_lo bits 19:12 destination, bit 2 logical; address_hi bits
 * 31:8 destination bits 31:8 (only with 32-bit x2APIC IDs); data 7:0 vector, 10:8 mode, 14 level,
 * 15 trigger.
 */

export const DELIVERY_MODES = ['Fixed', 'LowestPrio', 'SMI', 'RemoteRead', 'NMI', 'INIT', 'StartUp', 'ExtINT'] as const;
export const SHORTHANDS = ['none', 'self', 'all incl. self', 'all excl. self'] as const;

export const ICR_BUSY = 0x1000;
/** X2APIC_ICR_RESERVED_BITS: bits 31:20, 17:16 and 13 of the low half. */
export const X2APIC_ICR_RESERVED = 0xfff32000;
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
  return (
    ((f.vector & 0xff) |
      ((f.mode & 7) << 8) |
      (f.logical ? 0x800 : 0) |
      (f.level ? 0x4000 : 0) |
      (f.trigLevel ? 0x8000 : 0) |
      ((f.shorthand & 3) << 18) |
      (f.extra & ICR_EXTRA_BITS)) >>>
    0
  );
}

/** The fields of an ICR low half, with `dest`. */
export function decodeLow(low: number, dest: number): IcrFields {
  return {
    vector: low & 0xff,
    mode: (low >>> 8) & 7,
    logical: (low & 0x800) !== 0,
    level: (low & 0x4000) !== 0,
    trigLevel: (low & 0x8000) !== 0,
    shorthand: (low >>> 18) & 3,
    dest: dest >>> 0,
    extra: (low & ICR_EXTRA_BITS) >>> 0,
  };
}

/** x2APIC: the 64-bit ICR, destination in bits 63:32. */
export function encodeX2apic(f: IcrFields): bigint {
  return (BigInt(f.dest >>> 0) << 32n) | BigInt(encodeLow(f));
}

export function decodeX2apic(v: bigint): IcrFields {
  return decodeLow(Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
}

/** xAPIC: APIC_ICR2 (destination in bits 31:24) and APIC_ICR. */
export function encodeXapic(f: IcrFields): { icr2: number; icr: number } {
  return { icr2: ((f.dest & 0xff) << 24) >>> 0, icr: encodeLow(f) };
}

/** KVM keeps only ICR2 bits 31:24, so the other bits of `icr2` are dropped. */
export function decodeXapic(icr2: number, icr: number): IcrFields {
  return decodeLow(icr, icr2 >>> 24);
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

export interface Msi {
  addressLo: number;
  addressHi: number;
  data: number;
}

/** The MSI a non-IPI source would send for the same fields (no shorthand, no redirection hint). */
export function encodeMsi(f: IcrFields): Msi {
  return {
    addressLo: (0xfee00000 | ((f.dest & 0xff) << 12) | (f.logical ? 4 : 0)) >>> 0,
    addressHi: (f.dest & 0xffffff00) >>> 0,
    data: ((f.vector & 0xff) | ((f.mode & 7) << 8) | (f.level ? 0x4000 : 0) | (f.trigLevel ? 0x8000 : 0)) >>> 0,
  };
}

/** kvm_set_msi_irq's view of an MSI: the fields it carries (level as written in data bit 14). */
export function decodeMsi(m: Msi, x2apicFormat: boolean): Omit<IcrFields, 'extra' | 'shorthand'> {
  let dest = (m.addressLo >>> 12) & 0xff;
  if (x2apicFormat) dest = (dest | (m.addressHi & 0xffffff00)) >>> 0;
  return {
    vector: m.data & 0xff,
    mode: (m.data >>> 8) & 7,
    logical: (m.addressLo & 4) !== 0,
    level: (m.data & 0x4000) !== 0,
    trigLevel: (m.data & 0x8000) !== 0,
    dest,
  };
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
    v.path = PATH_WORDS[r.path] ?? r.path;
    v.pathFn = PATH_FN[r.path];
    if (!delivered.length) v.nobody = r.count === -1 ? 'no vCPU matched the destination' : 'no LAPIC accepted it';
  }
  if (typeof r.examined === 'number') v.examined = r.examined;
  if (typeof r.why === 'string') v.why = r.why;
  return v;
}
