import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { scenarioArb } from '../scenario/randomScenario';
import { runScenario } from '../scenario/runner';
import type { ScenarioResult } from '../scenario/result';
import { ResultText } from './resultText';

/** The text ResultText makes for `result`, its steps added one by one in batches of `size`. */
function text(result: ScenarioResult, size: number): string {
  const out = new ResultText(size);
  for (const r of result.steps) out.add(r);
  return out.pieces({ ...result, steps: [] }).join('');
}

describe('the runner prints a result in batches of steps, byte for byte as JSON.stringify(result, null, 2)', () => {
  it('random scenarios, batches that end anywhere (before, at and after the last step)', () => {
    fc.assert(
      fc.property(scenarioArb(12), fc.integer({ min: 1, max: 14 }), fc.boolean(), (scenario, size, check) => {
        const result = runScenario(scenario, { trace: size % 2 === 0 });
        if (check) result.check = { expectations: 1, failed: 1, mismatches: [{ where: 'final', expected: { a: [1] }, actual: 'x' }] };
        expect(text(result, size)).toBe(JSON.stringify(result, null, 2));
      }),
      { numRuns: 150, seed: 17 },
    );
  });

  it('no steps, one step', () => {
    const none = runScenario({ vm: {}, steps: [], raw: {} });
    expect(text(none, 1000)).toBe(JSON.stringify(none, null, 2));
    const one = runScenario({ vm: { vcpus: 1 }, steps: [{ op: 'get_lapic', vcpu: 0 }], raw: {} });
    expect(text(one, 1000)).toBe(JSON.stringify(one, null, 2));
  });
});
