/**
 * Real captures of fixtures run on /dev/kvm (`npm run capture`, see testdata/captured/README.md):
 * each trace, in all three text formats, imports with every event line accounted for, and replays
 * on the model meeting its checks and expectFinal, with the deliveries the kernel reported. What a
 * trace cannot show is named by the importer's warnings, asserted here exactly; the one check that
 * costs is in GAPS. Each final KVM_GET_LAPIC image reads back from the real tools' dumps of it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkExpectations } from '../scenario/expect';
import { imageWords, parseLapicImage } from '../scenario/lapicImage';
import type { ScenarioResult } from '../scenario/result';
import { runScenario } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';
import { importTrace } from './traceCmd';

const root = join(import.meta.dirname, 'testdata', 'captured');
const dirs = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const read = (dir: string, f: string) => readFileSync(join(root, dir, f));
const text = (dir: string, f: string) => readFileSync(join(root, dir, f), 'utf8');
const TRACES = ['report.txt', 'report-l.txt', 'trace.txt'] as const;
type Format = (typeof TRACES)[number];

/** What a line of the file names: the nth line containing `needle` (1-based), and a thread as the format prints it. */
interface Lines {
  L: (needle: string, nth?: number) => number;
  thread: (comm: string, pid: number) => string;
}
function linesOf(t: string, f: Format): Lines {
  const all = t.split('\n');
  return {
    L: (needle, nth = 0) => {
      const hits = all.flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
      if (hits.length <= nth) throw new Error(`no line ${nth} with "${needle}"`);
      return hits[nth];
    },
    // `trace-cmd report -l` cuts task names to 8 characters.
    thread: (comm, pid) => `${f === 'report-l.txt' ? comm.slice(0, 8) : comm}-${pid}`,
  };
}

// The importer's warnings, word for word: what the trace cannot show and what the scenario does about it.
const newestRebuilt = (v: number, send: number, accept: number) => ({
  line: accept,
  message: `vCPU ${v} accepts the interrupt sent on line ${send} (line ${accept}), but nothing traced before rebuilds KVM's optimized APIC map, which leaves out the newest vCPU (the replay creates vCPU ${v} last) until it is rebuilt: something untraced did (KVM_CREATE_VCPU of another vCPU, even a refused one; KVM_SET_LAPIC; KVM_SET_MSRS of IA32_APIC_BASE), or the trace began later. The scenario rebuilds the map just before line ${send} with a KVM_SET_LAPIC of vCPU ${v}'s own image`,
});

/**
 * The warnings each capture's import gives, exactly (from the file's own line numbers, since the
 * formats number lines differently). A capture not listed gives none.
 */
const WARNINGS: Record<string, (l: Lines) => { line: number; message: string }[]> = {
  // KVM_ENABLE_CAP(X2APIC_API) is not traced: the MSI to 0x100 proves it, not where it happened (the fixture: after the first MSI).
  'kvm-aliased-ids-32bit': ({ L }) => [{
    line: L('dst 100 vec 52'),
    message: `KVM_ENABLE_CAP is never traced: line ${L('dst 100 vec 52')} proves that 32-bit IDs (KVM_CAP_X2APIC_API) were on by then, and the scenario enables them first; if the VM enabled them later, the optimized map rebuilt after lines ${L('APIC_SPIV', 0)}, ${L('APIC_SPIV', 1)}, ${L('APIC_SPIV', 2)} and ${L('apic_write APIC_ID')} had no 32-bit IDs, so the sends before line ${L('dst 100 vec 52')} may reach other vCPUs in the replay than in the trace`,
  }],
  // The refused KVM_CREATE_VCPU(1) that rebuilds the map between the two NMIs is not traced (nor is vCPU 1).
  'kvm-create-vcpu-eexist-rebuilds-map': ({ L }) => [newestRebuilt(256, L('kvm_msi_set_irq', 1), L('apicid 100 vec 0 (NMI'))],
  // vCPUs 0 and 2 (KVM_CREATE_VCPU(2) put vCPU 1 in the map) and the KVM_SET/GET_MP_STATE steps are not traced.
  'kvm-pv-unhalted': ({ L }) => [newestRebuilt(1, L('kvm_msi_set_irq'), L('apicid 1 vec 0 (Res3'))],
  // Host KVM_SET_MSRS of APICBASE and KVM_SET/GET_LAPIC are not traced; vCPU 0's KVM_GET_MSRS(0x802) reads 0, like an xAPIC MMIO read.
  'selftest-xapic-state-x2apic-id': ({ L, thread }) => [
    {
      line: L('APIC_ID = 0x0'),
      message: `thread ${thread('CPU 0/KVM', 5613)} (vCPU 0): nothing in the trace shows its APIC mode, so its kvm_apic lines without kvm_msr (from line ${L('APIC_ID = 0x0')}) are imported as MMIO; host KVM_GET_MSRS / KVM_SET_MSRS of x2APIC registers leave the same lines (as on line ${L('APIC_ID = 0x3')}, thread ${thread('CPU 3/KVM', 5616)}), so they may be host accesses to a vCPU in x2APIC mode set up by an untraced KVM_SET_MSRS of IA32_APIC_BASE`,
    },
    {
      line: L('APIC_ID = 0x3'),
      message: `vCPU 3 is in x2APIC mode on line ${L('APIC_ID = 0x3')} but the trace never shows it enabling x2APIC (WRMSR 0x1b with bits 10 and 11; a host KVM_SET_MSRS of 0x1b, as VMMs do, is never traced): the scenario enables it with a host write of IA32_APIC_BASE = 0xfee00c00 just before (inferred: the base address and BSP bit are those of RESET)`,
    },
  ],
};

