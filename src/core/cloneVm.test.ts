/**
 * A cloned VM goes on exactly as the original would: random scenarios (the fuzzer's, with timer
 * steps) are cut at a random step, the VM there is cloned, and the rest is replayed on the clone and
 * on the original; every result and the final state agree, and the two never share mutable state.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzScenarioWithTimersArb } from '../fuzz/arbitraries';
import { finalState } from '../scenario/result';
import { applyStep, createVm } from '../scenario/runner';
import { ScenarioInputError, type Scenario } from '../scenario/schema';
import { cloneVm } from './cloneVm';
import type { Vm } from './vm';

/** Apply `steps` from index `from`; each result with its trace as JSON (trace details rendered), or the input error's message. */
function replay(vm: Vm, s: Scenario, from: number): unknown[] {
  return s.steps.slice(from).map((step, k) => {
    try {
      const r = applyStep(vm, step, from + k);
      return JSON.stringify({ ...r, trace: vm.takeTrace().map((e) => ({ event: e.event, vcpu: e.vcpu, detail: e.detail })) }, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
    } catch (e) {
      if (e instanceof ScenarioInputError) return e.message;
      throw e;
    }
  });
}

describe('cloneVm: a checkpoint goes on as the original', () => {
  it('random scenarios cut at a random step', () => {
    let checked = 0;
    fc.assert(
      fc.property(fuzzScenarioWithTimersArb(), fc.nat(), (s, cut) => {
        let vm: Vm;
        try {
          vm = createVm(s.vm);
        } catch (e) {
          if (e instanceof ScenarioInputError) return;
          throw e;
        }
        const at = cut % (s.steps.length + 1);
        const head = s.steps.slice(0, at);
        replay(vm, { ...s, steps: head }, 0);
        const copy = cloneVm(vm);
        const original = replay(vm, s, at);
        const fromCopy = replay(copy, s, at);
        expect(fromCopy).toEqual(original);
        expect(finalState(copy)).toEqual(finalState(vm));
        checked++;
      }),
      { numRuns: 150, seed: 20261202 },
    );
    expect(checked).toBeGreaterThan(100);
  }, 120_000);

  it('the clone shares nothing mutable with the original', () => {
    const vm = createVm({ vcpus: 2 });
    const copy = cloneVm(vm);
    expect(copy.vcpus[0]).not.toBe(vm.vcpus[0]);
    expect(copy.vcpus[0].vm).toBe(copy);
    expect(copy.vcpus[0].apic.vcpu).toBe(copy.vcpus[0]);
    expect(copy.vcpu(1)).toBe(copy.vcpus[1]);
    copy.vcpus[0].apic.regs[0x80 >> 2] = 0x20;
    expect(vm.vcpus[0].apic.regs[0x80 >> 2]).toBe(0);
  });
});
