/**
 * Fixture expectations: a step's optional `expect` (and a scenario's `expectFinal`) is a partial
 * result that the actual one must match. Objects match key by key (extra keys are fine), arrays
 * element by element with the same length, and number-like strings ("0x10", "16") numerically.
 */
import { parseNumber } from './numbers';
import type { ScenarioResult } from './result';
import type { Scenario } from './schema';

export interface Mismatch {
  where: string;
  expected: unknown;
  actual: unknown;
}

function numeric(v: unknown): bigint | null {
  if (typeof v !== 'string' && typeof v !== 'number') return null;
  const n = parseNumber(v);
  return typeof n === 'bigint' ? n : null;
}

/** Every place where `actual` does not match the partial `expected`. */
export function matchPartial(expected: unknown, actual: unknown, where: string, out: Mismatch[] = []): Mismatch[] {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) out.push({ where, expected, actual });
    else expected.forEach((e, i) => matchPartial(e, actual[i], `${where}[${i}]`, out));
  } else if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) out.push({ where, expected, actual });
    else for (const [k, e] of Object.entries(expected)) matchPartial(e, (actual as Record<string, unknown>)[k], `${where}.${k}`, out);
  } else if (typeof expected === 'string' && typeof actual === 'string' && numeric(expected) !== null && numeric(actual) !== null) {
    if (numeric(expected) !== numeric(actual)) out.push({ where, expected, actual });
  } else if (expected !== actual) {
    out.push({ where, expected, actual });
  }
  return out;
}

/** Check a result against the expectations its scenario carries. */
export function checkExpectations(scenario: Scenario, result: ScenarioResult): Mismatch[] {
  const out: Mismatch[] = [];
  scenario.steps.forEach((step, i) => {
    if (step.expect) matchPartial(step.expect, result.steps[i], `step ${i} (${step.op})`, out);
  });
  if (scenario.expectFinal) matchPartial(scenario.expectFinal, result.final, 'final', out);
  return out;
}
