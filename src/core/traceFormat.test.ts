import { runScenario } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeReadyVm, mmioW, takeEvents, toX2apic, vcpu } from './testVm';
import {
  AcceptIrqTrace, ApicAccessTrace, ApicIpiTrace, formatAcceptIrq, formatApicAccess, formatApicIpi, formatMsiSetIrq, formatMsr, msiTraceAddress, MsrTrace, traceToText,
} from './traceFormat';
import { LazyTraceEvent, type TraceEvent } from './types';

const details = (events: TraceEvent[], event: string) => events.filter((e) => e.event === event).map((e) => e.detail);

describe('trace.h formats', () => {
  it('print what a real kernel prints', () => {
    // Lines of a Linux 6.x trace-cmd report (an AP bring-up through the x2APIC ICR, a device MSI).
    expect(formatApicIpi(0xc500, 1)).toBe('dst 1 vec 0 (INIT|physical|assert|level|dst)');
    expect(formatApicIpi(0x8500, 1)).toBe('dst 1 vec 0 (INIT|physical|de-assert|level|dst)');
    expect(formatApicIpi(0x0699, 1)).toBe('dst 1 vec 153 (SIPI|physical|de-assert|edge|dst)');
    expect(formatApicIpi(0xc4931, 0xffffffff)).toBe('dst ffffffff vec 49 (LowPrio|logical|assert|edge|all-but-self)');
    expect(formatAcceptIrq(1, 0, 5, true)).toBe('apicid 1 vec 0 (INIT|level)');
    expect(formatAcceptIrq(0x1a, 236, 0, false)).toBe('apicid 1a vec 236 (Fixed|edge)');
    expect(formatApicAccess(true, 0x300, 0x10000c500n)).toBe('apic_write APIC_ICR = 0x10000c500');
    expect(formatApicAccess(false, 0x20, 0)).toBe('apic_read APIC_ID = 0x0');
    expect(formatMsiSetIrq(0xfee01000n, 0x22)).toBe('dst 1 vec 34 (Fixed|physical|edge)');
    expect(formatMsiSetIrq(0xfee0100cn, 0xc02f)).toBe('dst 1 vec 47 (Fixed|logical|level|rh)');
    expect(formatMsr(true, 0x1b, 0xfee00d00n)).toBe('msr_write 1b = 0xfee00d00');
    expect(formatMsr(true, 0x802, 0x5000000n, true)).toBe('msr_write 802 = 0x5000000 (#GP)');
  });

  it('print an offset kvm_trace_symbol_apic does not name as __print_symbolic does', () => {
    expect(formatApicAccess(false, 0x302, 0x4030)).toBe('apic_read 0x302 = 0x4030');
    expect(formatApicAccess(true, 0x2f0, 0x10000)).toBe('apic_write 0x2f0 = 0x10000'); // LVTCMCI is not in the table
    expect(formatApicAccess(false, 0x110, 0)).toBe('apic_read 0x110 = 0x0'); // ISR bits 63:32
  });

  it('kvm_msi_set_irq joins address_hi only with 32-bit x2APIC IDs', () => {
    expect(formatMsiSetIrq(msiTraceAddress(0xfee05000, 0x100, false), 0x400)).toBe('dst 5 vec 0 (NMI|physical|edge)');
    expect(formatMsiSetIrq(msiTraceAddress(0xfee05000, 0x100, true), 0x400)).toBe('dst 105 vec 0 (NMI|physical|edge)');
  });
});

