import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  APIC_ICR_BUSY, decodeIcr, decodeIcrLow, decodeMsi, DELIVERY_MODE_NAMES, deliveryModeOf, encodeIcr, encodeIcrLow, encodeMsi,
  icrDestId, KVM_DELIVERY_MODE_NAMES, X2APIC_ICR_RESERVED_BITS, x2apicIcr, x2apicIcrHalves, type IcrLow, type Irq,
} from './codec';
import { icrToIrq, msiToIrq } from './delivery';
import type { Lapic } from './lapic';
import type { Vm } from './vm';
import { decodeLow, decodeMsi as composerDecodeMsi, decodeX2apic, decodeXapic, encodeMsi as composerEncodeMsi, encodeX2apic, encodeXapic, type IcrFields } from '../ui/icr/icrCodec';
import { importTrace } from '../import/traceCmd';
import { formatApicIpi, formatMsiSetIrq, msiTraceAddress } from './traceFormat';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const icrLowArb: fc.Arbitrary<IcrLow> = fc.record({
  vector: fc.integer({ min: 0, max: 0xff }),
  deliveryMode: fc.integer({ min: 0, max: 7 }),
  logical: fc.boolean(),
  level: fc.boolean(),
  trigLevel: fc.boolean(),
  shorthand: fc.integer({ min: 0, max: 3 }),
});
const msiArb = fc.record({
  vector: fc.integer({ min: 0, max: 0xff }),
  deliveryMode: fc.integer({ min: 0, max: 7 }),
  logical: fc.boolean(),
  level: fc.boolean(),
  trigLevel: fc.boolean(),
  destId: u32,
  msiRedirHint: fc.boolean(),
});
/** The ICR low-half bits that are fields (all but busy and the x2APIC reserved bits). */
const FIELD_BITS = ~(APIC_ICR_BUSY | X2APIC_ICR_RESERVED_BITS) >>> 0;

describe('the ICR', () => {
  it('has the apicdef.h bits', () => {
    expect(encodeIcrLow({ vector: 0x41, deliveryMode: 0, logical: false, level: true, trigLevel: false, shorthand: 0 })).toBe(0x4041);
    // INIT, level-triggered, assert, logical, all excluding self
    expect(encodeIcrLow({ vector: 0, deliveryMode: 5, logical: true, level: true, trigLevel: true, shorthand: 3 })).toBe(0xccd00);
    expect(FIELD_BITS).toBe(0x000ccfff);
    expect(encodeIcr({ ...decodeIcrLow(0x4041), destId: 2 }, false)).toEqual({ low: 0x4041, high: 0x02000000 });
    expect(x2apicIcr(0x4041, 0x105)).toBe(0x0000010500004041n);
  });

  it('low half: fields -> bits -> fields is the identity', () => {
    fc.assert(fc.property(icrLowArb, (f) => {
      expect(decodeIcrLow(encodeIcrLow(f))).toEqual(f);
    }));
  });

  it('low half: bits -> fields -> bits keeps every field bit and drops busy and reserved', () => {
    fc.assert(fc.property(u32, (low) => {
      expect(encodeIcrLow(decodeIcrLow(low))).toBe((low & FIELD_BITS) >>> 0);
    }));
  });

  it('kvm_icr_to_lapic_irq: x2APIC takes the 32-bit destination, xAPIC ICR2 bits 31:24', () => {
    fc.assert(
      fc.property(icrLowArb, u32, fc.boolean(), (f, destId, x2apic) => {
        const { low, high } = encodeIcr({ ...f, destId }, x2apic);
        expect(decodeIcr(low, high, x2apic)).toEqual({ ...f, destId: x2apic ? destId : destId & 0xff, msiRedirHint: false });
      }),
    );
    fc.assert(fc.property(u32, (icr2) => {
      expect(icrDestId(icr2, false)).toBe(icr2 >>> 24);
    }));
  });

  it('x2APIC: 64 bits -> halves -> 64 bits is the identity', () => {
    fc.assert(fc.property(u64, (v) => {
      const { low, high } = x2apicIcrHalves(v);
      expect(x2apicIcr(low, high)).toBe(v);
    }));
  });
});

