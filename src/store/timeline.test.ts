/**
 * Time travel through checkpoints shows exactly what replaying from the start shows: random
 * scenarios, random jumps (back, forward, undo, redo), checkpoints every few steps; after each jump
 * the view equals a fresh replay's full view and the change set is that of the step at the cursor.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzScenarioWithTimersArb } from '../fuzz/arbitraries';
import { ScenarioInputError, type Scenario, type Step } from '../scenario/schema';
import { modelState } from '../core/modelState';
import { Timeline } from './timeline';

/** The timeline's log of `s`, applied step by step; null when the scenario is invalid. */
function logOf(t: Timeline, s: Scenario): { step: Step }[] | null {
  try {
    return s.steps.map((step, i) => {
      t.apply(step);
      if (i % 5 === 4 && t.checkpointDue) t.checkpoint(); // deferred copies taken now and then
      return { step };
    });
  } catch (e) {
    if (e instanceof ScenarioInputError) return null;
    throw e;
  }
}

/** A fresh timeline that applied the first `n` steps one by one. */
function fresh(s: Scenario, n: number): Timeline {
  const t = new Timeline(s.vm);
  for (const step of s.steps.slice(0, n)) t.apply(step);
  return t;
}

describe('time travel through checkpoints', () => {
  it('random jumps in random scenarios show what a replay from the start shows', () => {
    let jumps = 0;
    fc.assert(
      fc.property(fuzzScenarioWithTimersArb(), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.constantFrom(1, 2, 4, 8), fc.boolean(), (s, targets, interval, deferred) => {
        let t: Timeline;
        try {
          t = new Timeline(s.vm, interval, deferred);
        } catch (e) {
          if (e instanceof ScenarioInputError) return;
          throw e;
        }
        const log = logOf(t, s);
        if (!log) return;
        for (const raw of [...targets, t.cursor - 1, t.cursor + 1]) {
          const n = raw % (log.length + 1);
          t.travel(n, log);
          if (deferred && raw % 3 === 0) t.checkpoint(); // idle time came: a copy at this step
          const want = fresh(s, n);
          expect(t.cursor).toBe(n);
          expect(t.view.snapshot).toEqual(want.view.snapshot);
          expect(t.view.regs).toEqual(want.view.regs);
          expect(t.changes).toEqual(want.changes);
          // Not only what the view shows: every field of the model, hidden ones included.
          expect(modelState(t.current)).toEqual(modelState(want.current));
          jumps++;
        }
      }),
      { numRuns: 120, seed: 20261202 },
    );
    expect(jumps).toBeGreaterThan(250); // many scenarios were valid to the end
  }, 120_000);

  it('deferred checkpoints: none is taken until asked, then the due one', () => {
    const t = new Timeline({ vcpus: 2 }, 4, true);
    expect(t.checkpointDue).toBe(true); // step 0, before anything changes it
    t.checkpoint();
    for (let i = 0; i < 3; i++) t.apply({ op: 'mmio_write', vcpu: 0, offset: 0x80n, value: BigInt(i) });
    expect(t.checkpointDue).toBe(false);
    t.apply({ op: 'mmio_write', vcpu: 0, offset: 0x80n, value: 3n });
    expect(t.checkpointDue).toBe(true);
    t.checkpoint();
    expect(t.checkpointDue).toBe(false);
  });

  it('checkpoints stay within the budget: the interval doubles as the log grows', () => {
    const t = new Timeline({ vcpus: 1024 }, 4);
    for (let i = 0; i < 2000; i++) t.apply({ op: 'mmio_write', vcpu: (i * 67) % 1024, offset: 0x80n, value: BigInt(i & 0xff) });
    // Every 4th step would be 500 snapshots of about 72 kB (the VM-wide fields and 4 changed vCPUs).
    expect(t.interval).toBeGreaterThan(4);
    expect(t.checkpointBytes).toBeLessThanOrEqual(24 * 2 ** 20);
    expect(t.checkpointBytes).toBeGreaterThan(12 * 2 ** 20); // thinned to about half the budget, not emptied
  });
});