describe('the core traces with these formats and KVM\'s arguments', () => {
  it('an xAPIC ICR write: kvm_apic, kvm_apic_ipi with the decoded destination, one accept per __apic_accept_irq', () => {
    const vm = makeReadyVm([0, 1, 2]);
    mmioW(vm, 0, 0xf0, 0x1ff);
    mmioW(vm, 1, 0xf0, 0x1ff); // vCPU 2 stays software-disabled
    vm.takeTrace();
    mmioW(vm, 0, 0x310, 0xff000000);
    mmioW(vm, 0, 0x300, 0xc030); // Fixed, level, assert, physical broadcast
    const t = takeEvents(vm);
    expect(details(t, 'kvm_apic')).toEqual(['apic_write APIC_ICR2 = 0xff000000', 'apic_write APIC_ICR = 0xc030']);
    expect(details(t, 'kvm_apic_ipi')).toEqual(['dst ff vec 48 (Fixed|physical|assert|level|dst)']);
    // Traced on entry for every target, before the software-enable check: vCPU 2 is in the trace too.
    expect(details(t, 'kvm_apic_accept_irq')).toEqual(['apicid 0 vec 48 (Fixed|level)', 'apicid 1 vec 48 (Fixed|level)', 'apicid 2 vec 48 (Fixed|level)']);
  });

  it('a read traces the offset as accessed; an x2APIC ICR write traces the 64-bit value after the IPI', () => {
    const vm = makeReadyVm([0, 1]);
    vcpu(vm, 0).apic.regRead(0x301, 1);
    expect(details(takeEvents(vm), 'kvm_apic')).toEqual(['apic_read 0x301 = 0x0']);
    toX2apic(vm, 0);
    vm.takeTrace();
    vm.wrmsr(vcpu(vm, 0), 0x830, 0x0000000100004400n, false);
    const t = takeEvents(vm).filter((e) => e.event.startsWith('kvm_apic'));
    expect(t.map((e) => `${e.event}: ${e.detail}`)).toEqual([
      'kvm_apic_ipi: dst 1 vec 0 (NMI|physical|assert|edge|dst)',
      'kvm_apic_accept_irq: apicid 1 vec 0 (NMI|edge)',
      'kvm_apic: apic_write APIC_ICR = 0x100004400',
    ]);
  });

  it('an MSI names no vCPU and prints the destination KVM decoded', () => {
    const vm = makeReadyVm([0, 1]);
    vm.enableX2apicApi(1n);
    vm.signalMsi(0xfee01000, 0, 0xc031);
    expect(takeEvents(vm).find((e) => e.event === 'kvm_msi_set_irq')).toMatchObject({ vcpu: undefined, detail: 'dst 1 vec 49 (Fixed|physical|level)' });
  });
});

describe('traceToText', () => {
  const ev = (event: string, vcpu: number | undefined, detail: string): TraceEvent => new LazyTraceEvent(event, vcpu, () => detail);

  it('prints trace-cmd report lines on the acting thread', () => {
    const text = traceToText([
      [ev('kvm_apic_ipi', 0, 'dst 1 vec 48 (Fixed|physical|assert|edge|dst)'), ev('kvm_apic_accept_irq', 1, 'apicid 1 vec 48 (Fixed|edge)'), ev('kvm_apic', 0, 'apic_write APIC_ICR = 0x100004030'), ev('kvm_msr', 0, 'msr_write 830 = 0x100004030')],
      [ev('kvm_apic', 1, 'apic_write APIC_TASKPRI = 0x10')],
      [ev('kvm_msi_set_irq', undefined, 'dst 1 vec 34 (Fixed|physical|edge)'), ev('kvm_apic_accept_irq', 1, 'apicid 1 vec 34 (Fixed|edge)')],
    ]);
    expect(text).toBe([
      '  CPU 0/KVM-1234 [000] 100.000001: kvm_apic_ipi:         dst 1 vec 48 (Fixed|physical|assert|edge|dst)',
      '  CPU 0/KVM-1234 [000] 100.000002: kvm_apic_accept_irq:  apicid 1 vec 48 (Fixed|edge)',
      '  CPU 0/KVM-1234 [000] 100.000003: kvm_apic:             apic_write APIC_ICR = 0x100004030',
      '  CPU 0/KVM-1234 [000] 100.000004: kvm_msr:              msr_write 830 = 0x100004030',
      '  CPU 1/KVM-1235 [001] 100.000005: kvm_apic:             apic_write APIC_TASKPRI = 0x10',
      'qemu-system-x86-1233 [000] 100.000006: kvm_msi_set_irq:      dst 1 vec 34 (Fixed|physical|edge)',
      'qemu-system-x86-1233 [000] 100.000007: kvm_apic_accept_irq:  apicid 1 vec 34 (Fixed|edge)',
      '',
    ].join('\n'));
  });

  it('keeps only the tracepoints asked for', () => {
    const steps = [[ev('kvm_recalculate_apic_map', undefined, 'no map'), ev('kvm_apic', 2, 'apic_write APIC_ID = 0x0')]];
    expect(traceToText(steps, { events: ['kvm_apic'], pid: 10, start: 5.5 })).toBe('    CPU 2/KVM-13 [002] 5.500001: kvm_apic:             apic_write APIC_ID = 0x0\n');
    expect(traceToText([])).toBe('');
  });
});

