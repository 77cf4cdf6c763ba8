import { describe, expect, it } from 'vitest';
import { createLabStore } from './labStore';

describe('lab store', () => {
  it('applies a step through the core and logs it with its result', () => {
    const store = createLabStore({ vcpus: 2 });
    const r = store.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
    expect(r).toMatchObject({ ok: true });
    const s = store.getState();
    expect(s.log).toHaveLength(1);
    expect(s.snapshot.vcpus[1].mode).toBe('x2apic');
    expect(s.regs.get(1)![0x20 >> 2]).toBe(1);
  });

  it('keeps the state and explains a rejected step', () => {
    const store = createLabStore({ vcpus: 2 });
    const before = store.getState().snapshot;
    expect(store.getState().apply({ op: 'wrmsr', vcpu: 9, msr: '0x1b', value: 0 })).toBeNull();
    expect(store.getState().error).toBe('step 0 (wrmsr): vcpu 9 does not exist');
    expect(store.getState().apply({ op: 'wrmsr', vcpu: 0, msr: '0x1b' })).toBeNull();
    expect(store.getState().error).toBe('step 0 (wrmsr): value is missing');
    expect(store.getState().snapshot).toBe(before);
    expect(store.getState().log).toHaveLength(0);
  });

  it('records a guest fault as a result, not an error', () => {
    const store = createLabStore({ vcpus: 2 });
    const r = store.getState().apply({ op: 'wrmsr', vcpu: 0, msr: '0x802', value: 0 });
    expect(r).toMatchObject({ ok: false, fault: '#GP' });
    expect(store.getState().error).toBeNull();
  });

  it('reset builds a new VM and clears the log', () => {
    const store = createLabStore({ vcpus: 2 });
    store.getState().apply({ op: 'rdmsr', vcpu: 0, msr: '0x1b' });
    store.getState().reset({ vcpus: [0, 1, 256] });
    expect(store.getState().log).toHaveLength(0);
    expect(store.getState().snapshot.vcpus.map((v) => v.vcpu)).toEqual([0, 1, 256]);
  });
});

describe('time travel, undo and redo', () => {
  const steps = [
    { op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' },
    { op: 'wrmsr', vcpu: 1, msr: '0x80f', value: '0x1ff' },
    { op: 'wrmsr', vcpu: 1, msr: '0x808', value: '0x20' },
  ];
  const withSteps = () => {
    const store = createLabStore({ vcpus: 2 });
    for (const s of steps) store.getState().apply(s);
    return store;
  };

  it('travel shows the state after n steps, and marks what the nth step changed', () => {
    const store = withSteps();
    store.getState().travel(1);
    const s = store.getState();
    expect(s.cursor).toBe(1);
    expect(s.snapshot.vcpus[1]).toMatchObject({ mode: 'x2apic', swEnabled: false });
    expect([...s.changed.get(1)!].sort((a, b) => a - b)).toEqual([0x20, 0xd0]);
    expect(s.log).toHaveLength(3);
  });

  it('undo and redo move the cursor; a new step after undo drops the redo branch', () => {
    const store = withSteps();
    store.getState().undo();
    expect(store.getState().snapshot.vcpus[1].tpr).toBe('0x0');
    store.getState().redo();
    expect(store.getState().snapshot.vcpus[1].tpr).toBe('0x20');
    store.getState().undo();
    store.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x808', value: '0x30' });
    expect(store.getState().log.map((e) => e.step.op)).toEqual(['wrmsr', 'wrmsr', 'wrmsr']);
    expect(store.getState().snapshot.vcpus[1].tpr).toBe('0x30');
  });

  it('configure replays the log under another KVM release', () => {
    const store = createLabStore({ vcpus: 2 });
    store.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
    store.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x808', value: '0x1_0000_0020' });
    expect(store.getState().log[1].result).toMatchObject({ ok: false, fault: '#GP' });
    store.getState().configure({ vcpus: 2, kvm: '6.2' });
    expect(store.getState().log[1].result).toMatchObject({ ok: true });
    expect(store.getState().snapshot.vcpus[1].tpr).toBe('0x20');
  });

  it('export then import round-trips the scenario; a bad import changes nothing', () => {
    const store = withSteps();
    const text = store.getState().exportScenario();
    const other = createLabStore({ vcpus: 4 });
    expect(other.getState().importScenario(text)).toBe(true);
    expect(other.getState().snapshot).toEqual(store.getState().snapshot);
    const before = other.getState().snapshot;
    expect(other.getState().importScenario('{"format":"apic-scenario/1","steps":[{"op":"nope"}]}')).toBe(false);
    expect(other.getState().error).toMatch(/^import: step 0: unknown op "nope"/);
    expect(other.getState().snapshot).toBe(before);
  });
});
