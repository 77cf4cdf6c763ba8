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