describe('kvm_msr from the core', () => {
  it('is traced after a guest access, with (#GP) when refused, and not for host accesses (kvm_emulate_wrmsr / rdmsr)', () => {
    const r = runScenario(parseScenario({ format: 'apic-scenario/1', vm: { vcpus: 1 }, steps: [
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00c00', host: true },
      { op: 'wrmsr', vcpu: 0, msr: '0x808', value: '0x10' },
      { op: 'rdmsr', vcpu: 0, msr: '0x808' },
      { op: 'wrmsr', vcpu: 0, msr: '0x802', value: '0x1' },
      { op: 'rdmsr', vcpu: 0, msr: '0x1b', host: true },
    ] }), { trace: true });
    const msr = r.steps.map((s) => (s.trace ?? []).filter((e) => e.event === 'kvm_msr').map((e) => e.detail));
    expect(msr).toEqual([[], ['msr_write 808 = 0x10'], ['msr_read 808 = 0x10'], ['msr_write 802 = 0x1 (#GP)'], []]);
    expect(r.steps[1].trace!.map((e) => e.event)).toEqual(['kvm_apic', 'kvm_msr']);
  });
});

describe('shareKey: two trace records with the same key print the same', () => {
  // Pairs of records whose fields are the same but for a random few: a field left out of a key
  // shows as two records with one key and different words.
  const bool = fc.boolean();
  const small = (n: number) => fc.integer({ min: 0, max: n });
  const pairs = <T extends unknown[], R>(fields: fc.Arbitrary<T>, make: (...f: T) => R) =>
    fc.tuple(fields, fields, fc.array(bool, { minLength: 8, maxLength: 8 })).map(([a, c, keep]) => [make(...a), make(...(a.map((x, i) => (keep[i] ? x : c[i])) as T))]);
  const kinds = {
    MsrTrace: pairs(fc.tuple(small(2), bool, fc.constantFrom(0x1b, 0x802, 0x830), fc.bigInt({ min: 0n, max: 3n }), bool), (...a) => new MsrTrace(...a)),
    ApicAccessTrace: pairs(fc.tuple(small(2), bool, fc.constantFrom(0x20, 0x300, 0x302), small(3), small(2)), (...a) => new ApicAccessTrace(...a)),
    ApicIpiTrace: pairs(fc.tuple(small(2), fc.constantFrom(0x4041, 0xc500, 0x80fe), small(3)), (...a) => new ApicIpiTrace(...a)),
    AcceptIrqTrace: pairs(fc.tuple(small(2), small(3), small(5), bool), (...a) => new AcceptIrqTrace(...a)),
  };
  for (const [name, pair] of Object.entries(kinds)) {
    it(`${name}: equal keys, equal JSON`, () => {
      let shared = 0;
      fc.assert(
        fc.property(pair, ([a, b]) => {
          if (a.shareKey !== b.shareKey) return;
          shared++;
          expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        }),
        { numRuns: 300, seed: 17 },
      );
      expect(shared).toBeGreaterThan(10);
    });
  }

  it('records of different kinds never share a key', () => {
    const keys = [new MsrTrace(1, true, 0x80, 0n, false), new ApicAccessTrace(1, true, 0x80, 0), new ApicIpiTrace(1, 0x80, 0), new AcceptIrqTrace(1, 0x80, 0, true)].map((r) => r.shareKey);
    expect(new Set(keys).size).toBe(4);
  });
});
