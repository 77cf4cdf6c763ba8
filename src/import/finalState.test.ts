/**
 * The end state a trace proves (finalState.ts): what becomes the imported scenario's expectFinal,
 * what a later event takes back out, and that the replay meets it. The real captures are tested in
 * realTraces.test.ts; the last test here holds every claim on the kernel's own captures against
 * the state the kernel reported.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkExpectations, matchPartial } from '../scenario/expect';
import { runScenario } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';
import { importTrace, TraceImportError, type TraceImportOptions } from './traceCmd';

function replay(text: string, options: TraceImportOptions = {}) {
  const { scenario, report } = importTrace(text, options);
  const parsed = parseScenario(JSON.parse(JSON.stringify(scenario)));
  return { scenario, report, mismatches: checkExpectations(parsed, runScenario(parsed)) };
}

/** An xAPIC VM on VMX, kvm_entry traced: vCPU 0 sets up its registers and does not run again; vCPU 1 does. */
const XAPIC = `  CPU 0/KVM-10  [000]  1.000: kvm_exit: vcpu 0 reason APIC_ACCESS rip 0x0 info1 0x0 info2 0x0 intr_info 0x0 error_code 0x0
  CPU 0/KVM-10  [000]  1.001: kvm_apic: apic_write APIC_SPIV = 0x1ff
  CPU 0/KVM-10  [000]  1.002: kvm_apic: apic_write APIC_TASKPRI = 0x1234
  CPU 0/KVM-10  [000]  1.003: kvm_apic: apic_write APIC_LDR = 0x3000001
  CPU 0/KVM-10  [000]  1.004: kvm_apic: apic_write APIC_DFR = 0x0
  CPU 0/KVM-10  [000]  1.005: kvm_apic: apic_write APIC_ID = 0x5000000
  CPU 0/KVM-10  [000]  1.006: kvm_apic: apic_write APIC_EOI = 0x0
  CPU 0/KVM-10  [000]  1.007: kvm_eoi: apicid 0 vector -1
  CPU 1/KVM-11  [001]  1.010: kvm_apic: apic_write APIC_SPIV = 0x1ff
  CPU 1/KVM-11  [001]  1.011: kvm_apic: apic_write APIC_TASKPRI = 0x20
  CPU 1/KVM-11  [001]  1.012: kvm_entry: vcpu 1, rip 0x0
`;

