/**
 * The PV IPI hypercall in a trace: `kvm_hypercall` lines with nr 0xa (KVM_HC_SEND_IPI) become
 * `pv_send_ipi` steps, checked against the `kvm_apic_accept_irq` lines right after them.
 *
 * Every trace line below was written by hand, in the exact TP_printk format of arch/x86/kvm/trace.h
 * (kvm_hypercall: "nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx"; kvm_apic_accept_irq: "apicid %x vec
 * %u (%s|%s)") and in the `trace-cmd report` layout of the captures in testdata/captured/ (the
 * "cpus=N" header, the instance name, task-pid, [CPU], clock and the event column), because this
 * host cannot produce them: its guest's VMCALL never reaches kvm_emulate_hypercall (see
 * PV_IPI_REFUSAL in src/kvm/kvmBackend.ts), so no capture has a kvm_hypercall line. The last test
 * also imports the lab's own trace of pv_send_ipi steps (traceToText), which prints the same lines.
 */
import { describe, expect, it } from 'vitest';
import { traceToText } from '../core/traceFormat';
import { checkExpectations } from '../scenario/expect';
import { field } from '../scenario/result';
import { runScenario } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';
import { importTrace, TraceImportError, type TraceImportOptions } from './traceCmd';

/** Import, validate with the project's parser, replay, and return everything. */
function replay(text: string, options: TraceImportOptions = {}) {
  const { scenario, report } = importTrace(text, options);
  const parsed = parseScenario(JSON.parse(JSON.stringify(scenario)));
  const result = runScenario(parsed);
  return { scenario, report, parsed, result, mismatches: checkExpectations(parsed, result) };
}

const fixed = (vcpu: number, vector: number) => ({ vcpu, mode: 'Fixed', vector });

/**
 * A guest on a host without APICv (the DISABLED inhibit on line 2, as in the captures): vCPUs 0, 1,
 * 2 and 66 software-enable their xAPICs, then
 *   line 7:  vCPU 0 sends RESCHEDULE (0xfd) with bitmaps 0x6 / 0x4 from APIC ID 0: IDs 1 and 2 from
 *            the low bitmap, 64 + 2 = 66 from the high one; one accept each, in that order
 *            (vcpu_id 66 prints as "apicid 42");
 *   line 11: vCPU 1 sends to APIC ID 3, which no vCPU has: no accept follows;
 *   line 12: vCPU 2 sends CALL_FUNCTION (0xfc) with bitmap 0x1 from APIC ID 1: vCPU 1.
 */
const PV_IPIS = `cpus=4
lapic_capture_7100:             node-7100  [000]  9801.100437: kvm_apicv_inhibit_changed: set reason=0, inhibits=0x1 DISABLED
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.100874: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.101311: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 2/KVM-7123  [003]  9801.101748: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:       CPU 66/KVM-7124  [000]  9801.102185: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.102622: kvm_hypercall:        nr 0xa a0 0x6 a1 0x4 a2 0x0 a3 0xfd
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.103059: kvm_apic_accept_irq:  apicid 1 vec 253 (Fixed|edge)
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.103496: kvm_apic_accept_irq:  apicid 2 vec 253 (Fixed|edge)
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.103933: kvm_apic_accept_irq:  apicid 42 vec 253 (Fixed|edge)
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.104370: kvm_hypercall:        nr 0xa a0 0x8 a1 0x0 a2 0x0 a3 0xfd
lapic_capture_7100:        CPU 2/KVM-7123  [003]  9801.104807: kvm_hypercall:        nr 0xa a0 0x1 a1 0x0 a2 0x1 a3 0xfc
lapic_capture_7100:        CPU 2/KVM-7123  [003]  9801.105244: kvm_apic_accept_irq:  apicid 1 vec 252 (Fixed|edge)
`;

