import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checksReservedBits, decodeLow, decodeMsi, decodeX2apic, decodeXapic, destHint, encodeLow, encodeMsi, encodeX2apic,
  encodeXapic, hexPad, ICR_EXTRA_BITS, ipiSteps, msiStep, parseHex, reservedBits, reservedRanges, viewResult,
  type IcrFields, DEFAULT_FIELDS,
} from './icrCodec';

const fieldsArb = (destBits: 8 | 32) =>
  fc.record({
    vector: fc.integer({ min: 0, max: 0xff }),
    mode: fc.integer({ min: 0, max: 7 }),
    logical: fc.boolean(),
    level: fc.boolean(),
    trigLevel: fc.boolean(),
    shorthand: fc.integer({ min: 0, max: 3 }),
    dest: destBits === 8 ? fc.integer({ min: 0, max: 0xff }) : fc.integer({ min: 0, max: 0xffffffff }),
    extra: fc.integer({ min: 0, max: 0xffffffff }).map((x) => (x & ICR_EXTRA_BITS) >>> 0),
  }) satisfies fc.Arbitrary<IcrFields>;

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('ICR fields <-> raw', () => {
  it('encodes the apicdef.h bits', () => {
    const f: IcrFields = { ...DEFAULT_FIELDS, vector: 0x41, mode: 0, level: true, dest: 2 };
    expect(encodeLow(f)).toBe(0x4041);
    expect(encodeXapic(f)).toEqual({ icr2: 0x02000000, icr: 0x4041 });
    expect(encodeX2apic(f)).toBe(0x0000000200004041n);
    // INIT, level, assert, logical, all excluding self
    const g: IcrFields = { vector: 0, mode: 5, logical: true, level: true, trigLevel: true, shorthand: 3, dest: 0xff, extra: 0 };
    expect(encodeLow(g)).toBe(0xccd00);
    expect(encodeX2apic({ ...g, dest: 0xffffffff })).toBe(0xffffffff000ccd00n);
  });

  it('x2APIC: fields -> 64-bit -> fields is the identity', () => {
    fc.assert(fc.property(fieldsArb(32), (f) => {
      expect(decodeX2apic(encodeX2apic(f))).toEqual(f);
    }));
  });

  it('x2APIC: 64-bit -> fields -> 64-bit is the identity (every bit is a field or kept as extra)', () => {
    fc.assert(fc.property(u64, (v) => {
      expect(encodeX2apic(decodeX2apic(v))).toBe(v);
    }));
  });

  it('xAPIC: fields -> ICR2/ICR -> fields is the identity for 8-bit destinations', () => {
    fc.assert(fc.property(fieldsArb(8), (f) => {
      expect(decodeXapic(...Object.values(encodeXapic(f)) as [number, number])).toEqual(f);
    }));
  });

  it('xAPIC: ICR2/ICR -> fields -> ICR2/ICR keeps ICR and ICR2 bits 31:24 (what KVM stores)', () => {
    fc.assert(
      fc.property(u32, u32, (icr2, icr) => {
        expect(encodeXapic(decodeXapic(icr2, icr))).toEqual({ icr2: (icr2 & 0xff000000) >>> 0, icr });
      }),
    );
  });

  it('xAPIC keeps only 8 destination bits', () => {
    expect(encodeXapic({ ...DEFAULT_FIELDS, dest: 0x1ff }).icr2).toBe(0xff000000);
  });

  it('the low half decodes the same in both modes', () => {
    fc.assert(fc.property(u32, u32, (low, hi) => {
      expect(decodeX2apic((BigInt(hi) << 32n) | BigInt(low))).toEqual(decodeLow(low, hi));
    }));
  });
});

describe('reserved bits', () => {
  it('are bits 31:20, 17:16 and 13 (X2APIC_ICR_RESERVED_BITS)', () => {
    expect(reservedBits(0xffffffff)).toBe(0xfff32000);
    expect(reservedBits(0x000cffff)).toBe(0x2000);
    expect(reservedBits(0x0004dfff & ~0x2000)).toBe(0);
    expect(reservedRanges(0x2000)).toBe('13');
    expect(reservedRanges(0x00110000)).toBe('17:16, 31:20');
    expect(reservedRanges(0)).toBe('');
  });

  it('survive a round trip through the fields, as do busy (bit 12)', () => {
    const f = decodeX2apic(0x0000000200103041n);
    expect(f.extra).toBe(0x00103000);
    expect(f.vector).toBe(0x41);
    expect(encodeX2apic(f)).toBe(0x0000000200103041n);
  });

  it('are checked from KVM 6.12', () => {
    expect(checksReservedBits(undefined)).toBe(true);
    expect(checksReservedBits('current')).toBe(true);
    expect(checksReservedBits('6.12')).toBe(true);
    expect(checksReservedBits('7.0')).toBe(true);
    expect(checksReservedBits('6.11')).toBe(false);
    expect(checksReservedBits('5.10')).toBe(false);
  });
});

