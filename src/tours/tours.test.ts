/**
 * Every claim a guided tour makes is checked here, against the emulation core:
 * - `expect` (step results) and `expectFinal` with the tour's own vm, as the CLI checks them;
 * - `expectState`: the final-state shape (map, inhibits, apicvActive, apicAccessPage, caps,
 *   vcpus) right after that step;
 * - `expectBefore` / `expectStateBefore` / `expectFinalBefore`: the same, replayed with
 *   vm.kvm = tour.before ("replay under <before>"), and at least one of them must differ from
 *   the current run, so the tour really shows a change;
 * - `tour.variants`: replays with other vm fields that the outro invites the learner to try.
 * A basics tour (no `discussion`: it teaches the APIC itself) has no `before` and no
 * before-expectations. Narrations, intro and outro are plain words; kernel names go to `detail`.
 */
import { describe, expect, it } from 'vitest';
import { applyStep, createVm, runScenario } from '../scenario/runner';
import { checkExpectations, matchPartial, type Mismatch } from '../scenario/expect';
import { finalState, type FinalState, type StepResult } from '../scenario/result';
import { parseScenario, type Scenario } from '../scenario/schema';
import { TOURS, type TourDocument } from './index';

const PANELS = ['VM', 'vCPUs', 'Optimized APIC map', 'ICR', 'Register page', 'Event log', 'Alias conflicts', 'APICv inhibits'];
const IDS = ['beginner', 'apic-timer', 'x2apic-icr', 'aliased-ids', 'avic-x2apic', 'init-sipi', 'apic-base'];

type Expectation = Record<string, unknown> | undefined;
interface RawStep {
  narration?: string;
  detail?: string;
  focus?: string[];
  expect?: Expectation;
  expectBefore?: Expectation;
  expectState?: Expectation;
  expectStateBefore?: Expectation;
}

interface Replay {
  steps: StepResult[];
  /** The final-state document after each step. */
  states: FinalState[];
}

/** Run a scenario step by step, keeping the state after every step. */
function replay(scenario: Scenario): Replay {
  const vm = createVm(scenario.vm);
  const steps: StepResult[] = [];
  const states: FinalState[] = [];
  scenario.steps.forEach((step, i) => {
    steps.push(applyStep(vm, step, i));
    vm.takeTrace();
    states.push(finalState(vm));
  });
  return { steps, states };
}

/** The tour document with `vm` fields replaced. */
function withVm(doc: TourDocument, vm: Record<string, unknown>): Scenario {
  return parseScenario({ ...doc, vm: { ...doc.vm, ...vm } });
}

const rawSteps = (doc: TourDocument) => doc.steps as RawStep[];

/** Mismatches of a step's result / state expectations (the given keys) against a replay. */
function check(doc: TourDocument, run: Replay, resultKey: keyof RawStep, stateKey: keyof RawStep, finalKey: string): Mismatch[] {
  const out: Mismatch[] = [];
  rawSteps(doc).forEach((s, i) => {
    const r = s[resultKey] as Expectation;
    const st = s[stateKey] as Expectation;
    if (r) matchPartial(r, run.steps[i], `step ${i} ${String(resultKey)}`, out);
    if (st) matchPartial(st, run.states[i], `step ${i} ${String(stateKey)}`, out);
  });
  const fin = doc[finalKey] as Expectation;
  if (fin) matchPartial(fin, run.states[run.states.length - 1], finalKey, out);
  return out;
}

