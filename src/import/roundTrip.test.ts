/**
 * The lab's trace speaks KVM's format: run scenarios with the trace on, print it as `trace-cmd
 * report` text (traceToText, the event log's "copy trace"), import that text as a real trace, and
 * replay it. The imported steps are the original ones and the replay ends in the same state,
 * for every delivery mode, shorthand, MSIs, register writes and the x2APIC ICR; a trace cannot
 * carry what KVM does not trace (see README.md), and the last test shows one such case.
 */
import { describe, expect, it } from 'vitest';
import { traceToText } from '../core/traceFormat';
import { checkExpectations } from '../scenario/expect';
import type { ScenarioResult } from '../scenario/result';
import { runScenario } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';
import { importTrace } from './traceCmd';

type Step = Record<string, unknown>;

function roundTrip(vcpus: number[], steps: Step[]) {
  const original = parseScenario({ format: 'apic-scenario/1', title: 'round trip', vm: { vcpus }, steps });
  const ran = runScenario(original, { trace: true });
  const text = traceToText(ran.steps.map((s) => s.trace ?? []));
  const { scenario, report } = importTrace(text);
  const imported = parseScenario(JSON.parse(JSON.stringify(scenario)));
  const replayed = runScenario(imported);
  return { ran, text, scenario, report, replayed, mismatches: checkExpectations(imported, replayed) };
}

/** What a step does, numbers normalised (an omitted MSI address_hi is 0). */
function inputs(s: Step): string {
  const n = (v: unknown) => (v === undefined ? '-' : BigInt(v as string | number).toString(16));
  return [s.op, n(s.vcpu), n(s.offset), n(s.msr), n(s.value), n(s.addressLo), s.op === 'msi' ? n(s.addressHi ?? 0) : '-', n(s.data)].join(' ');
}

const delivered = (r: ScenarioResult) => r.steps.map((s) => (s as { delivered?: unknown }).delivered ?? []);

const mmio = (vcpu: number, offset: number, value: number): Step => ({ op: 'mmio_write', vcpu, offset: '0x' + offset.toString(16), value: '0x' + value.toString(16) });
/** An xAPIC IPI from `vcpu`: ICR2 (destination) then ICR. */
const ipi = (vcpu: number, dest: number, icr: number): Step[] => [mmio(vcpu, 0x310, dest << 24 >>> 0), mmio(vcpu, 0x300, icr)];
/** Every vCPU software-enabled, with a flat logical ID of its own bit. */
const xapicSetup = (ids: number[]): Step[] => ids.flatMap((v) => [mmio(v, 0xf0, 0x1ff), mmio(v, 0xd0, (1 << v) << 24 >>> 0)]);

