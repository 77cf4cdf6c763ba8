import { describe, expect, it } from 'vitest';
import { parseScenario } from '../scenario/schema';
import { runScenario } from '../scenario/runner';
import { checkExpectations } from '../scenario/expect';
import { importTrace, MAX_LINE_LENGTH, TraceImportError } from './traceCmd';
import { field } from '../scenario/result';

/** Import, validate with the project's parser, replay, and return everything. */
function replay(text: string, options = {}) {
  const { scenario, report } = importTrace(text, options);
  const parsed = parseScenario(JSON.parse(JSON.stringify(scenario)));
  const result = runScenario(parsed);
  return { scenario, report, parsed, result, mismatches: checkExpectations(parsed, result) };
}

const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

/**
 * A Linux guest (recent kernel, no APICv) bringing up its AP in x2APIC mode, as `trace-cmd report`
 * prints it: the BSP enables x2APIC, reads its ID, software-enables its APIC, then sends
 * INIT (assert), INIT (de-assert) and SIPI through the x2APIC ICR; the AP then enables x2APIC.
 * Order inside an x2APIC ICR write is KVM's: kvm_apic_ipi, kvm_apic_accept_irq,
 * kvm_apic (kvm_x2apic_icr_write traces after sending), then kvm_msr (after the write).
 */
const X2APIC_BOOT = `version = 6
CPU 3 is empty
cpus=4
       CPU 0/KVM-4101  [002]   105.100000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff81068c39 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-4101  [002]   105.100002: kvm_msr:              msr_write 1b = 0xfee00d00
       CPU 0/KVM-4101  [002]   105.100003: kvm_entry:            vcpu 0, rip 0xffffffff81068c3b
       CPU 0/KVM-4101  [002]   105.100010: kvm_exit:             vcpu 0 reason MSR_READ rip 0xffffffff81068d10 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-4101  [002]   105.100011: kvm_apic:             apic_read APIC_ID = 0x0
       CPU 0/KVM-4101  [002]   105.100012: kvm_msr:              msr_read 802 = 0x0
       CPU 0/KVM-4101  [002]   105.100013: kvm_entry:            vcpu 0, rip 0xffffffff81068d12
       CPU 0/KVM-4101  [002]   105.100020: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff81068e01 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-4101  [002]   105.100021: kvm_apic:             apic_write APIC_SPIV = 0x1ff
       CPU 0/KVM-4101  [002]   105.100022: kvm_msr:              msr_write 80f = 0x1ff
       CPU 0/KVM-4101  [002]   105.100023: kvm_entry:            vcpu 0, rip 0xffffffff81068e03
       CPU 0/KVM-4101  [002]   105.200000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff8106a120 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-4101  [002]   105.200001: kvm_apic_ipi:         dst 1 vec 0 (INIT|physical|assert|level|dst)
       CPU 0/KVM-4101  [002]   105.200002: kvm_apic_accept_irq:  apicid 1 vec 0 (INIT|level)
       CPU 0/KVM-4101  [002]   105.200003: kvm_apic:             apic_write APIC_ICR = 0x10000c500
       CPU 0/KVM-4101  [002]   105.200004: kvm_msr:              msr_write 830 = 0x10000c500
       CPU 0/KVM-4101  [002]   105.200005: kvm_entry:            vcpu 0, rip 0xffffffff8106a122
       CPU 0/KVM-4101  [002]   105.210000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff8106a120 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-4101  [002]   105.210001: kvm_apic_ipi:         dst 1 vec 0 (INIT|physical|de-assert|level|dst)
       CPU 0/KVM-4101  [002]   105.210002: kvm_apic_accept_irq:  apicid 1 vec 0 (INIT|level)
       CPU 0/KVM-4101  [002]   105.210003: kvm_apic:             apic_write APIC_ICR = 0x100008500
       CPU 0/KVM-4101  [002]   105.210004: kvm_msr:              msr_write 830 = 0x100008500
       CPU 0/KVM-4101  [002]   105.210005: kvm_entry:            vcpu 0, rip 0xffffffff8106a122
       CPU 0/KVM-4101  [002]   105.220000: kvm_exit:             vcpu 0 reason MSR_WRITE rip 0xffffffff8106a180 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-4101  [002]   105.220001: kvm_apic_ipi:         dst 1 vec 153 (SIPI|physical|de-assert|edge|dst)
       CPU 0/KVM-4101  [002]   105.220002: kvm_apic_accept_irq:  apicid 1 vec 153 (SIPI|edge)
       CPU 0/KVM-4101  [002]   105.220003: kvm_apic:             apic_write APIC_ICR = 0x100000699
       CPU 0/KVM-4101  [002]   105.220004: kvm_msr:              msr_write 830 = 0x100000699
       CPU 0/KVM-4101  [002]   105.220005: kvm_entry:            vcpu 0, rip 0xffffffff8106a182
       CPU 1/KVM-4102  [001]   105.230000: kvm_entry:            vcpu 1, rip 0x0
       CPU 1/KVM-4102  [001]   105.240000: kvm_exit:             vcpu 1 reason MSR_WRITE rip 0xffffffff81068c39 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 1/KVM-4102  [001]   105.240001: kvm_msr:              msr_write 1b = 0xfee00c00
       CPU 1/KVM-4102  [001]   105.240002: kvm_entry:            vcpu 1, rip 0xffffffff81068c3b
       CPU 1/KVM-4102  [001]   105.240010: kvm_exit:             vcpu 1 reason MSR_READ rip 0xffffffff81068d10 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 1/KVM-4102  [001]   105.240011: kvm_apic:             apic_read APIC_ID = 0x1
       CPU 1/KVM-4102  [001]   105.240012: kvm_msr:              msr_read 802 = 0x1
       CPU 1/KVM-4102  [001]   105.240013: kvm_entry:            vcpu 1, rip 0xffffffff81068d12
       CPU 1/KVM-4102  [001]   105.240020: kvm_exit:             vcpu 1 reason MSR_WRITE rip 0xffffffff81068f00 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 1/KVM-4102  [001]   105.240021: kvm_apic:             apic_write APIC_ID = 0x5000000
       CPU 1/KVM-4102  [001]   105.240022: kvm_msr:              msr_write 802 = 0x5000000 (#GP)
       CPU 1/KVM-4102  [001]   105.240023: kvm_entry:            vcpu 1, rip 0xffffffff81068f00
`;