describe('the MSI', () => {
  it('has the msi.h bits', () => {
    expect(encodeMsi({ vector: 0x41, deliveryMode: 4, logical: true, level: true, trigLevel: true, destId: 0x12345, msiRedirHint: true }))
      .toEqual({ addressLo: 0xfee4500c, addressHi: 0x00012300, data: 0xc441 });
  });

  it('fields -> MSI -> fields is the identity (the destination above bit 7 only with 32-bit IDs)', () => {
    fc.assert(
      fc.property(msiArb, fc.boolean(), (f, x2apicFormat) => {
        expect(decodeMsi(encodeMsi(f), x2apicFormat)).toEqual({ ...f, shorthand: 0, destId: x2apicFormat ? f.destId : f.destId & 0xff });
      }),
    );
  });

  it('MSI -> fields -> MSI keeps every bit KVM reads', () => {
    fc.assert(
      fc.property(u32, u32, u32, (addressLo, addressHi, data) => {
        expect(encodeMsi(decodeMsi({ addressLo, addressHi, data }, true))).toEqual({
          addressLo: (0xfee00000 | (addressLo & 0x000ff00c)) >>> 0,
          addressHi: (addressHi & 0xffffff00) >>> 0,
          data: (data & 0xc7ff) >>> 0,
        });
      }),
    );
  });

  it('names the delivery modes as the lab and as trace.h kvm_deliver_mode', () => {
    expect(DELIVERY_MODE_NAMES.map((n, dm) => `${dm}:${n}/${KVM_DELIVERY_MODE_NAMES[dm]}`)).toEqual([
      '0:Fixed/Fixed', '1:LowestPrio/LowPrio', '2:SMI/SMI', '3:RemoteRead/Res3', '4:NMI/NMI', '5:INIT/INIT', '6:StartUp/SIPI', '7:ExtINT/ExtINT',
    ]);
    expect(deliveryModeOf(0x1f700)).toBe(7);
  });
});