describe('guided tours', () => {
  it('are the basics tours (the APIC, its timer), then the five discussions, in order', () => {
    expect(TOURS.map((t) => t.tour.id)).toEqual(IDS);
  });

  for (const doc of TOURS) {
    describe(doc.tour.id, () => {
      const scenario = parseScenario(doc);
      const { tour } = doc;
      const basics = tour.discussion === undefined;

      it('parses and carries its tour fields', () => {
        expect(doc.format).toBe('apic-scenario/1');
        expect(doc.title.length).toBeGreaterThan(0);
        expect(doc.description.length).toBeGreaterThan(0);
        for (const field of ['thread', 'intro', 'outro'] as const) expect(tour[field].length, field).toBeGreaterThan(20);
        if (basics) {
          expect([tour.citation, tour.before, doc.expectFinalBefore]).toEqual([undefined, undefined, undefined]);
          for (const s of rawSteps(doc)) expect([s.expectBefore, s.expectStateBefore]).toEqual([undefined, undefined]);
        } else {
          expect(tour.discussion).toMatch(/^\d{3}_[0-9a-f]{16}\.txt$/);
          expect(tour.citation?.author.length).toBeGreaterThan(0);
          expect(tour.before).toMatch(/^\d+\.\d+$/);
          expect(() => withVm(doc, { kvm: tour.before })).not.toThrow();
        }
        expect(scenario.vm.kvm ?? 'current').toBe('current');
        expect(scenario.steps.length).toBeGreaterThanOrEqual(8);
        expect(scenario.steps.length).toBeLessThanOrEqual(22);
      });

      it('narrates every step, focuses known panels and checks every step', () => {
        rawSteps(doc).forEach((s, i) => {
          expect(s.narration?.trim().length ?? 0, `step ${i} narration`).toBeGreaterThan(0);
          expect(s.focus?.length ?? 0, `step ${i} focus`).toBeGreaterThan(0);
          for (const p of s.focus ?? []) expect(PANELS, `step ${i} focus`).toContain(p);
          expect(s.expect, `step ${i} expect`).toBeDefined();
          expect(s.detail?.trim().length ?? 0, `step ${i} detail`).toBeGreaterThan(0);
        });
      });

      it('speaks plainly: kernel names and commits in the folded detail, controls (not log numbers or JSON fields) in the text', () => {
        const texts = [
          ['intro', tour.intro],
          ['outro', tour.outro],
          ...rawSteps(doc).map((s, i) => [`step ${i}`, s.narration ?? ''] as const),
        ] as const;
        for (const [where, text] of texts) {
          expect(text, `${where}: a kernel function`).not.toMatch(/\b[a-z][a-z0-9]*_[a-z0-9_]+\(\)/);
          expect(text, `${where}: a commit hash`).not.toMatch(/\b[0-9a-f]{12}\b/);
          expect(text, `${where}: a JSON field`).not.toMatch(/\bvm\.[a-z]|`/);
          expect(text, `${where}: a log number instead of a control`).not.toMatch(/\bsteps? \d/i);
        }
        expect(tour.outroDetail ?? '', 'outro detail: a log number').not.toMatch(/\bsteps? \d/i);
      });

      it('passes its expectations with its own vm', () => {
        const result = runScenario(scenario);
        expect(checkExpectations(scenario, result)).toEqual([]);
        const run = replay(scenario);
        expect(run.steps).toEqual(result.steps);
        expect(run.states[run.states.length - 1]).toEqual(result.final);
        expect(check(doc, run, 'expect', 'expectState', 'expectFinal')).toEqual([]);
      });

      // Variants (replays with other vm fields the outro or a narration speaks of) apply to every tour.
      for (const v of tour.variants ?? []) {
        it(`variant: ${v.label}`, () => {
          const run = replay(withVm(doc, v.vm));
          const out: Mismatch[] = [];
          for (const [i, e] of Object.entries(v.expectSteps ?? {})) matchPartial(e, run.steps[Number(i)], `step ${i}`, out);
          if (v.expectFinal) matchPartial(v.expectFinal, run.states[run.states.length - 1], 'final', out);
          expect(out).toEqual([]);
        });
      }

      if (basics) return;

      it(`passes its before-expectations when replayed under ${tour.before}`, () => {
        const before = replay(withVm(doc, { kvm: tour.before }));
        expect(check(doc, before, 'expectBefore', 'expectStateBefore', 'expectFinalBefore')).toEqual([]);
      });

      it(`shows a change: some before-expectation fails on the current run`, () => {
        const current = replay(scenario);
        const differing = rawSteps(doc).flatMap((s, i) => {
          const out: string[] = [];
          if (s.expectBefore && matchPartial(s.expectBefore, current.steps[i], '').length) out.push(`step ${i}`);
          if (s.expectStateBefore && matchPartial(s.expectStateBefore, current.states[i], '').length) out.push(`step ${i} state`);
          return out;
        });
        const fin = doc.expectFinalBefore as Expectation;
        if (fin && matchPartial(fin, current.states[current.states.length - 1], '').length) differing.push('final');
        expect(differing.length).toBeGreaterThan(0);
      });

    });
  }
});

describe('tour order', () => {
  it('index.ts bundles the tours in TOUR_IDS order', async () => {
    const { TOURS } = await import('./index');
    const { TOUR_IDS } = await import('./order');
    expect(TOURS.map((t) => t.tour.id)).toEqual([...TOUR_IDS]);
  });

  it('the Tours menu (loaded before the documents) names each tour by its title', async () => {
    const { TOURS } = await import('./index');
    const { TOUR_MENU } = await import('./order');
    expect(TOUR_MENU).toEqual(TOURS.map((t) => ({ id: t.tour.id, title: t.title })));
  });
});
