/**
 * Real captures of fixtures run on /dev/kvm (`npm run capture`, see testdata/captured/README.md):
 * each trace, in all three text formats, imports and replays on the model with the deliveries the
 * kernel showed; each final KVM_GET_LAPIC image reads back from the real tools' dumps of it.
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
const TRACES = ['report.txt', 'report-l.txt', 'trace.txt'];

/**
 * What does not replay cleanly today, per capture, and why (issue 15). These are findings about
 * what a trace of today's KvmBackend can say, not importer bugs to hide: each entry is asserted
 * exactly, so a fix or a re-capture that changes them fails here until the entry is updated.
 *
 * Every capture so far: the backend makes all its ioctls on the node main thread (comm "node"),
 * so no thread can be tied to a vCPU and host x2APIC accesses (traced as kvm_apic) are skipped;
 * MSIs need no vCPU and import. The trace also opens with --kvm's host probe, a VM of its own
 * (probeHost: an inhibit line and an NMI to APIC ID 5 by a host ICR write), skipped for the same
 * reason. Once vCPU ioctls run on "CPU <n>/KVM" threads, re-capture and revisit this table.
 */
const KNOWN: Record<string, { unresolved: string[]; failedChecks: string[]; deliveriesDiffer: number[] }> = {
  // The refused KVM_CREATE_VCPU(1) that rebuilt the map is not traced, and vCPU 1 never appears,
  // so the replay's VM is vCPUs 0 and 256 with 256 still missing from the optimized map: its second
  // NMI reaches vCPU 0 only, where the kernel reached 0 and 256.
  'kvm-create-vcpu-eexist-rebuilds-map': { unresolved: ['node'], failedChecks: ['step 1 (msi).delivered'], deliveriesDiffer: [1] },
  // Only vCPU 1 appears in the trace (as the target of the RemoteRead MSIs, "Res3"), so the replay's
  // VM is vCPU 1 alone: the newest vCPU, missing from a fresh map, so the MSIs reach nobody. The
  // kernel's result.json agrees only by accident: a RemoteRead changes no state it can observe.
  'kvm-pv-unhalted': { unresolved: ['node'], failedChecks: ['step 0 (msi).delivered', 'step 1 (msi).delivered'], deliveriesDiffer: [] },
  // Only host KVM_SET_LAPIC/KVM_SET_MSRS/KVM_GET_MSRS: the two APIC_ID reads are on the main
  // thread, so the import has no step at all.
  'selftest-xapic-state-x2apic-id': { unresolved: ['node'], failedChecks: [], deliveriesDiffer: [] },
};

type Delivered = { vcpu: number; mode: string; vector: number }[];
/** The `delivered` of every step that sends (ICR write, MSI), in order, each sorted. */
const deliveries = (r: { steps: unknown[] }) =>
  (r.steps as { delivered?: Delivered }[]).filter((s) => s.delivered).map((s) => s.delivered!.map(({ vcpu, mode, vector }) => ({ vcpu, mode, vector })).sort((a, b) => a.vcpu - b.vcpu || a.mode.localeCompare(b.mode)));

function replay(trace: string) {
  const { scenario: doc, report } = importTrace(trace);
  const scenario = parseScenario(JSON.parse(JSON.stringify(doc)));
  const result: ScenarioResult = runScenario(scenario);
  return { doc, report, scenario, result, mismatches: checkExpectations(scenario, result) };
}

describe('captures of the real kernel (testdata/captured/)', () => {
  it('holds captures, each listed above with what is known about it', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(KNOWN).sort()).toEqual(dirs);
  });

  describe.each(dirs)('%s', (dir) => {
    const kernel = JSON.parse(text(dir, 'result.json')) as { format: string; steps: { delivered?: Delivered }[]; final: { vcpus: { vcpu: number }[] } };
    const known = KNOWN[dir];

    it.each(TRACES)('%s imports with every line understood', (f) => {
      const { report } = replay(text(dir, f));
      expect(report.notUnderstood).toEqual([]);
      expect(report.unresolvedThreads.map((t) => t.comm)).toEqual(known.unresolved);
    });

    it('the three formats import to the same steps', () => {
      const steps = TRACES.map((f) => replay(text(dir, f)).doc.steps.map(({ note: _note, ...s }) => s));
      expect(steps[1]).toEqual(steps[0]);
      expect(steps[2]).toEqual(steps[0]);
    });

    it.each(TRACES)('%s replays on the model meeting its checks, with the kernel\'s deliveries', (f) => {
      const { result, mismatches } = replay(text(dir, f));
      expect(mismatches.map((m) => m.where)).toEqual(known.failedChecks);
      const model = deliveries(result);
      const real = deliveries(kernel);
      expect(model.length).toBe(real.length);
      expect(model.map((d, i) => (JSON.stringify(d) === JSON.stringify(real[i]) ? -1 : i)).filter((i) => i >= 0)).toEqual(known.deliveriesDiffer);
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