/**
 * Checks the replay cannot meet because the trace cannot show what decides them (each with its
 * warning above), by capture; `deliveriesDiffer` indexes the sending steps compared with the kernel.
 */
const GAPS: Record<string, { failedChecks: string[]; deliveriesDiffer: number[] }> = {
  // The fixture enables 32-bit IDs after the SPIV writes, so vCPUs 0 and 256 (xAPIC ID 0) alias and both get MSIs 48 and 49; enabled first, vCPU 0 wins slot 0.
  'kvm-aliased-ids-32bit': { failedChecks: ['step 4 (msi).delivered', 'step 5 (msi).delivered'], deliveriesDiffer: [0, 1] },
};

/** Why a line of these captures may be skipped: the reason, the skipped line, and the line the reason names. */
const SKIPS: { event: string; reason: RegExp; line?: RegExp; names?: RegExp }[] = [
  // KVM sets DISABLED when it creates a VM on a host without APICv (kvm_pvm): the scenario has vm.apicv false.
  { event: 'kvm_apicv_inhibit_changed', reason: /^APICv inhibit set \(reason 0, inhibits now 0x1 DISABLED\): the host has no APICv\/AVIC .* vm\.apicv false$/ },
  // The IPI of an ICR write that is a step (MMIO, or a guest WRMSR, which traces it before its kvm_apic and kvm_msr).
  { event: 'kvm_apic_ipi', reason: /^the IPI sent by the (?:ICR write|WRMSR) on line (\d+); the lab recomputes it$/, names: /apic_write APIC_ICR = |msr_write 830 / },
  // kvm_lapic_reg_write of a guest x2APIC WRMSR, traced before its kvm_msr.
  { event: 'kvm_apic', reason: /^kvm_lapic_reg_write inside the WRMSR on line (\d+): the same access, not an MMIO one$/, line: /apic_write APIC_\w+ = /, names: /msr_write 8[0-9a-f]{2} / },
  // kvm_pvm EOIs what it injects, on the target's thread, before the guest runs.
  { event: 'kvm_apic', reason: /^KVM injecting vector 165 into vCPU 0 \(accepted earlier in the trace\): the kernel EOIs at injection/, line: /apic_write APIC_EOI = 0x0$/ },
  { event: 'kvm_eoi', reason: /^KVM injecting vector 165 into vCPU 0 .*\(the kvm_eoi of the EOI on line (\d+)\)$/, line: /apicid 0 vector 165$/, names: /apic_write APIC_EOI = 0x0$/ },
  // The kvm_eoi of the guest's own EOI write (a step): vector -1, ISR was already empty.
  { event: 'kvm_eoi', reason: /^the EOI itself; the lab recomputes it from the APIC_EOI write$/, line: /apicid 0 vector -1$/ },
];

/**
 * The kernel infers deliveries from new IRR bits, pending NMIs/SMIs and latched INITs
 * (src/kvm/kvmRun.ts inferDeliveries): a StartUp or a RemoteRead changes nothing it can read.
 */
const KERNEL_BLIND = new Set(['StartUp', 'RemoteRead']);

type Delivered = { vcpu: number; mode: string; vector: number }[];
type Step = { ok: boolean; delivered?: Delivered; deliveredInferred?: boolean };
/**
 * The `delivered` of every step that sent interrupts and succeeded, in order, each sorted. A refused
 * step delivers nothing: a guest #GP is traced, a refused ioctl (EINVAL MSI) is not, so neither counts.
 */
const deliveries = (steps: Step[]) =>
  steps.filter((s) => s.ok && s.delivered).map((s) => s.delivered!.filter((d) => !KERNEL_BLIND.has(d.mode)).map(({ vcpu, mode, vector }) => ({ vcpu, mode, vector })).sort((a, b) => a.vcpu - b.vcpu || a.mode.localeCompare(b.mode)));