describe('expectFinal: what a trace proves about its end state', () => {
  it('claims the last value of each register, each with the line that proves it, and the replay meets it', () => {
    const { scenario, report, mismatches } = replay(XAPIC);
    expect(scenario.expectFinal).toEqual({
      vcpus: [
        { vcpu: 0, swEnabled: true, tpr: '0x34', ldr: '0x3000000', dfr: '0xfffffff', xapicId: 5, isr: [] },
        { vcpu: 1, swEnabled: true },
      ],
    });
    expect(report.final.map((f) => [f.path, f.line])).toEqual([
      ['final.vcpus[0].swEnabled', 2], ['final.vcpus[0].tpr', 3], ['final.vcpus[0].ldr', 4], ['final.vcpus[0].dfr', 5],
      ['final.vcpus[0].xapicId', 6], ['final.vcpus[0].isr', 8], ['final.vcpus[1].swEnabled', 9],
    ]);
    expect(report.final.find((f) => f.path.endsWith('isr'))?.why).toMatch(/vector -1/);
    expect(mismatches).toEqual([]);
  });

  it('leaves out TPR and ISR once the guest runs again, and says so', () => {
    const { report } = replay(XAPIC);
    expect(report.finalLeftOut).toEqual([{ path: 'final.vcpus[1].tpr', line: 10, vcpu: 1, why: expect.stringMatching(/runs again on line 11 \(kvm_entry\)/) }]);
  });

  it('leaves out TPR and ISR when the trace has no kvm_entry to show the guest did not run', () => {
    const { scenario, report } = replay(XAPIC.replace(/^.*kvm_entry.*\n/m, ''));
    expect(scenario.expectFinal?.vcpus).toEqual([{ vcpu: 0, swEnabled: true, ldr: '0x3000000', dfr: '0xfffffff', xapicId: 5 }, { vcpu: 1, swEnabled: true }]);
    expect(report.finalLeftOut.map((f) => f.path).sort()).toEqual(['final.vcpus[0].isr', 'final.vcpus[0].tpr', 'final.vcpus[1].tpr']);
    expect(report.finalLeftOut[0].why).toMatch(/no kvm_entry events/);
  });

  it('an INIT takes back what KVM resets when it processes it', () => {
    const init = `${XAPIC}  CPU 0/KVM-10  [000]  1.100: kvm_apic: apic_write APIC_ICR2 = 0x1000000
  CPU 0/KVM-10  [000]  1.101: kvm_apic: apic_write APIC_ICR = 0xc500
  CPU 0/KVM-10  [000]  1.102: kvm_apic_ipi: dst 1 vec 0 (INIT|physical|assert|level|dst)
  CPU 0/KVM-10  [000]  1.103: kvm_apic_accept_irq: apicid 1 vec 0 (INIT|level)
`;
    const { scenario, report, mismatches } = replay(init);
    expect(scenario.expectFinal?.vcpus).toEqual([expect.objectContaining({ vcpu: 0, swEnabled: true }), { vcpu: 1 }]);
    expect(report.finalLeftOut.find((f) => f.path === 'final.vcpus[1].swEnabled')?.why).toMatch(/INIT arrives on line 15/);
    expect(mismatches).toEqual([]);
    // Without kvm_apic_accept_irq in the trace, an INIT may have reached any vCPU.
    const blind = replay(init.replace(/^.*kvm_apic_accept_irq.*\n/m, ''));
    expect(blind.scenario.expectFinal).toBeUndefined();
    expect(blind.report.finalLeftOut.find((f) => f.path === 'final.vcpus[0].swEnabled')?.why).toMatch(/INIT sent on line 13, in a trace without kvm_apic_accept_irq/);
  });

  it('an x2APIC EOI that finds ISR empty proves it empty (the EOI comes before its kvm_msr)', () => {
    const { scenario, mismatches } = replay(`  CPU 0/KVM-10  [000]  1.0: kvm_msr: msr_write 1b = 0xfee00d00
  CPU 0/KVM-10  [000]  1.1: kvm_apic: apic_write APIC_EOI = 0x0
  CPU 0/KVM-10  [000]  1.2: kvm_eoi: apicid 0 vector -1
  CPU 0/KVM-10  [000]  1.3: kvm_msr: msr_write 80b = 0x0
  CPU 1/KVM-11  [001]  1.4: kvm_entry: vcpu 1, rip 0x0
`);
    expect(scenario.expectFinal?.vcpus).toEqual([{ vcpu: 0, apicBase: '0xfee00d00', mode: 'x2apic', isr: [] }, { vcpu: 1 }]);
    expect(mismatches).toEqual([]);
  });

  it('a write the replay does not have takes back what it may change: on an unknown thread, for every vCPU', () => {
    const other = `${XAPIC}  qemu-99  [000]  2.000: kvm_apic: apic_write APIC_SPIV = 0xff\n`;
    const { scenario, report } = replay(other);
    expect(scenario.expectFinal?.vcpus).toEqual([{ vcpu: 0, tpr: '0x34', ldr: '0x3000000', dfr: '0xfffffff', xapicId: 5, isr: [] }, { vcpu: 1 }]);
    expect(report.finalLeftOut.filter((f) => f.path.endsWith('swEnabled')).map((f) => f.why)).toEqual([
      expect.stringMatching(/thread qemu-99, which no vCPU is tied to, writes APIC_SPIV on line 12/),
      expect.stringMatching(/thread qemu-99/),
    ]);
    // Tied to vCPU 0 by hand, the write is a step, and the last SPIV value of vCPU 0.
    const tied = replay(other, { threads: { 99: 0 } });
    expect(tied.scenario.expectFinal?.vcpus).toEqual([expect.objectContaining({ vcpu: 0, swEnabled: false }), { vcpu: 1, swEnabled: true }]);
    expect(tied.mismatches).toEqual([]);
  });

  it('a thread left out by options.threads is a thread whose writes the replay does not have', () => {
    const { scenario, report } = replay(XAPIC, { threads: { 11: null } });
    expect(scenario.vm.vcpus).toEqual([0]);
    expect(report.unresolvedThreads).toEqual([expect.objectContaining({ pid: 11, comm: 'CPU 1/KVM', reason: expect.stringMatching(/left out: options\.threads/) })]);
    // Its TPR and SPIV writes may have been any vCPU's; its kvm_entry names vCPU 1, not vCPU 0.
    expect(scenario.expectFinal?.vcpus).toEqual([{ vcpu: 0, ldr: '0x3000000', dfr: '0xfffffff', xapicId: 5, isr: [] }]);
  });

  it('a line not understood or lost events take back every claim before them', () => {
    const bad = replay(`${XAPIC}this is not a trace line\n`);
    expect(bad.scenario.expectFinal).toBeUndefined();
    expect(bad.report.final).toEqual([]);
    expect(bad.report.finalLeftOut.filter((f) => /^line 12: a line not understood/.test(f.why))).toHaveLength(7);
    const lost = replay(`CPU:1 [LOST 7 EVENTS]\n${XAPIC}`);
    expect(lost.scenario.expectFinal).toBeDefined(); // lost before the claims: they stand
  });

  it('APICBASE accesses prove the base and the mode; an x2APIC access proves the mode', () => {
    const { scenario, report, mismatches } = replay(`  CPU 0/KVM-10  [000]  1.0: kvm_msr: msr_write 1b = 0xfee00d00
  CPU 0/KVM-10  [000]  1.1: kvm_apic: apic_read APIC_LDR = 0x1
  CPU 0/KVM-10  [000]  1.2: kvm_msr: msr_read 80d = 0x1
  CPU 2/KVM-12  [000]  1.3: kvm_msr: msr_read 802 = 0x2
`);
    expect(scenario.expectFinal?.vcpus).toEqual([
      { vcpu: 0, apicBase: '0xfee00d00', mode: 'x2apic', ldr: '0x1' },
      { vcpu: 2, mode: 'x2apic', x2apicId: 2 },
    ]);
    expect(report.final.find((f) => f.path === 'final.vcpus[0].mode')?.line).toBe(3);
    expect(mismatches).toEqual([]);
  });

  it('KVM_CAP_X2APIC_API inferred from an MSI stays proven to the end', () => {
    const { scenario, report } = replay('  vmm-5  [000]  1.0: kvm_msi_set_irq: dst 100 vec 71 (Fixed|physical|edge)\n');
    expect(scenario.expectFinal).toEqual({ caps: { x2apicFormat: true } });
    expect(report.final).toEqual([expect.objectContaining({ path: 'final.caps.x2apicFormat', value: true, line: 1 })]);
  });

  it('options.threads must name vCPU ids KVM accepts, or null', () => {
    for (const bad of [-1, 1.5, 16384, Number.NaN]) {
      let err: unknown;
      try {
        importTrace(XAPIC, { threads: { 11: bad } });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TraceImportError);
      expect(err).toMatchObject({ pid: '11', message: expect.stringMatching(/options\.threads\["11"\] is .*: a vCPU id is a whole number from 0 to 16383/) });
    }
  });
});

