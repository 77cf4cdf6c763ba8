/**
 * The differential test (issue 3): seeded random scenarios replayed on the model and on the real
 * /dev/kvm must agree on everything the kernel lets userspace observe. fast-check shrinks a
 * failing scenario to a small one. DIFF_RUNS and DIFF_SEED make longer or other runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBackends, formatComparison } from '../scenario/compare';
import { ModelBackend } from '../scenario/modelBackend';
import { scenarioArb, toDocument } from '../scenario/randomScenario';
import type { Scenario } from '../scenario/schema';
import { KvmBackend, probeHost } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { kvmAvailability, openKvm } from './kvmIoctl';

const avail = kvmAvailability();
if (!avail.ok) console.warn(`[src/kvm] differential test skipped: ${avail.reason}`);

const RUNS = Number(process.env.DIFF_RUNS ?? 300);
const SEED = Number(process.env.DIFF_SEED ?? 20261121);

describe.skipIf(!avail.ok)('model versus the real kernel (differential)', () => {
  it(`agrees on ${RUNS} random scenarios (seed ${SEED})`, async () => {
    const sys = await openKvm();
    const host = probeHost(sys);
    let steps = 0;
    let scenarios = 0;
    try {
      fc.assert(
        fc.property(scenarioArb(), (s: Scenario) => {
          const c = compareBackends(s, new ModelBackend(s.vm, hostOverrides(host)), new KvmBackend(sys, s.vm));
          scenarios++;
          steps += c.steps;
          if (c.differences.length) {
            throw new Error(formatComparison(c, [JSON.stringify(toDocument({ vm: s.vm, steps: s.steps }))]));
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: false },
      );
    } finally {
      sys.close();
      console.log(`[differential] ${scenarios} scenarios, ${steps} steps compared on Linux ${host.kernel}`);
    }
    expect(scenarios).toBeGreaterThanOrEqual(RUNS);
  }, 300_000);
});