function replay(trace: string) {
  const { scenario: doc, report } = importTrace(trace);
  const scenario = parseScenario(JSON.parse(JSON.stringify(doc)));
  const result: ScenarioResult = runScenario(scenario);
  return { doc, report, scenario, result, mismatches: checkExpectations(scenario, result) };
}

describe('captures of the real kernel (testdata/captured/)', () => {
  it('holds a capture of every fixture scripts/capture-testdata.sh names, and only those', () => {
    const script = readFileSync(join(import.meta.dirname, '..', '..', 'scripts', 'capture-testdata.sh'), 'utf8');
    const named = /set -- ([\w -]+)$/m.exec(script)![1].trim().split(/\s+/).sort();
    expect(dirs).toEqual(named);
    for (const d of dirs) expect(JSON.parse(text(d, 'capture.json')).scenario.file).toBe(`src/scenario/fixtures/${d}.json`);
    expect(Object.keys(WARNINGS).filter((d) => !dirs.includes(d))).toEqual([]);
    expect(Object.keys(GAPS).filter((d) => !WARNINGS[d])).toEqual([]); // every gap is warned about
  });

  describe.each(dirs)('%s', (dir) => {
    const kernel = JSON.parse(text(dir, 'result.json')) as { format: string; steps: Step[]; final: { vcpus: { vcpu: number }[] } };
    const gap = GAPS[dir] ?? { failedChecks: [], deliveriesDiffer: [] };

    it.each(TRACES)('%s: every event line is a step, a check or skipped for its reason', (f) => {
      const t = text(dir, f);
      const lines = t.split('\n');
      const { report } = importTrace(t);
      expect(report.notUnderstood).toEqual([]);
      expect(report.unresolvedThreads).toEqual([]);
      expect(report.otherEvents).toEqual({});
      const events = lines.flatMap((l, i) => (/ kvm_\w+: /.test(l) ? [i + 1] : []));
      expect(report.eventLines).toBe(events.length);
      const used = new Set([...report.steps.flatMap((s) => [s.line, ...s.alsoLines]), ...report.checks.flatMap((c) => c.lines), ...report.skipped.map((s) => s.line)]);
      expect(events.filter((l) => !used.has(l))).toEqual([]);
      for (const s of report.skipped) {
        const rule = SKIPS.find((r) => r.event === s.event && r.reason.test(s.reason));
        expect(rule, `line ${s.line} (${s.event}): ${s.reason}`).toBeDefined();
        if (rule!.line) expect(lines[s.line - 1]).toMatch(rule!.line);
        if (rule!.names) expect(lines[Number(rule!.reason.exec(s.reason)![1]) - 1]).toMatch(rule!.names);
      }
    });

    it.each(TRACES)('%s: warns about exactly what the trace cannot show', (f) => {
      const t = text(dir, f);
      expect(importTrace(t).report.warnings).toEqual(WARNINGS[dir]?.(linesOf(t, f)) ?? []);
    });

    it.each(TRACES)('%s: ties each "CPU <id>/KVM" thread to vCPU <id>, in a VM of the kernel\'s vCPUs', (f) => {
      const { scenario: doc, report } = importTrace(text(dir, f));
      for (const v of report.vcpus) for (const t of v.threads) expect(t.comm).toBe(`CPU ${v.vcpu}/KVM`.slice(0, f === 'report-l.txt' ? 8 : undefined));
      const real = kernel.final.vcpus.map((v) => v.vcpu);
      expect(doc.vm.vcpus.filter((v) => !real.includes(v))).toEqual([]);
      expect(doc.vm.apicv).toBe(false); // the DISABLED inhibit: kvm_pvm has no APICv
    });

    it('the three formats import to the same scenario', () => {
      const docs = TRACES.map((f) => importTrace(text(dir, f)).scenario);
      const steps = docs.map((d) => d.steps.map(({ note: _note, ...s }) => s));
      expect(steps[1]).toEqual(steps[0]);
      expect(steps[2]).toEqual(steps[0]);
      expect(docs[1].expectFinal).toEqual(docs[0].expectFinal);
      expect(docs[2].expectFinal).toEqual(docs[0].expectFinal);
    });

    it.each(TRACES)('%s replays on the model meeting its checks and expectFinal, with the kernel\'s deliveries', (f) => {
      const { result, mismatches } = replay(text(dir, f));
      expect(mismatches.map((m) => m.where)).toEqual(gap.failedChecks);
      expect(kernel.steps.filter((s) => s.delivered).every((s) => s.deliveredInferred)).toBe(true);
      const model = deliveries(result.steps as Step[]);
      const real = deliveries(kernel.steps);
      expect(model.length).toBe(real.length);
      expect(model.map((d, i) => (JSON.stringify(d) === JSON.stringify(real[i]) ? -1 : i)).filter((i) => i >= 0)).toEqual(gap.deliveriesDiffer);
    });

    it('has one LAPIC image per vCPU of the kernel\'s result', () => {
      expect(kernel.format).toBe('apic-result/1');
      const images = readdirSync(join(root, dir)).filter((f) => /^lapic-\d+\.bin$/.test(f)).map((f) => Number(f.match(/\d+/)![0])).sort((a, b) => a - b);
      expect(images).toEqual(kernel.final.vcpus.map((v) => v.vcpu).sort((a, b) => a - b));
    });

    it.each(readdirSync(join(root, dir)).filter((f) => /^lapic-\d+\..+\.txt$/.test(f)))('%s parses to the bytes of its .bin', (f) => {
      const bin = read(dir, f.replace(/\..*$/, '.bin'));
      expect(bin.length).toBe(1024);
      expect(parseLapicImage(new Uint8Array(read(dir, f)))).toEqual({ ok: true, words: imageWords(new Uint8Array(bin)) });
    });
  });
});