describe('round trip: an xAPIC guest sending IPIs of every delivery mode', () => {
  const steps = [
    ...xapicSetup([0, 1, 2, 3]),
    mmio(0, 0x80, 0x20), // TPR
    { op: 'mmio_read', vcpu: 0, offset: '0xa0' }, // PPR
    ...ipi(0, 1, 0x4030), // Fixed, physical
    ...ipi(0, 0x6, 0x4931), // LowestPrio, logical 0x6
    ...ipi(0, 2, 0x4200), // SMI
    ...ipi(0, 3, 0x4300), // RemoteRead
    ...ipi(0, 0xc, 0x4c00), // NMI, logical 0xc
    ...ipi(0, 3, 0xc500), // INIT, level, assert
    mmio(0, 0x300, 0x8500), // INIT, level, de-assert: traced, ignored
    mmio(0, 0x300, 0x4699), // StartUp, vector 0x99
    ...ipi(0, 2, 0xc040), // Fixed, level-triggered
    ...ipi(0, 0xff, 0x4132), // LowestPrio to the physical broadcast: KVM makes it Fixed
    ...ipi(0, 1, 0x4700), // ExtINT: traced, not accepted
    mmio(1, 0x300, 0x44041), // self
    mmio(2, 0x300, 0x84050), // all including self
    mmio(3, 0x300, 0xc4060), // all excluding self
  ];
  const { ran, text, scenario, report, replayed, mismatches } = roundTrip([0, 1, 2, 3], steps);

  it('prints KVM\'s lines', () => {
    expect(text).toContain('  CPU 0/KVM-1234 [000] ');
    expect(text).toMatch(/kvm_apic: +apic_write APIC_ICR = 0x4931\n.*kvm_apic_ipi: +dst 6 vec 49 \(LowPrio\|logical\|assert\|edge\|dst\)\n/);
    expect(text).toMatch(/kvm_apic_accept_irq: +apicid 3 vec 0 \(INIT\|level\)\n/);
    expect(text).toMatch(/kvm_apic: +apic_read APIC_PROCPRI = 0x20\n/);
  });

  it('imports every step back, in order, on its vCPU', () => {
    expect(report.notUnderstood.filter((l) => /kvm_(apic|msr|msi)/.test(l.text))).toEqual([]);
    expect(report.unresolvedThreads).toEqual([]);
    expect(scenario.vm.vcpus).toEqual([0, 1, 2, 3]);
    expect(scenario.steps.map(inputs)).toEqual(steps.map(inputs));
  });

  it('replays to the same deliveries and the same final state', () => {
    expect(delivered(replayed)).toEqual(delivered(ran));
    expect(replayed.final).toEqual(ran.final);
    expect(delivered(ran).flat().map((d) => (d as { mode: string }).mode)).toEqual(expect.arrayContaining(['Fixed', 'LowestPrio', 'SMI', 'RemoteRead', 'NMI', 'INIT', 'StartUp']));
  });

  it('meets the checks the accepts became, but for the ExtINT KVM traces and does not accept', () => {
    const extint = steps.findIndex((s) => s.value === '0x4700');
    expect(mismatches).toEqual([{ where: `step ${extint} (mmio_write).delivered`, expected: [{ vcpu: 1, mode: 'ExtINT', vector: 0 }], actual: [] }]);
  });
});

describe('round trip: MSIs', () => {
  const msi = (addressLo: number, data: number): Step => ({ op: 'msi', addressLo: '0x' + addressLo.toString(16), data: '0x' + data.toString(16) });
  const steps = [
    ...xapicSetup([0, 1, 2, 3]),
    msi(0xfee02000, 0x0051), // Fixed, physical, edge
    msi(0xfee0600c, 0x0152), // LowestPrio, logical 0x6, redirection hint
    msi(0xfee01000, 0xc400), // NMI, level
    msi(0xfeeff000, 0x0053), // Fixed to the broadcast
    msi(0xfee0f004, 0x0500), // INIT, logical 0xf
    msi(0xfee03000, 0xc061), // Fixed, level-triggered
  ];
  const { ran, scenario, replayed, mismatches } = roundTrip([0, 1, 2, 3], steps);

  it('imports the same MSIs and replays them to the same deliveries and state, every check met', () => {
    expect(scenario.steps.map(inputs)).toEqual(steps.map(inputs));
    expect(delivered(replayed)).toEqual(delivered(ran));
    expect(replayed.final).toEqual(ran.final);
    expect(mismatches).toEqual([]);
  });
});