/**
 * An xAPIC guest as the tracefs \`trace\` file prints it (latency flags, header comments): TPR,
 * PPR, ICR2/ICR (a Fixed IPI), the receiver taking and EOI-ing the vector, a device MSI, a timer
 * interrupt accepted in hard-IRQ context and an unrelated scheduler event.
 */
const XAPIC_MMIO = `# tracer: nop
#
# entries-in-buffer/entries-written: 27/27   #P:4
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
       CPU 1/KVM-5002    [003] d..1.   200.000050: kvm_exit: vcpu 1 reason APIC_ACCESS rip 0xffffffff81060a10 info1 0x00000000000010f0 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 1/KVM-5002    [003] .....   200.000051: kvm_mmio: mmio write len 4 gpa 0xfee000f0 val 0x1ff
       CPU 1/KVM-5002    [003] .....   200.000052: kvm_apic: apic_write APIC_SPIV = 0x1ff
       CPU 1/KVM-5002    [003] d..1.   200.000053: kvm_entry: vcpu 1, rip 0xffffffff81060a16
       CPU 0/KVM-5001    [001] d..1.   200.000100: kvm_exit: vcpu 0 reason APIC_ACCESS rip 0xffffffff81060a10 info1 0x00000000000010f0 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-5001    [001] .....   200.000101: kvm_apic: apic_write APIC_SPIV = 0x1ff
       CPU 0/KVM-5001    [001] d..1.   200.000102: kvm_entry: vcpu 0, rip 0xffffffff81060a16
       CPU 0/KVM-5001    [001] d..1.   200.000200: kvm_exit: vcpu 0 reason APIC_ACCESS rip 0xffffffff81060b20 info1 0x0000000000001080 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
       CPU 0/KVM-5001    [001] .....   200.000201: kvm_apic: apic_write APIC_TASKPRI = 0x20
       CPU 0/KVM-5001    [001] d..1.   200.000202: kvm_entry: vcpu 0, rip 0xffffffff81060b26
       CPU 0/KVM-5001    [001] .....   200.000300: kvm_apic: apic_read APIC_PROCPRI = 0x20
       CPU 0/KVM-5001    [001] .....   200.000301: kvm_mmio: mmio read len 4 gpa 0xfee000a0 val 0x20
       CPU 0/KVM-5001    [001] .....   200.000400: kvm_apic: apic_write APIC_ICR2 = 0x1000000
       CPU 0/KVM-5001    [001] .....   200.000401: kvm_apic: apic_write APIC_ICR = 0x4030
       CPU 0/KVM-5001    [001] .....   200.000402: kvm_apic_ipi: dst 1 vec 48 (Fixed|physical|assert|edge|dst)
       CPU 0/KVM-5001    [001] .....   200.000403: kvm_apic_accept_irq: apicid 1 vec 48 (Fixed|edge)
       CPU 0/KVM-5001    [001] d..1.   200.000404: kvm_entry: vcpu 0, rip 0xffffffff81060c00
          <idle>-0       [002] d.h1.   200.000500: kvm_apic_accept_irq: apicid 0 vec 236 (Fixed|edge)
       CPU 1/KVM-5002    [003] d..1.   200.000600: kvm_inj_virq: IRQ 0x30
       CPU 1/KVM-5002    [003] .....   200.000700: kvm_apic: apic_write APIC_EOI = 0x0
       CPU 1/KVM-5002    [003] .....   200.000701: kvm_eoi: apicid 1 vector 48
       CPU 1/KVM-5002    [003] .....   200.000702: kvm_apic: apic_read APIC_TMCCT = 0x1234
         vhost-5003      [000] d..1.   200.000800: kvm_msi_set_irq: dst 1 vec 34 (Fixed|physical|edge)
         vhost-5003      [000] d..1.   200.000801: kvm_apic_accept_irq: apicid 1 vec 34 (Fixed|edge)
          <idle>-0       [002] d..2.   200.000900: sched_switch: prev_comm=swapper/2 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=CPU 0/KVM next_pid=5001 next_prio=120
`;