/** One test per thing these captures showed the importer getting wrong, on the capture that shows it. */
describe('what the captures exposed', () => {
  it('the APICv inhibit DISABLED (set when KVM creates a VM without APICv) makes the VM vm.apicv false', () => {
    const { scenario, report } = importTrace(text('selftest-xapic-ipi', 'report.txt'));
    expect(scenario.vm).toEqual({ vcpus: [0, 1], apicv: false });
    expect(report.notes).toContainEqual(expect.stringMatching(/^Line 2 sets the APICv inhibit DISABLED/));
  });

  it('a guest WRMSR of IA32_APIC_BASE changes the mode the thread\'s lines are read in: MMIO before it, x2APIC after, no mixed-mode warning', () => {
    const t = text('kvm-aliased-ids-32bit', 'report.txt');
    const { scenario, report } = importTrace(t);
    const { L } = linesOf(t, 'report.txt');
    expect(report.warnings.filter((w) => /shows both/.test(w.message))).toEqual([]);
    const vcpu1 = report.steps.filter((s) => s.vcpu === 1).map((s) => [s.line, scenario.steps[s.step].op, scenario.steps[s.step].host]);
    expect(vcpu1).toEqual([
      [L('APIC_SPIV', 1), 'mmio_write', undefined], [L('APIC_ICR2'), 'mmio_write', undefined], [L('APIC_ICR = 0x4033'), 'mmio_write', undefined],
      [L('APIC_ICR = 0x4400'), 'mmio_write', undefined], [L('msr_write 1b'), 'wrmsr', undefined], [L('msr_write 830', 0), 'wrmsr', undefined], [L('msr_write 830', 1), 'wrmsr', undefined],
    ]);
  });

  it.each([
    ['kvm-pv-unhalted', 1, 0],
    ['kvm-create-vcpu-eexist-rebuilds-map', 256, 1],
  ] as const)('%s: the newest vCPU accepting an interrupt through the map proves an untraced map rebuild, replayed just before that send', (dir, vcpu, msi) => {
    const t = text(dir, 'report.txt');
    const { L } = linesOf(t, 'report.txt');
    const { scenario, report, result, mismatches } = replay(t);
    const send = report.steps.find((s) => s.line === L('kvm_msi_set_irq', msi))!.step;
    expect(scenario.steps[send - 1]).toMatchObject({ op: 'set_lapic', vcpu, regs: {}, merge: true, expect: { ok: true } });
    expect(scenario.steps.filter((s) => s.op === 'set_lapic')).toHaveLength(1);
    expect(result.steps[send]).toMatchObject({ ok: true, delivered: expect.arrayContaining([expect.objectContaining({ vcpu })]) });
    expect(mismatches).toEqual([]);
  });

  it('an APIC_ID read of 0 with no traced mode claims no xAPIC ID: it is x2APIC ID 0 read by a host KVM_GET_MSRS here', () => {
    const { report } = importTrace(text('selftest-xapic-state-x2apic-id', 'report.txt'));
    expect(report.final.map((f) => f.path)).toEqual(['final.vcpus[1].mode', 'final.vcpus[1].x2apicId']);
    // Where a traced APICBASE access shows xAPIC mode first, the same read is the xAPIC ID.
    const ipi = text('selftest-xapic-ipi', 'report.txt');
    expect(importTrace(ipi).report.final.find((f) => f.path === 'final.vcpus[0].xapicId')).toMatchObject({ value: 0, line: linesOf(ipi, 'report.txt').L('apic_read APIC_ID = 0x0') });
  });
});
