/**
 * Every behaviour that changed between KVM releases (BEHAVIOUR_CHANGES in src/core/profile.ts)
 * has a pair of fixtures in ./fixtures/history: `<id>.before.json` on the release just before
 * `since` and `<id>.after.json` on `since`, with the same VM and steps. Each meets its own
 * expectations, and the two results differ.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BEHAVIOUR_CHANGES } from '../core/profile';
import { checkExpectations } from './expect';
import { runScenario } from './runner';
import { parseScenarioText } from './schema';

const dir = join(import.meta.dirname, 'fixtures', 'history');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** The last minor release of each major line, for "the release just before X.0". */
const LAST_MINOR: Record<number, number> = { 4: 20, 5: 19, 6: 19 };

/** The release just before `release` ("6.3" -> "6.2", "6.0" -> "5.19"). */
function releaseBefore(release: string): string {
  const m = /^(\d+)\.(\d+)$/.exec(release);
  if (!m) throw new RangeError(`not a release: ${release}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (minor > 0) return `${major}.${minor - 1}`;
  const last = LAST_MINOR[major - 1];
  if (last === undefined) throw new RangeError(`no known last release of ${major - 1}.x`);
  return `${major - 1}.${last}`;
}

interface Source {
  suite?: string;
  path?: string;
  function?: string;
  commit?: string;
  note?: string;
}

function load(file: string) {
  const text = readFileSync(join(dir, file), 'utf8');
  const scenario = parseScenarioText(text);
  return { scenario, raw: JSON.parse(text) as Record<string, unknown> };
}

/** A step as written, without its expectation. */
function withoutExpect(step: Record<string, unknown>): Record<string, unknown> {
  const { expect: _expect, ...rest } = step;
  return rest;
}

describe('releaseBefore', () => {
  it('steps back one minor release, or to the last release of the previous major', () => {
    expect(releaseBefore('6.3')).toBe('6.2');
    expect(releaseBefore('6.0')).toBe('5.19');
    expect(releaseBefore('5.11')).toBe('5.10');
    expect(releaseBefore('5.18')).toBe('5.17');
  });
});

describe('behaviour history fixtures', () => {
  it('every file belongs to a BEHAVIOUR_CHANGES pair', () => {
    const expected = BEHAVIOUR_CHANGES.flatMap((c) => [`${c.id}.after.json`, `${c.id}.before.json`]).sort();
    expect(files).toEqual(expected);
  });

  for (const change of BEHAVIOUR_CHANGES) {
    describe(`${change.id} (since ${change.since})`, () => {
      const beforeFile = `${change.id}.before.json`;
      const afterFile = `${change.id}.after.json`;

      it('has a pair of fixtures', () => {
        expect(files).toContain(beforeFile);
        expect(files).toContain(afterFile);
      });
      if (!files.includes(beforeFile) || !files.includes(afterFile)) return;

      const before = load(beforeFile);
      const after = load(afterFile);

      it(`runs "before" on ${releaseBefore(change.since)} and "after" on ${change.since}`, () => {
        expect(before.scenario.vm.kvm).toBe(releaseBefore(change.since));
        expect(after.scenario.vm.kvm).toBe(change.since);
      });

      it('has the same VM apart from kvm, and the same steps apart from expect', () => {
        const vmBefore = { ...(before.raw.vm as Record<string, unknown>), kvm: undefined };
        const vmAfter = { ...(after.raw.vm as Record<string, unknown>), kvm: undefined };
        expect(vmAfter).toEqual(vmBefore);
        const stepsBefore = (before.raw.steps as Record<string, unknown>[]).map(withoutExpect);
        const stepsAfter = (after.raw.steps as Record<string, unknown>[]).map(withoutExpect);
        expect(stepsAfter).toEqual(stepsBefore);
      });

      it('cites KVM and the change', () => {
        for (const { scenario } of [before, after]) {
          const src = (scenario.raw.source ?? {}) as Source;
          expect(src.suite).toBe('kvm');
          expect(src.path).toMatch(/^arch\/x86\/kvm\//);
          expect(src.function).toBeTruthy();
          expect(src.commit).toBe(change.commit);
          expect(src.note).toBeTruthy();
          expect(scenario.title).toBeTruthy();
          expect(scenario.raw.description).toBeTruthy();
        }
      });

      for (const [side, { scenario }] of [['before', before], ['after', after]] as const) {
        it(`${side}: ${scenario.title}`, () => {
          const expectations = scenario.steps.filter((s) => s.expect).length + (scenario.expectFinal ? 1 : 0);
          expect(expectations, 'a fixture must assert something').toBeGreaterThan(0);
          const result = runScenario(scenario);
          expect(checkExpectations(scenario, result)).toEqual([]);
        });
      }

      it('gives different results before and after', () => {
        const rb = runScenario(before.scenario);
        const ra = runScenario(after.scenario);
        expect(JSON.stringify({ steps: ra.steps, final: ra.final })).not.toBe(JSON.stringify({ steps: rb.steps, final: rb.final }));
      });
    });
  }
});
