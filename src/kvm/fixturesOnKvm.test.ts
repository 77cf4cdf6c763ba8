/**
 * The peer-suite fixtures that use only ops the real kernel can run (all but the nested ones,
 * `local_irq` and `pv_send_ipi`) pass on /dev/kvm too, guest code included: the kernel's own
 * results meet each fixture's expectations as far as the kernel reports them, and model and
 * kernel agree on everything observable.
 *
 * Timed fixtures (with `advance`) are written for the model's virtual clock, often with timers of
 * a few microseconds: from their first timer programming on, their expectations are the virtual
 * clock's, and the kernel is judged by the comparison alone (TMCCT within the clocks' measured
 * distance, the rest exactly). Where the host lagged past a timer's margin (the comparison reports
 * close calls), or the fixture's TSC deadlines assume another TSC rate than the kernel's, the
 * fixture is reported as not judged by this host rather than failed; a difference without a close
 * call fails.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareBackends } from '../scenario/compare';
import { matchPartial } from '../scenario/expect';
import { ModelBackend } from '../scenario/modelBackend';
import { parseScenarioText, ScenarioInputError, type Step } from '../scenario/schema';
import { KvmBackend, kvmRefusal, probeHost } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { kvmAvailability, openKvm } from './kvmIoctl';

const dir = join(import.meta.dirname, '../scenario/fixtures');
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, scenario: parseScenarioText(readFileSync(join(dir, f), 'utf8')) }));
const fixtures = all.filter(({ scenario }) => scenario.steps.every((s) => kvmRefusal(s) === null));
const avail = kvmAvailability();

/** The result fields the kernel reports itself (routes, deliveries and decisions are the model's). */
const KERNEL_FIELDS = ['ok', 'fault', 'error', 'value', 'mpState', 'count', 'vector', 'unclaimed', 'regs'];
const kernelPart = (expect: Record<string, unknown>) => Object.fromEntries(Object.entries(expect).filter(([k]) => KERNEL_FIELDS.includes(k)));

/** A write that programs the APIC timer: LVTT, TMICT, TDCR (MMIO or x2APIC MSR), the TSC deadline, a LAPIC image. */
function programsTimer(s: Step): boolean {
  if (s.op === 'set_lapic') return true;
  if (s.op === 'mmio_write') return [0x320n, 0x380n, 0x3e0n].includes((s.offset ?? s.gpa ?? 0n) & 0xfffn);
  return s.op === 'wrmsr' && [0x832n, 0x838n, 0x83en, 0x6e0n].includes(s.msr);
}

/**
 * A timed fixture the model cannot replay at the kernel's TSC rate (its TSC deadlines count the
 * model's default 1 GHz, or its own vm.tscKhz): `until: "next-timer-expiry"` then finds no timer.
 */
function notJudged(file: string, tscKhz: number, scenario: { vm: { tscKhz?: number }; steps: Step[] }, e: Error): boolean {
  const deadlines = scenario.steps.some((s) => s.op === 'wrmsr' && s.msr === 0x6e0n);
  if (!deadlines || (scenario.vm.tscKhz ?? 1_000_000) === tscKhz || !/next-timer-expiry": no APIC timer is (running|programmed)/.test(e.message)) return false;
  console.log(`[fixtures on kvm] ${file}: not judged: its TSC deadlines assume ${scenario.vm.tscKhz ?? 1_000_000} kHz, the kernel's TSC runs at ${tscKhz} kHz (${e.message})`);
  return true;
}

describe.skipIf(!avail.ok)('fixtures on the real kernel', () => {
  it('the kernel runs every fixture but those with nested, SMM, local_irq or PV IPI hypercall steps', () => {
    const skippedFor = (scenario: { steps: Step[] }) => scenario.steps.map((s) => (s.op === 'local_irq' ? 'local_irq' : kvmRefusal(s))).find((r) => r !== null);
    const why = all.filter((f) => !fixtures.includes(f)).map(({ file, scenario }) => `${file}: ${skippedFor(scenario)}`);
    for (const w of why) expect(w).toMatch(/: (nested virtualization|this kernel has no SMM|local_irq|the guest's hypercall never reaches KVM)/);
    expect(fixtures.length).toBeGreaterThanOrEqual(50);
  });
  for (const { file, scenario } of fixtures) {
    it(`${file}: the kernel meets the expectations and agrees with the model`, async () => {
      const sys = await openKvm();
      try {
        const host = probeHost(sys);
        const kernel = new KvmBackend(sys, scenario.vm);
        try {
          // A kernel that EOIs at injection (kvm_pvm) departs from upstream after an `ack`, and a
          // timed fixture's expectations are the virtual clock's once a timer is programmed: from
          // there on, the fixture's expectations are not the kernel's to meet (the comparison is).
          const firstAck = host.eoiOnInjection ? scenario.steps.findIndex((s) => s.op === 'ack') : -1;
          const timed = scenario.steps.some((s) => s.op === 'advance');
          const firstTimer = timed ? scenario.steps.findIndex(programsTimer) : -1;
          const until = Math.min(...[firstAck, firstTimer].map((i) => (i === -1 ? Infinity : i)));
          scenario.steps.forEach((step, i) => {
            const r = kernel.applyStep(step, i);
            if (step.expect && i < until) expect(matchPartial(kernelPart(step.expect), r, `step ${i} (${step.op})`)).toEqual([]);
          });
        } catch (e) {
          if (!(e instanceof ScenarioInputError && notJudged(file, host.tscKhz, scenario, e))) throw e;
          return;
        } finally {
          kernel.close();
        }
        let c;
        try {
          c = compareBackends(scenario, new ModelBackend(scenario.vm, hostOverrides(host)), new KvmBackend(sys, scenario.vm));
        } catch (e) {
          if (e instanceof ScenarioInputError && notJudged(file, host.tscKhz, scenario, e)) return;
          throw e;
        }
        if (c.differences.length && c.timing?.closeCalls.length) {
          console.log(`[fixtures on kvm] ${file}: not judged by this host's clock (${c.timing.closeCalls.length} close call(s), e.g. ${c.timing.closeCalls[0]}); ${c.differences.length} difference(s), e.g. ${JSON.stringify(c.differences[0])}`);
          return;
        }
        expect(c.differences).toEqual([]);
      } finally {
        sys.close();
      }
    });
  }
});