describe('importTrace: a Linux guest booting an AP in x2APIC mode (trace-cmd report)', () => {
  const { scenario, report, result, mismatches } = replay(X2APIC_BOOT);

  it('finds the vCPUs from kvm_entry/kvm_exit and the QEMU thread names', () => {
    expect(scenario.vm.vcpus).toEqual([0, 1]);
    expect(report.source).toBe('trace-cmd');
    expect(report.vcpus.map((v) => [v.vcpu, v.threads[0].pid])).toEqual([[0, 4101], [1, 4102]]);
    expect(report.vcpus[0].how).toMatch(/kvm_exit on line 4 names vCPU 0/);
    expect(report.unresolvedThreads).toEqual([]);
  });

  it('turns each MSR access into one step and folds the kvm_apic halves into it', () => {
    expect(scenario.steps.map((s) => `${s.op} ${s.vcpu} ${s.msr}`)).toEqual([
      'wrmsr 0 0x1b', 'rdmsr 0 0x802', 'wrmsr 0 0x80f', 'wrmsr 0 0x830', 'wrmsr 0 0x830', 'wrmsr 0 0x830',
      'wrmsr 1 0x1b', 'rdmsr 1 0x802', 'wrmsr 1 0x802',
    ]);
    expect(scenario.steps[0]).toMatchObject({ value: '0xfee00d00', expect: { ok: true }, note: expect.stringMatching(/^trace line 5: /) });
    expect(scenario.steps[1]).toMatchObject({ expect: { ok: true, value: '0x0' } });
    expect(scenario.steps[8]).toMatchObject({ value: '0x5000000', expect: { ok: false, fault: '#GP' } });
    const apicRead = lineOf(X2APIC_BOOT, 'apic_read APIC_ID = 0x0');
    expect(report.skipped.find((s) => s.line === apicRead)?.reason).toMatch(/inside the RDMSR on line \d+: the same access, not an MMIO one/);
    expect(report.steps[3]).toMatchObject({ op: 'wrmsr', line: lineOf(X2APIC_BOOT, 'msr_write 830 = 0x10000c500'), alsoLines: [16, 18] });
  });

  it('attaches the accepted INIT and SIPI as checks, and drops the ignored INIT de-assert', () => {
    expect(scenario.steps[3].expect).toEqual({ ok: true, delivered: [{ vcpu: 1, mode: 'INIT', vector: 0 }] });
    expect(scenario.steps[4].expect).toEqual({ ok: true });
    expect(scenario.steps[5].expect).toEqual({ ok: true, delivered: [{ vcpu: 1, mode: 'StartUp', vector: 153 }] });
    expect(report.checks.map((c) => c.step)).toEqual([3, 5]);
    const deassert = lineOf(X2APIC_BOOT, '105.210002');
    expect(report.skipped.find((s) => s.line === deassert)?.reason).toMatch(/level-triggered de-assert/);
  });

  it('replays in the lab with every expectation met', () => {
    expect(mismatches).toEqual([]);
    expect(field(result.steps[3], 'delivered')).toEqual([{ vcpu: 1, mode: 'INIT', vector: 0 }]);
    expect(result.final.vcpus[1]).toMatchObject({ mode: 'x2apic', sipiVector: 153 });
  });

  it('says what a trace cannot show', () => {
    expect(report.notes.join('\n')).toMatch(/APICv\/AVIC handles without a VM exit .* absent from the trace/);
    expect(report.notes.join('\n')).toMatch(/starts every vCPU at RESET/);
  });
});

