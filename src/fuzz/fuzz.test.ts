/**
 * The fuzzer, bounded for CI: random scenarios (with timer, local-interrupt and PV IPI steps) under
 * random releases and vendors must not throw, must replay identically, keep KVM_GET/SET_LAPIC an
 * identity, keep the map sound, and keep the fast path equal to the slow path outside KVM's named
 * deviations. A longer run: `npm run fuzz`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzScenarioWithTimersArb } from './arbitraries';
import { checkScenario } from './invariants';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

describe('fuzzer', () => {
  it(`${RUNS} random scenarios keep every invariant`, () => {
    let checks = 0;
    let n = 0;
    fc.assert(
      fc.property(fuzzScenarioWithTimersArb(), (s) => {
        const r = checkScenario(s, n++);
        checks += r.checks;
        if (r.violations.length) throw new Error(r.violations.join('\n'));
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 1) },
    );
    console.log(`[fuzz] ${n} scenarios, ${checks} invariant checks`);
    expect(checks).toBeGreaterThan(RUNS * 10);
  }, 300_000);
});
