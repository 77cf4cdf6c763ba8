/**
 * A step's change set names exactly what changed: random scenarios (the fuzzer's, with timer and
 * local-interrupt steps mixed in) and every fixture are replayed step by step, and after each step
 * the incremental view and its change set are checked against a full comparison of the whole state
 * before and after (every vCPU's reported state and register page, the map, inhibits, clock, flags).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SLOT_OFFSETS } from '../core/apicdef';
import type { Vm } from '../core/vm';
import { fuzzScenarioWithTimersArb, randomScenarioVm } from '../fuzz/arbitraries';
import { finalState, type FinalState } from '../scenario/result';
import { applyStep, createVm } from '../scenario/runner';
import { parseScenario, ScenarioInputError, type Scenario } from '../scenario/schema';
import { ADDRESSING_FIELDS, fullView, nextView, sameJson, touchedBy, type ChangeSet, type StateView } from './stateView';

interface Full {
  state: FinalState;
  regs: Map<number, Uint32Array>;
}
const full = (vm: Vm): Full => ({ state: finalState(vm), regs: new Map(vm.vcpus.map((v) => [v.id, v.apic.image()])) });

/** The change set a full before/after comparison finds. */
function expected(a: Full, b: Full): Omit<ChangeSet, 'slots'> & { slots: Record<number, number[]> } {
  const before = new Map(a.state.vcpus.map((v) => [v.vcpu, v]));
  const slots: Record<number, number[]> = {};
  const vcpus: number[] = [];
  for (const v of b.state.vcpus) {
    const old = a.regs.get(v.vcpu);
    const now = b.regs.get(v.vcpu)!;
    const s = SLOT_OFFSETS.filter((off) => !old || [0, 1, 2, 3].some((k) => old[(off >> 2) + k] !== now[(off >> 2) + k]));
    if (s.length) slots[v.vcpu] = s;
    if (s.length || !sameJson(before.get(v.vcpu), v)) vcpus.push(v.vcpu);
  }
  const pa = a.state.map.phys ?? {};
  const pb = b.state.map.phys ?? {};
  const physIds = [...new Set([...Object.keys(pa), ...Object.keys(pb)])].filter((k) => pa[k] !== pb[k]).map(Number).sort((x, y) => x - y);
  return {
    vcpus,
    added: b.state.vcpus.filter((v) => !before.has(v.vcpu)).map((v) => v.vcpu),
    slots,
    physIds,
    addressing: b.state.vcpus.some((v) => {
      const old = before.get(v.vcpu);
      return !old || ADDRESSING_FIELDS.some((k) => old[k] !== v[k]);
    }),
    map: !sameJson(a.state.map, b.state.map),
    inhibits: !sameJson([a.state.inhibits, a.state.inhibitCauses, a.state.inhibitWhy], [b.state.inhibits, b.state.inhibitCauses, b.state.inhibitWhy]),
    clock: a.state.clockNs !== b.state.clockNs,
    vm: !sameJson([a.state.caps, a.state.apicvActive, a.state.apicAccessPage], [b.state.caps, b.state.apicvActive, b.state.apicAccessPage]),
  };
}

/** Replay `s` checking every step's view and change set; returns how many steps changed some vCPU. */
function check(s: Scenario): number {
  const vm = randomScenarioVm(s);
  if (!vm) return 0;
  vm.takeTouched();
  let view: StateView = fullView(vm);
  let shown = full(vm);
  let changedSome = 0;
  s.steps.forEach((step, i) => {
    try {
      applyStep(vm, step, i);
    } catch (e) {
      if (e instanceof ScenarioInputError) return void vm.takeTouched();
      throw e;
    }
    vm.takeTrace();
    const next = nextView(view, vm, touchedBy(vm, step));
    const now = full(vm);
    const want = expected(shown, now);
    const got = next.changes;
    const where = `step ${i} (${JSON.stringify(step, (_k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v))})`;
    expect({ ...got, slots: Object.fromEntries([...got.slots].map(([id, set]) => [id, [...set].sort((x, y) => x - y)])) }, where).toEqual(want);
    // The incremental view is the full one, and what did not change kept its object.
    expect(next.view.snapshot, where).toEqual(now.state);
    expect(next.view.regs, where).toEqual(now.regs);
    next.view.snapshot.vcpus.forEach((v, k) => {
      if (!got.vcpus.includes(v.vcpu)) expect(v, where).toBe(view.snapshot.vcpus[k]);
    });
    expect(next.view.addressingVersion !== view.addressingVersion, where).toBe(got.addressing);
    expect(next.view.nextTimerExpiryNs, where).toBe(vm.nextTimerExpiry());
    if (got.vcpus.length) changedSome++;
    view = next.view;
    shown = now;
  });
  return changedSome;
}

describe('a step\'s change set names exactly what changed (full before/after comparison)', () => {
  it('random scenarios: the fuzzer\'s ops with timer, local-interrupt and watchdog steps', () => {
    let changed = 0;
    fc.assert(fc.property(fuzzScenarioWithTimersArb(), (s) => void (changed += check(s))), { numRuns: 200, seed: 20261202 });
    expect(changed).toBeGreaterThan(1000); // the property saw steps that changed something
  }, 120_000);

  const dir = join(import.meta.dirname, '../scenario/fixtures');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    it(`fixture ${f}`, () => {
      check(parseScenario(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
    });
  }

  it('a change set that missed a vCPU would fail the comparison (the check can fail)', () => {
    const s = parseScenario({
      format: 'apic-scenario/1',
      vm: { vcpus: 2 },
      steps: [
        { op: 'set_lapic', vcpu: 0, regs: { '0x0f0': '0x1ff' }, merge: true },
        { op: 'set_lapic', vcpu: 1, regs: { '0x0f0': '0x1ff' }, merge: true },
        { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x80040' }, // Fixed 0x40 to all including self
      ],
    });
    const vm = createVm(s.vm);
    s.steps.slice(0, 2).forEach((step, i) => applyStep(vm, step, i));
    const view = fullView(vm);
    const before = full(vm);
    applyStep(vm, s.steps[2], 2);
    vm.takeTouched();
    const missed = nextView(view, vm, [0]).changes; // vCPU 1 left out on purpose
    expect(missed.vcpus).toEqual([0]);
    expect(expected(before, full(vm)).vcpus).toEqual([0, 1]);
  });
});