describe('importTrace: an xAPIC guest using MMIO (ftrace trace file)', () => {
  const { scenario, report, result, mismatches } = replay(XAPIC_MMIO);

  it('reads the ftrace format and its flags', () => {
    expect(report.source).toBe('ftrace');
    expect(scenario.vm.vcpus).toEqual([0, 1]);
    expect(report.notUnderstood).toEqual([]);
  });

  it('maps register names to offsets and keeps the trace order', () => {
    expect(scenario.steps.map((s) => `${s.op} ${s.vcpu ?? '-'} ${s.offset ?? ''}`.trim())).toEqual([
      'mmio_write 1 0x0f0', 'mmio_write 0 0x0f0', 'mmio_write 0 0x080', 'mmio_read 0 0x0a0',
      'mmio_write 0 0x310', 'mmio_write 0 0x300', 'ack 1', 'mmio_write 1 0x0b0', 'mmio_read 1 0x390', 'msi -',
    ]);
    expect(scenario.steps[3].expect).toEqual({ ok: true, value: '0x20' });
    expect(scenario.steps[5].expect).toEqual({ delivered: [{ vcpu: 1, mode: 'Fixed', vector: 48 }] });
    expect(scenario.steps[6].expect).toEqual({ vector: 48 });
    expect(scenario.steps[8].expect).toEqual({ ok: true }); // TMCCT: the lab's timer does not run
    expect(scenario.steps[9]).toMatchObject({ addressLo: '0xfee01000', addressHi: '0x0', data: '0x22', expect: { delivered: [{ vcpu: 1, mode: 'Fixed', vector: 34 }] } });
  });

  it('explains every skipped APIC event', () => {
    const why = (needle: string) => report.skipped.find((s) => s.line === lineOf(XAPIC_MMIO, needle))?.reason;
    expect(why('apicid 0 vec 236')).toMatch(/interrupt context|no traced cause/);
    expect(why('kvm_apic_ipi: dst 1 vec 48')).toMatch(/the IPI sent by the ICR write on line \d+/);
    expect(why('kvm_eoi:')).toMatch(/recomputes it from the APIC_EOI write/);
    expect(report.warnings.map((w) => w.message).join('\n')).toMatch(/APIC_TMCCT .* not checked/);
    expect(report.otherEvents.sched_switch).toBe(1);
    expect(report.otherEvents.kvm_mmio).toBe(2);
  });

  it('replays with every expectation met', () => {
    expect(mismatches).toEqual([]);
    expect(result.final.vcpus[0]).toMatchObject({ tpr: '0x20', swEnabled: true });
    expect(result.final.vcpus[1]).toMatchObject({ irr: [34], isr: [] });
  });
});

