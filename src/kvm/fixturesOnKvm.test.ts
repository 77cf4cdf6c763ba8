/**
 * The peer-suite fixtures that use only ops the real kernel can run pass on /dev/kvm too: the
 * kernel's own results meet each fixture's expectations, and model and kernel agree on
 * everything observable.
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

describe.skipIf(!avail.ok)('fixtures on the real kernel', () => {
  it('there are fixtures the kernel can run', () => expect(fixtures.length).toBeGreaterThanOrEqual(3));
  for (const { file, scenario } of fixtures) {
    it(`${file}: the kernel meets the expectations and agrees with the model`, async () => {
      const sys = await openKvm();
      try {
        const host = probeHost(sys);
        const kernel = new KvmBackend(sys, scenario.vm);
        try {
          scenario.steps.forEach((step, i) => {
            const r = kernel.applyStep(step, i);
            if (step.expect) expect(matchPartial(step.expect, r, `step ${i} (${step.op})`)).toEqual([]);
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
