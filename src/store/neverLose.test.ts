/** Nothing is lost: every way out of a state (acting in the past, Reset, import, a link, a tour) can be undone. */
import { describe, expect, it } from 'vitest';
import { TOURS } from '../tours';
import { createLabStore } from './labStore';

const steps = (store: ReturnType<typeof createLabStore>) => store.getState().log.map((e) => e.step.op);

function withSteps() {
  const store = createLabStore({ vcpus: 2 });
  store.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
  store.getState().apply({ op: 'rdmsr', vcpu: 1, msr: '0x802' });
  store.getState().apply({ op: 'get_mp_state', vcpu: 0 });
  return store;
}

describe('never lose work', () => {
  it('acting in the past keeps the discarded future, and going back to it keeps the new one', () => {
    const store = withSteps();
    store.getState().travel(1);
    store.getState().apply({ op: 'get_lapic', vcpu: 0 });
    expect(steps(store)).toEqual(['wrmsr', 'get_lapic']);
    expect(store.getState().setAside).toHaveLength(1);
    expect(store.getState().setAside[0]).toMatchObject({ steps: 3, label: 'steps 1-2, undone before step 1 was replaced' });
    expect(store.getState().restoreSetAside(0)).toBe(true);
    expect(steps(store)).toEqual(['wrmsr', 'rdmsr', 'get_mp_state']);
    expect(store.getState().cursor).toBe(1); // where the user had travelled to
    expect(store.getState().setAside[0]).toMatchObject({ steps: 2, label: 'the session before going back' });
  });

  it('Reset, a bad import and a link keep or leave the session', () => {
    const store = withSteps();
    store.getState().reset({ vcpus: 3 });
    expect(store.getState().setAside[0]).toMatchObject({ label: 'before Reset', steps: 3 });
    store.getState().restoreSetAside(0);
    expect(steps(store)).toHaveLength(3);
    expect(store.getState().importScenario('{"format":"apic-scenario/1","vm":{"vcpus":1},"steps":[{"op":"bogus"}]}')).toBe(false);
    expect(steps(store)).toHaveLength(3);
    expect(store.getState().openLink('s=1.garbage')).toBe(false);
    expect(steps(store)).toHaveLength(3);
  });

  it('a tour plays in its own workspace and ending it returns to the session as it was', () => {
    const store = withSteps();
    store.getState().travel(2);
    store.getState().configure({ ...store.getState().vmInput, kvm: '6.6' });
    expect(store.getState().startTour(TOURS[0])).toBe(true);
    store.getState().travel(3);
    store.getState().configure({ ...store.getState().vmInput, kvm: '5.17' }); // "replay under the release before"
    store.getState().endTour();
    const s = store.getState();
    expect([steps(store), s.cursor, s.vmInput.kvm, s.tour]).toEqual([['wrmsr', 'rdmsr', 'get_mp_state'], 2, '6.6', null]);
    expect(s.setAside).toEqual([]);
  });
});