describe('MSI', () => {
  it('encodes address and data as kvm_set_msi_irq reads them', () => {
    const f: IcrFields = { ...DEFAULT_FIELDS, vector: 0x41, mode: 4, logical: true, level: true, trigLevel: true, dest: 0x12345 };
    expect(encodeMsi(f)).toEqual({ addressLo: 0xfee45004, addressHi: 0x00012300, data: 0xc441 });
    expect(msiStep(f)).toEqual({ op: 'msi', addressLo: '0xfee45004', addressHi: '0x12300', data: '0xc441' });
  });

  it('round trips the fields it carries (32-bit IDs: the whole destination; else bits 7:0)', () => {
    fc.assert(
      fc.property(fieldsArb(32), fc.boolean(), (f, x2f) => {
        const m = encodeMsi(f);
        expect((m.addressLo & 0xfff00ff3) >>> 0).toBe(0xfee00000); // no redirection hint, nothing outside the fields
        expect(m.addressHi & 0xff).toBe(0); // kvm_msi_route_invalid needs bits 7:0 clear
        expect(decodeMsi(m, x2f)).toEqual({
          vector: f.vector, mode: f.mode, logical: f.logical, level: f.level, trigLevel: f.trigLevel,
          dest: x2f ? f.dest : f.dest & 0xff,
        });
      }),
    );
  });
});

describe('parseHex', () => {
  it('accepts 0x, underscores and any case', () => {
    expect(parseHex('0x41', 8)).toEqual({ value: 0x41n });
    expect(parseHex(' FF ', 8)).toEqual({ value: 0xffn });
    expect(parseHex('0x00000002_00004041', 64)).toEqual({ value: 0x200004041n });
    expect(parseHex('0XfEe0', 16)).toEqual({ value: 0xfee0n });
  });

  it('explains what is wrong', () => {
    expect(parseHex('', 8)).toEqual({ error: 'empty: type a hex number' });
    expect(parseHex('0x', 8)).toEqual({ error: 'empty: type a hex number' });
    expect(parseHex('0x4g', 8)).toEqual({ error: 'not hex: "g" is not a hex digit' });
    expect(parseHex('-1', 8)).toEqual({ error: 'not hex: "-" is not a hex digit' });
    expect(parseHex('0x100', 8)).toEqual({ error: '0x100 does not fit in 8 bits' });
    expect(parseHex('0x1_0000_0000_0000_0000', 64)).toEqual({ error: '0x10000000000000000 does not fit in 64 bits' });
  });

  it('reads back what hexPad writes', () => {
    fc.assert(fc.property(u64, (v) => {
      expect(parseHex(hexPad(v, 16), 64)).toEqual({ value: v });
    }));
    fc.assert(fc.property(u32, (v) => {
      expect(parseHex(hexPad(v, 8), 32)).toEqual({ value: BigInt(v) });
    }));
  });
});

describe('steps', () => {
  const f: IcrFields = { ...DEFAULT_FIELDS, vector: 0x41, dest: 2 };
  it('xAPIC: ICR2 then ICR through MMIO', () => {
    expect(ipiSteps(0, false, f)).toEqual([
      { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x2000000' },
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x4041' },
    ]);
  });
  it('x2APIC: one WRMSR of the 64-bit ICR', () => {
    expect(ipiSteps(3, true, { ...f, dest: 0x105 })).toEqual([{ op: 'wrmsr', vcpu: 3, msr: '0x830', value: '0x10500004041' }]);
  });
});

describe('words', () => {
  it('names the destination', () => {
    expect(destHint({ ...DEFAULT_FIELDS, dest: 2 }, false)).toBe('APIC ID 2');
    expect(destHint({ ...DEFAULT_FIELDS, dest: 0xff }, false)).toBe('broadcast');
    expect(destHint({ ...DEFAULT_FIELDS, dest: 0xff }, true)).toBe('APIC ID 255');
    expect(destHint({ ...DEFAULT_FIELDS, dest: 0xffffffff }, true)).toBe('broadcast');
    expect(destHint({ ...DEFAULT_FIELDS, logical: true, dest: 0x20001 }, true)).toBe('cluster 2, mask 0x1');
    expect(destHint({ ...DEFAULT_FIELDS, shorthand: 2 }, true)).toBe('ignored: shorthand all incl. self');
  });

  it('reads a delivery result', () => {
    const v = viewResult({ i: 3, op: 'mmio_write', ok: true, path: 'fast', delivered: [{ vcpu: 2, mode: 'Fixed', vector: 65 }], why: 'phys_map[2]', examined: 1 });
    expect(v).toMatchObject({ ok: true, path: 'fast: through the optimized map', pathFn: 'kvm_irq_delivery_to_apic_fast', examined: 1, why: 'phys_map[2]' });
    expect(v.nobody).toBeUndefined();
    expect(viewResult({ i: 0, op: 'msi', ok: true, count: -1, path: 'slow', delivered: [], why: 'x', examined: 4 }).nobody).toBe('no vCPU matched the destination');
  });

  it('reads a fault', () => {
    const v = viewResult({ i: 1, op: 'wrmsr', ok: false, fault: '#GP', reason: 'x2APIC ICR reserved bits' });
    expect(v).toMatchObject({ ok: false, failure: '#GP: x2APIC ICR reserved bits', delivered: [] });
    expect(viewResult({ i: 1, op: 'msi', ok: false, error: 'EINVAL' }).failure).toBe('EINVAL');
  });
});
