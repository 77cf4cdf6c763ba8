/**
 * The peer-suite fixtures that use only ops the real kernel can run (all but the nested ones) pass
 * on /dev/kvm too, guest code included: the kernel's own results meet each fixture's expectations
 * as far as the kernel reports them, and model and kernel agree on everything observable.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareBackends } from '../scenario/compare';
import { matchPartial } from '../scenario/expect';
import { ModelBackend } from '../scenario/modelBackend';
import { parseScenarioText } from '../scenario/schema';
import { KvmBackend, kvmRefusal, probeHost } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { kvmAvailability, openKvm } from './kvmIoctl';

const dir = join(import.meta.dirname, '../scenario/fixtures');
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, scenario: parseScenarioText(readFileSync(join(dir, f), 'utf8')) }))
  .filter(({ scenario }) => scenario.steps.every((s) => kvmRefusal(s) === null));
const avail = kvmAvailability();

/** The result fields the kernel reports itself (routes, deliveries and decisions are the model's). */
const KERNEL_FIELDS = ['ok', 'fault', 'error', 'value', 'mpState', 'count', 'vector', 'unclaimed', 'regs'];
const kernelPart = (expect: Record<string, unknown>) => Object.fromEntries(Object.entries(expect).filter(([k]) => KERNEL_FIELDS.includes(k)));

describe.skipIf(!avail.ok)('fixtures on the real kernel', () => {
  it('the kernel runs every fixture but the nested ones', () => expect(fixtures.length).toBeGreaterThanOrEqual(40));
  for (const { file, scenario } of fixtures) {
    it(`${file}: the kernel meets the expectations and agrees with the model`, async () => {
      const sys = await openKvm();
      try {
        const host = probeHost(sys);
        const kernel = new KvmBackend(sys, scenario.vm);
        try {
          // A kernel that EOIs at injection (kvm_pvm) departs from upstream after an `ack`: from there
          // on, the fixture's upstream expectations are not its to meet (the comparison below is).
          const firstAck = host.eoiOnInjection ? scenario.steps.findIndex((s) => s.op === 'ack') : -1;
          scenario.steps.forEach((step, i) => {
            const r = kernel.applyStep(step, i);
            if (step.expect && (firstAck === -1 || i < firstAck)) expect(matchPartial(kernelPart(step.expect), r, `step ${i} (${step.op})`)).toEqual([]);
          });
        } finally {
          kernel.close();
        }
        const c = compareBackends(scenario, new ModelBackend(scenario.vm, hostOverrides(host)), new KvmBackend(sys, scenario.vm));
        expect(c.differences).toEqual([]);
      } finally {
        sys.close();
      }
    });
  }
});