describe('importTrace: PV IPIs (kvm_hypercall KVM_HC_SEND_IPI)', () => {
  const { scenario, report, result, mismatches } = replay(PV_IPIS);

  it('makes each KVM_HC_SEND_IPI one pv_send_ipi step on the traced thread\'s vCPU, registers as traced', () => {
    expect(scenario.vm.vcpus).toEqual([0, 1, 2, 66]);
    expect(scenario.steps.map((s) => `${s.op} ${s.vcpu}`)).toEqual([
      'mmio_write 0', 'mmio_write 1', 'mmio_write 2', 'mmio_write 66', 'pv_send_ipi 0', 'pv_send_ipi 1', 'pv_send_ipi 2',
    ]);
    expect(scenario.steps[4]).toEqual({
      op: 'pv_send_ipi', vcpu: 0, bitmapLow: '0x6', bitmapHigh: '0x4', min: '0x0', icr: '0xfd',
      note: expect.stringMatching(/^trace line 7: PV IPI hypercall KVM_HC_SEND_IPI \(kvm_hypercall nr 0xa\): .*a 64-bit guest is assumed \(import with \{ hypercall64: false \} for a 32-bit one\)$/),
      expect: { delivered: [fixed(1, 253), fixed(2, 253), fixed(66, 253)] },
    });
    expect(scenario.steps[4]).not.toHaveProperty('op64');
    expect(report.steps.slice(4).map((s) => [s.line, s.event, s.op, s.vcpu])).toEqual([
      [7, 'kvm_hypercall', 'pv_send_ipi', 0], [11, 'kvm_hypercall', 'pv_send_ipi', 1], [12, 'kvm_hypercall', 'pv_send_ipi', 2],
    ]);
  });

  it('groups the accepts after each hypercall with it, as an ICR write\'s with the ICR write', () => {
    expect(report.checks).toEqual([
      { step: 4, lines: [8, 9, 10], delivered: [fixed(1, 253), fixed(2, 253), fixed(66, 253)] },
      { step: 5, lines: [], delivered: [] },
      { step: 6, lines: [13], delivered: [fixed(1, 252)] },
    ]);
    expect(report.notUnderstood).toEqual([]);
    expect(report.skipped.filter((s) => s.event !== 'kvm_apicv_inhibit_changed')).toEqual([]);
    expect(report.otherEvents).toEqual({});
    expect(report.notes.join('\n')).toMatch(/kvm_hypercall lines with nr 0xa \(KVM_HC_SEND_IPI, .*the first on line 7\) became pv_send_ipi steps.*a 64-bit guest is assumed \(op64 omitted\)/);
  });

  it('replays to exactly the traced accepts, every check met', () => {
    expect(mismatches).toEqual([]);
    expect(field(result.steps[4], 'delivered')).toEqual([fixed(1, 253), fixed(2, 253), fixed(66, 253)]);
    expect(field(result.steps[4], 'ret')).toBe(3);
    expect(field(result.steps[6], 'delivered')).toEqual([fixed(1, 252)]);
  });

  it('a PV IPI with no accept after it reached nobody: the replay returns 0 and delivers nothing', () => {
    expect(scenario.steps[5]).toMatchObject({ bitmapLow: '0x8', min: '0x0', expect: { delivered: [] } });
    expect(field(result.steps[5], 'ret')).toBe(0);
    expect(field(result.steps[5], 'delivered')).toEqual([]);
  });
});

/**
 * vCPU 256's xAPIC ID is cut to 0, the ID of vCPU 0: without 32-bit IDs KVM has no optimized map,
 * and kvm_pv_send_ipi, which reads nothing else, returns -EOPNOTSUPP: no accept follows line 5. The
 * ICR write after it reaches vCPU 1 (the slow path matches every vCPU); its accept also shows that
 * kvm_apic_accept_irq was traced, without which "no accept" would prove nothing.
 */
const PV_IPI_NO_MAP = `cpus=4
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.200437: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.200874: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:      CPU 256/KVM-7126  [002]  9801.201311: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.201748: kvm_hypercall:        nr 0xa a0 0x2 a1 0x0 a2 0x0 a3 0x40
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.202185: kvm_apic:             apic_write APIC_ICR2 = 0x1000000
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.202622: kvm_apic:             apic_write APIC_ICR = 0x4041
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.203059: kvm_apic_ipi:         dst 1 vec 65 (Fixed|physical|assert|edge|dst)
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.203496: kvm_apic_accept_irq:  apicid 1 vec 65 (Fixed|edge)
`;

