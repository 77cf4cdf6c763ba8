/**
 * A VM put back from a snapshot goes on exactly as it did the first time: random scenarios (the
 * fuzzer's, with timer steps) are cut at a random step and snapshotted there; the rest is replayed,
 * the VM restored, and the rest replayed again: every result, and every field of the model, agree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzScenarioWithTimersArb, randomScenarioVm } from '../fuzz/arbitraries';
import { applyStep, createVm } from '../scenario/runner';
import { parseScenario, ScenarioInputError, type Scenario } from '../scenario/schema';
import { modelState } from './modelState';
import { takeEvents } from './testVm';
import { restoreSnapshot, takeSnapshot } from './vmSnapshot';
import type { Vm } from './vm';

/** Apply `s`'s steps from index `from`; each result with its trace as JSON, or the input error's message. */
function replay(vm: Vm, s: Scenario, from: number): string[] {
  return s.steps.slice(from).map((step, k) => {
    try {
      const r = applyStep(vm, step, from + k);
      return JSON.stringify({ ...r, trace: takeEvents(vm).map((e) => ({ event: e.event, vcpu: e.vcpu, detail: e.detail })) }, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
    } catch (e) {
      if (e instanceof ScenarioInputError) return e.message;
      throw e;
    }
  });
}

describe('vmSnapshot: a restored VM goes on as it did', () => {
  it('random scenarios, snapshotted at a random step', () => {
    let checked = 0;
    fc.assert(
      fc.property(fuzzScenarioWithTimersArb(), fc.nat(), (s, cut) => {
        const vm = randomScenarioVm(s);
        if (!vm) return;
        const at = cut % (s.steps.length + 1);
        replay(vm, { ...s, steps: s.steps.slice(0, at) }, 0);
        vm.takeTouched();
        const state = modelState(vm);
        const snapshot = takeSnapshot(vm);
        const first = replay(vm, s, at);
        restoreSnapshot(vm, snapshot);
        expect(modelState(vm)).toEqual(state);
        expect(replay(vm, s, at)).toEqual(first);
        checked++;
      }),
      { numRuns: 150, seed: 20261202 },
    );
    expect(checked).toBeGreaterThan(100);
  }, 120_000);

  it('a snapshot shares the records of the vCPUs that did not change, and only those', () => {
    const s = parseScenario({ format: 'apic-scenario/1', vm: { vcpus: 3 }, steps: [{ op: 'mmio_write', vcpu: 1, offset: '0x80', value: '0x20' }] });
    const vm = createVm(s.vm);
    const before = takeSnapshot(vm);
    applyStep(vm, s.steps[0], 0);
    const after = takeSnapshot(vm, before);
    const [v0, v1, v2] = vm.vcpus;
    expect(after.records.get(v0)).toBe(before.records.get(v0));
    expect(after.records.get(v2)).toBe(before.records.get(v2));
    expect(after.records.get(v1)).not.toBe(before.records.get(v1));
    restoreSnapshot(vm, before);
    expect(vm.vcpus[1].apic.getReg(0x80)).toBe(0);
    expect(vm.vcpus[1]).toBe(v1); // in place: the same objects
  });
});