describe('one codec: the core, the ICR composer, the trace importer and the KVM backend share it', () => {
  const apic = (x2apicMode: boolean) => ({ x2apicMode }) as Lapic;
  const vm = (x2apicFormat: boolean) => ({ x2apicFormat }) as Vm;
  const asComposer = (irq: Irq, extra: number): IcrFields => ({
    vector: irq.vector, mode: irq.deliveryMode, logical: irq.logical, level: irq.level, trigLevel: irq.trigLevel,
    shorthand: irq.shorthand, dest: irq.destId, extra,
  });

  it('an ICR decodes the same in the core (kvm_icr_to_lapic_irq) and the composer, both ways', () => {
    fc.assert(
      fc.property(u32, u32, (low, high) => {
        const extra = (low & ~FIELD_BITS) >>> 0;
        const x2 = icrToIrq(apic(true), low, high);
        expect(x2).toEqual(decodeIcr(low, high, true));
        expect(decodeX2apic(x2apicIcr(low, high))).toEqual(asComposer(x2, extra));
        expect(encodeX2apic(asComposer(x2, extra))).toBe(x2apicIcr(low, high));
        const xa = icrToIrq(apic(false), low, high);
        expect(decodeXapic(high, low)).toEqual(asComposer(xa, extra));
        expect(decodeLow(low, xa.destId)).toEqual(asComposer(xa, extra));
        expect(encodeXapic(asComposer(xa, extra))).toEqual({ icr2: (high & 0xff000000) >>> 0, icr: low });
      }),
    );
  });

  it('an MSI decodes the same in the core (kvm_set_msi_irq) and the composer', () => {
    fc.assert(
      fc.property(u32, u32, u32, fc.boolean(), (addressLo, addressHi, data, x2apicFormat) => {
        const irq = msiToIrq(vm(x2apicFormat), addressLo, addressHi, data);
        expect(irq).toEqual({ ...decodeMsi({ addressLo, addressHi, data }, x2apicFormat), level: true });
        const { vector, deliveryMode: mode, logical, trigLevel, destId: dest } = irq;
        expect(composerDecodeMsi({ addressLo, addressHi, data }, x2apicFormat)).toEqual({ vector, mode, logical, level: (data & 0x4000) !== 0, trigLevel, dest });
        expect(composerEncodeMsi({ ...asComposer(irq, 0), level: false })).toEqual(encodeMsi({ ...irq, level: false, msiRedirHint: false }));
      }),
    );
  });

  it('the importer rebuilds the MSI the core traced, with the codec', () => {
    fc.assert(
      fc.property(msiArb, (f) => {
        const m = encodeMsi({ ...f, level: f.trigLevel }); // the trace carries no separate assert bit
        const text = `  qemu-system-x86-1  [000]  1.000001: kvm_msi_set_irq: ${formatMsiSetIrq(msiTraceAddress(m.addressLo, m.addressHi, true), m.data)}\n`;
        const steps = importTrace(text).scenario.steps;
        // A destination above 0xff proves KVM_X2APIC_API_USE_32BIT_IDS: the importer enables it first.
        expect(steps.map((st) => st.op)).toEqual(f.destId > 0xff ? ['enable_cap', 'msi'] : ['msi']);
        const step = steps[steps.length - 1];
        expect(step).toMatchObject({ op: 'msi', addressLo: '0x' + m.addressLo.toString(16), addressHi: '0x' + m.addressHi.toString(16), data: '0x' + m.data.toString(16) });
      }),
    );
  });

  it('the importer checks an IPI\'s accepts against the mode and vector the codec decodes', () => {
    fc.assert(
      fc.property(icrLowArb, (f) => {
        const low = encodeIcrLow({ ...f, shorthand: 0, level: true });
        const text = [
          `  CPU 0/KVM-2  [000]  1.000001: kvm_apic: apic_write APIC_ICR = 0x${low.toString(16)}`,
          `  CPU 0/KVM-2  [000]  1.000002: kvm_apic_ipi: ${formatApicIpi(low, 1)}`,
          `  CPU 0/KVM-2  [000]  1.000003: kvm_apic_accept_irq: apicid 1 vec ${f.vector} (${KVM_DELIVERY_MODE_NAMES[f.deliveryMode]}|edge)`,
        ].join('\n');
        const { scenario } = importTrace(text);
        expect(scenario.steps.find((s) => s.op === 'mmio_write')!.expect).toEqual({ delivered: [{ vcpu: 1, mode: DELIVERY_MODE_NAMES[f.deliveryMode], vector: f.vector }] });
      }),
    );
  });

  const SHARERS = ['src/core/delivery.ts', 'src/ui/icr/icrCodec.ts', 'src/ui/decode.ts', 'src/import/traceCmd.ts', 'src/kvm/kvmRun.ts', 'src/core/traceFormat.ts'];
  /** Bit twiddling that decodes an ICR, MSI or delivery mode by hand. */
  const LAYOUT_CODE: [string, RegExp][] = [
    ['delivery mode bits 10:8', />>>?\s*8n?\)\s*&\s*(7|0x7)n?\b/],
    ['delivery mode << 8', /<<\s*8\)/],
    ['shorthand bits 19:18', />>>?\s*18\)\s*&\s*3/],
    ['ICR bits 11/14/15', /&\s*\(?(0x800|0x4000|0x8000|1\s*<<\s*1[145])\b/],
    ['MSI destination bits 19:12', /(>>>?|<<)\s*12\b/],
    ['MSI address_hi destination', /0xffffff00/],
    ['a delivery mode name list', /'RemoteRead'|'LowPrio'|'StartUp'/],
  ];

  it.each(SHARERS)('%s imports core/codec and decodes no bit layout itself', (file) => {
    const src = readFileSync(file, 'utf8');
    expect(src).toMatch(/from '(\.\/|\.\.\/|\.\.\/\.\.\/)(core\/)?codec'/);
    const code = src.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''); // comments may describe the layout
    for (const [what, re] of LAYOUT_CODE) expect(re.exec(code)?.[0], `${file}: ${what}`).toBeUndefined();
  });
});