describe('importTrace: a PV IPI on a VM with no optimized map', () => {
  it('imports with the check "nobody", which the replay meets with ret -95', () => {
    const { scenario, result, mismatches } = replay(PV_IPI_NO_MAP);
    expect(scenario.vm.vcpus).toEqual([0, 1, 256]);
    expect(scenario.steps[3]).toMatchObject({ op: 'pv_send_ipi', vcpu: 0, bitmapLow: '0x2', icr: '0x40', expect: { delivered: [] } });
    expect(mismatches).toEqual([]);
    expect(result.steps[3]).toMatchObject({ ok: false, ret: -95, delivered: [] });
    expect(result.steps[5]).toMatchObject({ path: 'slow', delivered: [fixed(1, 65)] });
  });

  it('makes no "nobody" check in a trace without kvm_apic_accept_irq events', () => {
    const noAccepts = PV_IPI_NO_MAP.split('\n').filter((l) => !l.includes('kvm_apic_accept_irq')).join('\n');
    const { scenario, report } = importTrace(noAccepts);
    expect(scenario.steps[3]).not.toHaveProperty('expect');
    expect(report.notes.join('\n')).toMatch(/no kvm_apic_accept_irq events/);
  });
});

/**
 * An NMI by PV IPI to vCPU 1, which has no thread in the trace: the replay creates it last, and KVM
 * leaves the newest vCPU out of its map until something rebuilds it, so the accept proves a rebuild
 * the trace does not show (as for an ICR write routed through the map).
 */
const PV_IPI_TO_NEWEST = `cpus=4
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.600437: kvm_hypercall:        nr 0xa a0 0x2 a1 0x0 a2 0x0 a3 0x400
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.600874: kvm_apic_accept_irq:  apicid 1 vec 0 (NMI|edge)
`;