describe('expectFinal on the kernel\'s own captures (testdata/captured/)', () => {
  const root = join(import.meta.dirname, 'testdata', 'captured');
  const dirs = existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'result.json'))).map((d) => d.name) : [];
  it.each(dirs.flatMap((d) => ['report.txt', 'report-l.txt', 'trace.txt'].map((f) => [d, f])))('%s/%s: every value claimed is the kernel\'s', (dir, f) => {
    const kernel = JSON.parse(readFileSync(join(root, dir, 'result.json'), 'utf8')) as { final: { vcpus: Record<string, unknown>[] } };
    const { report } = importTrace(readFileSync(join(root, dir, f), 'utf8'));
    for (const c of report.final.filter((x) => x.vcpu !== undefined)) {
      const real = kernel.final.vcpus.find((v) => v.vcpu === c.vcpu);
      const field = c.path.slice(c.path.lastIndexOf('.') + 1);
      // The kernel reports every field the importer claims (but TPR and ISR, never claimed here), except
      // xapicId for a vCPU in x2APIC mode: a claim it has no value for is a claim about the wrong mode.
      expect(real && field in real, `${c.path} (line ${c.line}) is not in the kernel's final state`).toBe(true);
      expect(matchPartial(c.value, real![field], c.path)).toEqual([]);
    }
  });
});
