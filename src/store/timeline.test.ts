/**
 * Time travel through checkpoints shows exactly what replaying from the start shows: random
 * scenarios, random jumps (back, forward, undo, redo), checkpoints every few steps; after each jump
 * the view equals a fresh replay's full view and the change set is that of the step at the cursor.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzScenarioWithTimersArb } from '../fuzz/arbitraries';
import { ScenarioInputError, type Scenario, type Step } from '../scenario/schema';
import type { Vm } from '../core/vm';
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

/**
 * Every field of a VM's object graph as JSON-like data: objects met again are named by the path
 * where they were first met, functions and trace buffers are left out.
 */
function modelState(vm: Vm): unknown {
  const paths = new Map<object, string>();
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'function') return '<fn>';
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v !== 'object' || v === null) return v;
    const first = paths.get(v);
    if (first !== undefined) return `<ref ${first}>`;
    paths.set(v, path);
    if (ArrayBuffer.isView(v)) return [...(v as Uint32Array)];
    if (v instanceof Map) return [...v].map(([k, x], i) => [walk(k, `${path}.k${i}`), walk(x, `${path}.v${i}`)]);
    if (v instanceof Set) return [...v].map((x, i) => walk(x, `${path}.${i}`));
    return Object.fromEntries(Object.keys(v).filter((k) => k !== 'traceSink').map((k) => [k, walk((v as Record<string, unknown>)[k], `${path}.${k}`)]));
  };
  return walk(vm, 'vm');
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
    const t = new Timeline({ vcpus: 4096 }, 4);
    for (let i = 0; i < 64; i++) t.apply({ op: 'mmio_write', vcpu: i % 4096, offset: 0x80n, value: BigInt(i & 0xff) });
    // 24 MiB at 2 kB a vCPU leaves room for 3 copies of a 4096-vCPU VM: 0, 32, 64.
    expect(t.interval).toBe(32);
  });
});
