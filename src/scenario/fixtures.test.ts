/**
 * Every scenario fixture in ./fixtures replays through the runner and meets its expectations.
 * Fixtures port checks of real peer suites; the test name cites the suite, file and function.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkExpectations } from './expect';
import { runScenario } from './runner';
import { parseScenarioText } from './schema';

const dir = join(import.meta.dirname, 'fixtures');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

interface Source {
  suite?: string;
  path?: string;
  function?: string;
}

describe('scenario fixtures', () => {
  it('exist', () => expect(files.length).toBeGreaterThan(5));
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    const scenario = parseScenarioText(text);
    const src = (scenario.raw.source ?? {}) as Source;
    const cite = [src.suite, src.path, src.function].filter(Boolean).join(' ');
    it(`${cite || 'project'}: ${scenario.title ?? file} (${file})`, () => {
      const expectations = scenario.steps.filter((s) => s.expect).length + (scenario.expectFinal ? 1 : 0);
      expect(expectations, 'a fixture must assert something').toBeGreaterThan(0);
      const result = runScenario(scenario);
      expect(checkExpectations(scenario, result)).toEqual([]);
      // Deterministic: the same scenario gives the same document.
      expect(JSON.stringify(runScenario(scenario))).toBe(JSON.stringify(result));
    });
  }
});