describe('importTrace: a PV IPI to the newest vCPU', () => {
  it('infers the map rebuild the accept proves, and the replay meets the check', () => {
    const { scenario, report, mismatches } = replay(PV_IPI_TO_NEWEST);
    expect(scenario.vm.vcpus).toEqual([0, 1]);
    expect(scenario.steps.map((s) => s.op)).toEqual(['set_lapic', 'pv_send_ipi']);
    expect(scenario.steps[0]).toMatchObject({ vcpu: 1, merge: true, note: expect.stringMatching(/^inferred from trace line 3: /) });
    expect(report.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^vCPU 1 accepts the interrupt sent on line 2 \(line 3\), but nothing traced before rebuilds KVM's optimized APIC map/)]);
    expect(mismatches).toEqual([]);
  });
});

/**
 * Hypercalls that are not PV IPIs: KVM_HC_KICK_CPU from vCPU 0 (a1 = APIC ID 1, whose RemoteRead
 * KVM traces as accepted, "Res3"), KVM_HC_SCHED_YIELD, a number KVM does not know, and 0xa in the
 * low half of a 64-bit nr.
 */
const OTHER_HYPERCALLS = `cpus=4
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.300437: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.300874: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.301311: kvm_hypercall:        nr 0x5 a0 0x0 a1 0x1 a2 0x0 a3 0x0
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.301748: kvm_apic_accept_irq:  apicid 1 vec 0 (Res3|edge)
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.302185: kvm_hypercall:        nr 0xb a0 0x0 a1 0x0 a2 0x0 a3 0x0
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.302622: kvm_hypercall:        nr 0x2a a0 0x0 a1 0x0 a2 0x0 a3 0x0
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.303059: kvm_hypercall:        nr 0x10000000a a0 0x1 a1 0x0 a2 0x0 a3 0xfd
`;

describe('importTrace: other hypercalls', () => {
  const { scenario, report, mismatches } = replay(OTHER_HYPERCALLS);
  const why = (line: number) => report.skipped.find((s) => s.line === line)?.reason;

  it('skips them, naming the hypercall, and imports nothing for them', () => {
    expect(scenario.steps.map((s) => s.op)).toEqual(['mmio_write', 'mmio_write']);
    expect(why(4)).toBe('kvm_hypercall nr 0x5 (KVM_HC_KICK_CPU) is not an APIC op: it wakes the halted vCPU of APIC ID 0x1 (a1) with a RemoteRead (kvm_pv_kick_cpu_op), a hypercall the lab does not model');
    expect(why(5)).toBe('the RemoteRead of the KVM_HC_KICK_CPU hypercall on line 4, which is not imported');
    expect(why(6)).toBe('kvm_hypercall nr 0xb (KVM_HC_SCHED_YIELD) is not an APIC op');
    expect(why(7)).toBe('kvm_hypercall nr 0x2a is not an APIC op (a number KVM does not know: it returns -KVM_ENOSYS)');
    expect(why(8)).toMatch(/^kvm_hypercall nr 0x10000000a is not an APIC op .*; its low 32 bits are KVM_HC_SEND_IPI, which KVM takes only from a guest not in 64-bit mode: import with \{ hypercall64: false \}/);
    expect(report.notUnderstood).toEqual([]);
    expect(report.otherEvents).toEqual({});
    expect(mismatches).toEqual([]);
  });

  it('reads a 32-bit guest\'s nr cut to 32 bits when told the guest is one', () => {
    const { scenario: s32 } = importTrace(OTHER_HYPERCALLS, { hypercall64: false });
    expect(s32.steps.at(-1)).toMatchObject({ op: 'pv_send_ipi', vcpu: 1, bitmapLow: '0x1', icr: '0xfd', op64: false });
  });
});

/**
 * Lines 4 and 6 are kvm_hypercall lines that are not in trace.h's form (a3 missing; a0 with 17
 * digits, too wide for an unsigned long); line 8 is a good one.
 */
const MALFORMED = `cpus=4
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.400437: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.400874: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.401311: kvm_hypercall:        nr 0xa a0 0x2 a1 0x0 a2 0x0
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.401748: kvm_apic_accept_irq:  apicid 1 vec 253 (Fixed|edge)
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.402185: kvm_hypercall:        nr 0xa a0 0x10000000000000002 a1 0x0 a2 0x0 a3 0xfd
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.402622: kvm_apic_accept_irq:  apicid 1 vec 253 (Fixed|edge)
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.403059: kvm_hypercall:        nr 0xa a0 0x2 a1 0x0 a2 0x0 a3 0xfd
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.403496: kvm_apic_accept_irq:  apicid 1 vec 253 (Fixed|edge)
`;

describe('importTrace: a malformed kvm_hypercall line', () => {
  const { scenario, report, mismatches } = replay(MALFORMED);

  it('is reported as not understood, naming its line and what is wrong', () => {
    expect(report.notUnderstood.map((l) => [l.line, l.reason])).toEqual([
      [4, 'kvm_hypercall fields not in the form "nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx"'],
      [6, 'kvm_hypercall: a0 0x10000000000000002 does not fit in 64 bits'],
    ]);
    expect(report.notUnderstood[0].text).toContain('kvm_hypercall:        nr 0xa a0 0x2 a1 0x0 a2 0x0');
    expect(report.skipped.find((s) => s.line === 5)?.reason).toBe('follows the kvm_hypercall on line 4, which was not understood: its cause is unknown, so it is not a check');
  });

  it('changes nothing else: the steps are those of the trace without the two lines', () => {
    const lines = MALFORMED.split('\n');
    const without = lines.map((l, i) => (i === 3 || i === 5 ? '# (line left out)' : l)).join('\n');
    const clean = importTrace(without);
    expect(scenario.steps).toEqual(clean.scenario.steps);
    expect(scenario.vm).toEqual(clean.scenario.vm);
    expect(scenario.steps.map((s) => s.op)).toEqual(['mmio_write', 'mmio_write', 'pv_send_ipi']);
    expect(report.checks).toEqual([{ step: 2, lines: [9], delivered: [fixed(1, 253)] }]);
    expect(mismatches).toEqual([]);
  });
});

/**
 * A 32-bit guest's PV IPI: each bitmap covers 32 IDs, so a1 = 0x4 names APIC ID 32 + 2 = 34
 * (a 64-bit guest's would name 66). vCPU 34 prints as "apicid 22".
 */
const PV_IPI_32 = `cpus=4
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.500437: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 1/KVM-7122  [002]  9801.500874: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:       CPU 34/KVM-7125  [000]  9801.501311: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.501748: kvm_hypercall:        nr 0xa a0 0x2 a1 0x4 a2 0x0 a3 0xfd
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.502185: kvm_apic_accept_irq:  apicid 1 vec 253 (Fixed|edge)
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.502622: kvm_apic_accept_irq:  apicid 22 vec 253 (Fixed|edge)
`;

describe('importTrace: the guest\'s mode (options.hypercall64)', () => {
  it('with { hypercall64: false } imports op64: false, and the replay reaches the traced vCPUs', () => {
    const { scenario, report, result, mismatches } = replay(PV_IPI_32, { hypercall64: false });
    expect(scenario.steps[3]).toMatchObject({ op: 'pv_send_ipi', op64: false, note: expect.stringMatching(/a 32-bit guest \(\{ hypercall64: false \}\): KVM cuts every register to 32 bits/) });
    expect(mismatches).toEqual([]);
    expect(field(result.steps[3], 'delivered')).toEqual([fixed(1, 253), fixed(34, 253)]);
    expect(report.notes.join('\n')).toMatch(/read as a 32-bit guest's \(\{ hypercall64: false \}: op64 false/);
  });

  it('by default assumes a 64-bit guest, and the check shows where that is wrong', () => {
    const { scenario, mismatches } = replay(PV_IPI_32);
    expect(scenario.steps[3]).not.toHaveProperty('op64');
    expect(mismatches).toEqual([{ where: 'step 3 (pv_send_ipi).delivered', expected: [fixed(1, 253), fixed(34, 253)], actual: [fixed(1, 253)] }]);
  });

  it('refuses an option that is not a boolean', () => {
    expect(() => importTrace(PV_IPI_32, { hypercall64: 'no' as unknown as boolean })).toThrow(TraceImportError);
  });
});

describe('importTrace: the lab\'s own trace of PV IPIs', () => {
  it('imports back as the same pv_send_ipi steps, replaying to the same deliveries', () => {
    const steps = [
      ...[0, 1, 2, 3].map((vcpu) => ({ op: 'mmio_write', vcpu, offset: '0x0f0', value: '0x1ff' })),
      { op: 'pv_send_ipi', vcpu: 0, bitmapLow: '0xe', bitmapHigh: '0x0', min: '0x0', icr: '0xfd' },
      { op: 'pv_send_ipi', vcpu: 3, bitmapLow: '0x3', bitmapHigh: '0x0', min: '0x1', icr: '0x4fc' }, // NMI
      { op: 'pv_send_ipi', vcpu: 1, bitmapLow: '0x1', bitmapHigh: '0x0', min: '0x0', icr: '0x8fd' }, // logical: -KVM_EINVAL
    ];
    const ran = runScenario(parseScenario({ format: 'apic-scenario/1', vm: { vcpus: 4 }, steps }), { trace: true });
    const text = traceToText(ran.steps.map((s) => s.trace ?? []));
    expect(text).toMatch(/CPU 0\/KVM-1234 \[000\] [\d.]+: kvm_hypercall: +nr 0xa a0 0xe a1 0x0 a2 0x0 a3 0xfd\n/);
    const { scenario, report } = importTrace(text);
    expect(scenario.steps.map(({ note: _n, expect: _e, ...s }) => s)).toEqual(steps);
    expect(scenario.steps[6]).not.toHaveProperty('expect'); // refused: nothing sent, nothing to check
    expect(scenario.steps[6].note).toMatch(/the ICR has a logical destination, which KVM refuses \(-KVM_EINVAL\): nothing is sent/);
    expect(report.checks.map((c) => c.step)).toEqual([4, 5]);
    const imported = parseScenario(JSON.parse(JSON.stringify(scenario)));
    const replayed = runScenario(imported);
    expect(checkExpectations(imported, replayed)).toEqual([]);
    expect(replayed.steps.map((s) => field(s, 'delivered'))).toEqual(ran.steps.map((s) => field(s, 'delivered')));
    expect(replayed.steps.map((s) => field(s, 'ret'))).toEqual(ran.steps.map((s) => field(s, 'ret')));
  });
});