describe('round trip: an x2APIC guest', () => {
  const wrmsr = (vcpu: number, msr: number, value: bigint | number): Step => ({ op: 'wrmsr', vcpu, msr: '0x' + msr.toString(16), value: '0x' + value.toString(16) });
  const steps = [
    wrmsr(0, 0x1b, 0xfee00d00), wrmsr(1, 0x1b, 0xfee00c00), wrmsr(2, 0x1b, 0xfee00c00),
    wrmsr(0, 0x80f, 0x1ff), wrmsr(1, 0x80f, 0x1ff), wrmsr(2, 0x80f, 0x1ff),
    wrmsr(0, 0x808, 0x10), // TPR
    wrmsr(0, 0x830, 0x0000000100004030n), // Fixed to 1: the destination in bits 63:32
    wrmsr(0, 0x830, 0x0000000600004831n), // LowestPrio, logical cluster 0, mask 0x6
    wrmsr(1, 0x830, 0x0000000200004400n), // NMI to 2
    wrmsr(2, 0x83f, 0x45), // SELF_IPI
    wrmsr(0, 0x830, 0xffffffff00004022n), // Fixed to the x2APIC broadcast
    wrmsr(1, 0x830, 0x00000000000c4070n), // all excluding self
  ];
  const { ran, text, scenario, report, replayed, mismatches } = roundTrip([0, 1, 2], steps);

  it('folds each WRMSR\'s kvm_apic, kvm_apic_ipi and accepts into one step, as in a real trace', () => {
    const kvmLines = text.split('\n').flatMap((l) => /: (kvm_(?:apic|apic_ipi|apic_accept_irq|msr)): +(.*)$/.exec(l)?.slice(1, 3).join(': ') ?? []);
    const ipi = kvmLines.indexOf('kvm_apic_ipi: dst 1 vec 48 (Fixed|physical|assert|edge|dst)');
    expect(kvmLines.slice(ipi, ipi + 4)).toEqual([
      'kvm_apic_ipi: dst 1 vec 48 (Fixed|physical|assert|edge|dst)',
      'kvm_apic_accept_irq: apicid 1 vec 48 (Fixed|edge)',
      'kvm_apic: apic_write APIC_ICR = 0x100004030', // kvm_x2apic_icr_write traces after sending
      'kvm_msr: msr_write 830 = 0x100004030', // kvm_emulate_wrmsr traces after the write
    ]);
    expect(scenario.steps.map(inputs)).toEqual(steps.map(inputs));
    expect(report.warnings).toEqual([]);
  });

  it('replays to the same deliveries and state, every check met', () => {
    expect(delivered(replayed)).toEqual(delivered(ran));
    expect(replayed.final).toEqual(ran.final);
    expect(mismatches).toEqual([]);
  });
});

describe('round trip: what a trace cannot carry', () => {
  it('KVM_ENABLE_CAP is not traced, but an MSI to a 32-bit ID proves it: enable_cap is inferred and the replay routes to 256', () => {
    const steps = [
      { op: 'enable_cap', cap: 'X2APIC_API', flags: '0x1' },
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00' },
      { op: 'wrmsr', vcpu: 256, msr: '0x1b', value: '0xfee00c00' },
      { op: 'wrmsr', vcpu: 0, msr: '0x80f', value: '0x1ff' },
      { op: 'wrmsr', vcpu: 256, msr: '0x80f', value: '0x1ff' },
      { op: 'msi', addressLo: '0xfee00000', addressHi: '0x100', data: '0x400' }, // NMI to x2APIC ID 256
    ];
    const { ran, text, scenario, report, replayed } = roundTrip([0, 256], steps);
    expect(text).toMatch(/kvm_msi_set_irq: +dst 100 vec 0 \(NMI\|physical\|edge\)\n/);
    expect(scenario.steps.map((s) => s.op)).toEqual(['enable_cap', 'wrmsr', 'wrmsr', 'wrmsr', 'wrmsr', 'msi']);
    expect(scenario.steps[0]).toMatchObject({ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 });
    expect(report.notes.join('\n')).toMatch(/KVM_CAP_X2APIC_API was enabled \(flags 1, 32-bit IDs\): line \d+ shows an MSI to destination 0x100/);
    expect(delivered(ran).at(-1)).toEqual([{ vcpu: 256, mode: 'NMI', vector: 0 }]);
    expect(delivered(replayed).at(-1)).toEqual([{ vcpu: 256, mode: 'NMI', vector: 0 }]);
  });
});