describe('importTrace: vCPU inference', () => {
  const ANON = `  <...>-9001  [000]  10.000001: kvm_msr: msr_write 1b = 0xfee00d00
  <...>-9001  [000]  10.000002: kvm_msr: msr_read 1b = 0xfee00d00
`;

  it('skips events of a thread it cannot tie to a vCPU, and says how to fix it', () => {
    const { scenario, report } = importTrace(ANON);
    expect(scenario.steps).toEqual([]);
    expect(scenario.vm.vcpus).toEqual([0]);
    expect(report.unresolvedThreads).toEqual([expect.objectContaining({ pid: 9001, apicEvents: 2, reason: expect.stringMatching(/options\.threads/) })]);
    expect(report.skipped[0]).toMatchObject({ line: 1, reason: expect.stringMatching(/vCPU unknown/) });
  });

  it('takes the vCPU from options.threads', () => {
    const { scenario, report, mismatches } = replay(ANON, { threads: { 9001: 0 } });
    expect(scenario.steps).toHaveLength(2);
    expect(report.vcpus[0].how).toMatch(/options\.threads/);
    expect(mismatches).toEqual([]);
  });

  it('prefers kvm_entry over the thread name and says when they disagree', () => {
    const text = `  CPU 2/KVM-7003  [001]  10.0: kvm_entry: vcpu 4, rip 0xfff0
  CPU 2/KVM-7003  [001]  10.1: kvm_msr: msr_write 1b = 0xfee00000
`;
    const { scenario, report } = importTrace(text);
    expect(scenario.vm.vcpus).toEqual([4]);
    expect(scenario.steps[0]).toMatchObject({ vcpu: 4 });
    expect(report.warnings[0].message).toMatch(/runs vCPU 4 .* not 2/);
  });

  it('uses the QEMU name when nothing better exists, and says what it assumes', () => {
    const { report } = importTrace('  CPU 3/KVM-7004  [001]  10.0: kvm_msr: msr_read 1b = 0xfee00800\n');
    expect(report.vcpus).toEqual([expect.objectContaining({ vcpu: 3, how: expect.stringMatching(/assumes vcpu_id = QEMU CPU index/) })]);
  });

  it('sets up the x2APIC mode an access proves when the trace does not show the enable, and warns', () => {
    const { scenario, report, mismatches } = replay('  CPU 0/KVM-1  [000]  1.0: kvm_msr: msr_read 802 = 0x0\n');
    expect(report.warnings.map((w) => w.message).join('\n')).toMatch(/never shows it enabling x2APIC.*IA32_APIC_BASE = 0xfee00d00 just before \(inferred: the base address and BSP bit are those of RESET\)/);
    expect(scenario.steps[0]).toMatchObject({ op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00', host: true, note: expect.stringMatching(/^inferred from trace line 1/) });
    expect(report.steps[0]).toMatchObject({ step: 0, line: 1, op: 'wrmsr' });
    expect(mismatches).toEqual([]);
  });

  it('takes no enable to be missing when a traced APICBASE access shows x2APIC mode', () => {
    const { scenario, mismatches } = replay(`  CPU 0/KVM-1  [000]  1.0: kvm_msr: msr_write 1b = 0xfee00d00
  CPU 0/KVM-1  [000]  1.1: kvm_msr: msr_read 802 = 0x0
`);
    expect(scenario.steps.map((s) => s.msr)).toEqual(['0x1b', '0x802']);
    expect(mismatches).toEqual([]);
    // After a traced xAPIC base, the inferred enable keeps that base.
    const relocated = replay(`  CPU 0/KVM-1  [000]  1.0: kvm_msr: msr_write 1b = 0xfee01900
  CPU 0/KVM-1  [000]  1.1: kvm_msr: msr_read 802 = 0x0
`);
    expect(relocated.scenario.steps.map((s) => s.value)).toEqual(['0xfee01900', '0xfee01d00', undefined]);
    expect(relocated.report.warnings[0].message).toMatch(/the last traced ones/);
    expect(relocated.mismatches).toEqual([]);
  });
});

describe('importTrace: other event forms', () => {
  it('imports a legacy-format MSI only when asked, and says so', () => {
    const text = '  kworker/1:2-88  [001]  5.0: kvm_msi_set_irq: dst 1 vec 2f (Fixed|logical|level|rh)\n';
    const cur = importTrace(text);
    expect(cur.scenario.steps).toEqual([]);
    expect(cur.report.notUnderstood[0].reason).toMatch(/legacy format/);
    const legacy = importTrace(text, { msiFormat: 'legacy' });
    expect(legacy.scenario.steps[0]).toMatchObject({ op: 'msi', addressLo: '0xfee0100c', data: '0xc02f' });
  });

  it('reads the older kvm_apic format with a raw offset and skips a Hyper-V APIC MSR with its halves', () => {
    const text = `  CPU 0/KVM-1  [000]  1.0: kvm_apic: apic_write 0x80 = 0x10
  CPU 0/KVM-1  [000]  1.1: kvm_exit: vcpu 0 reason MSR_WRITE rip 0x0 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
  CPU 0/KVM-1  [000]  1.2: kvm_apic: apic_write APIC_EOI = 0x0
  CPU 0/KVM-1  [000]  1.3: kvm_msr: msr_write 40000070 = 0x0
`;
    const { scenario, report } = importTrace(text);
    expect(scenario.steps).toEqual([expect.objectContaining({ op: 'mmio_write', offset: '0x080', value: '0x10' })]);
    expect(report.skipped.map((s) => s.line)).toEqual([4, 3]);
    expect(report.skipped[1].reason).toMatch(/Hyper-V/);
  });

  it('skips MSRs the lab does not model, coalesced accepts and inhibit changes, with reasons', () => {
    const text = `  CPU 0/KVM-1  [000]  1.0: kvm_msr: msr_write 6e0 = 0x12345
  CPU 0/KVM-1  [000]  1.1: kvm_apic_accept_irq: apicid 0 vec 236 (Fixed|edge) (coalesced)
  qemu-system-x86-6961  [055]  1.2: kvm_apicv_inhibit_changed: set reason=2, inhibits=0x4 ABSENT
`;
    const { scenario, report } = importTrace(text);
    expect(scenario.steps).toEqual([]);
    expect(report.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(/MSR 0x6e0 is not an APIC MSR/),
      expect.stringMatching(/coalesced/),
      expect.stringMatching(/APICv inhibit set \(reason 2, inhibits now 0x4 ABSENT\)/),
    ]);
  });

  it('does not take an accept with another vector as caused by the IPI', () => {
    const text = `  CPU 0/KVM-1  [000]  1.0: kvm_apic: apic_write APIC_ICR = 0x40fd
  CPU 0/KVM-1  [000]  1.1: kvm_apic_accept_irq: apicid 0 vec 236 (Fixed|edge)
  CPU 0/KVM-1  [000]  1.2: kvm_apic_accept_irq: apicid 0 vec 253 (Fixed|edge)
`;
    const { scenario, report } = importTrace(text);
    expect(scenario.steps[0].expect).toEqual({ delivered: [{ vcpu: 0, mode: 'Fixed', vector: 253 }] });
    expect(report.skipped[0]).toMatchObject({ line: 2, reason: expect.stringMatching(/not what the step on line 1 sends/) });
  });

  it('reports lost events', () => {
    const { report } = importTrace('CPU:2 [LOST 1234 EVENTS]\n');
    expect(report.warnings[0]).toMatchObject({ line: 1, message: expect.stringMatching(/lost 1234 events on CPU 2/) });
  });
});

describe('importTrace: hostile input', () => {
  it('empty text gives an empty, valid scenario', () => {
    const { scenario, report, result } = replay('');
    expect(scenario.steps).toEqual([]);
    expect(scenario.vm.vcpus).toEqual([0]);
    expect(report.totalLines).toBe(0);
    expect(report.notes).toContain('The trace is empty.');
    expect(result.steps).toEqual([]);
  });

  it('garbage is listed as not understood, with line numbers', () => {
    const { scenario, report } = replay('hello\n\x00\x01binary\u202e\n{"format":"apic-scenario/1"}\n');
    expect(scenario.steps).toEqual([]);
    expect(report.notUnderstood.map((l) => l.line)).toEqual([1, 2, 3]);
    expect(report.notes.join(' ')).toMatch(/No line of the text is a trace event/);
  });

  it('rejects a 10 MB line with a clear message and keeps importing the rest', () => {
    const huge = 'x'.repeat(10 * 1024 * 1024);
    const text = `${huge}\n  CPU 0/KVM-1  [000]  1.0: kvm_msr: msr_read 1b = 0xfee00900\n`;
    const t0 = Date.now();
    const { scenario, report } = importTrace(text);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(report.notUnderstood[0]).toMatchObject({ line: 1, reason: expect.stringContaining(`over the ${MAX_LINE_LENGTH}-character limit`) });
    expect(report.notUnderstood[0].text.length).toBeLessThanOrEqual(160);
    expect(scenario.steps).toHaveLength(1);
  });

  it('numbers that do not fit are rejected, naming the field', () => {
    const text = `  CPU 0/KVM-1  [000]  1.0: kvm_msr: msr_write 1b = 0x1ffffffffffffffffff
  CPU 0/KVM-1  [000]  1.1: kvm_msr: msr_read 1ffffffff = 0x0
  CPU 0/KVM-1  [000]  1.2: kvm_apic_accept_irq: apicid 100000000 vec 1 (Fixed|edge)
  CPU 0/KVM-1  [000]  1.3: kvm_apic_accept_irq: apicid 1 vec 300 (Fixed|edge)
  CPU 0/KVM-1  [000]  1.4: kvm_entry: vcpu 99999999999, rip 0x0
  CPU 0/KVM-1  [000]  1.5: kvm_apic: apic_write APIC_TASKPRI = 0x100000000
`;
    const { scenario, report } = replay(text);
    expect(report.notUnderstood.map((l) => [l.line, l.reason])).toEqual([
      [5, expect.stringMatching(/vCPU id 99999999999 does not fit in 32 bits/)],
      [1, expect.stringMatching(/value 0x1ffffffffffffffffff does not fit in 64 bits/)],
      [2, expect.stringMatching(/msr 0x1ffffffff does not fit in 32 bits/)],
      [3, expect.stringMatching(/apicid \(vcpu_id\) 0x100000000 does not fit in 32 bits/)],
      [4, expect.stringMatching(/vector 300 does not fit in 8 bits/)],
    ]);
    expect(report.skipped.find((s) => s.line === 6)?.reason).toMatch(/does not fit in 32 bits/);
    expect(scenario.steps).toEqual([]);
  });

  it('refuses a non-string', () => {
    expect(() => importTrace(42 as unknown as string)).toThrow(TraceImportError);
  });

  it('caps the number of steps and says so', () => {
    const text = Array.from({ length: 30 }, (_, i) => `  CPU 0/KVM-1  [000]  1.${i}: kvm_msr: msr_read 1b = 0xfee00900`).join('\n');
    const { scenario, report } = importTrace(text, { maxSteps: 10 });
    expect(scenario.steps).toHaveLength(10);
    expect(report.warnings[0].message).toMatch(/20 more steps .* not imported/);
  });
});
