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
    expect([...s.changes.slots.get(1)!].sort((a, b) => a - b)).toEqual([0x20, 0xd0]);
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

describe('timer and local-source actions', () => {
  /** One vCPU with a one-shot timer of 1 ms (divide by 1, vector 0xec) started at clock 0. */
  const withTimer = () => {
    const store = createLabStore({ vcpus: 2 });
    for (const s of [
      { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' },
      { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0xb' },
      { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0xec' },
      { op: 'mmio_write', vcpu: 0, offset: '0x380', value: '1000000' },
    ]) expect(store.getState().apply(s)).not.toBeNull();
    return store;
  };

  it('each control is one apic-scenario/1 step, and the values shown are the core\'s', () => {
    const store = withTimer();
    expect(store.getState().nextTimerExpiryNs).toBe(1_000_000);
    expect(store.getState().advance(400_000)).toMatchObject({ op: 'advance', ok: true, nowNs: 400_000 });
    let s = store.getState();
    expect(s.snapshot.clockNs).toBe(400_000);
    expect(s.snapshot.vcpus[0].timer).toMatchObject({ mode: 'one-shot', tmict: 1_000_000, tmcct: 600_000, nextExpiryNs: 1_000_000, pending: false });
    expect(s.guestTsc).toBe('0x' + (400_000).toString(16)); // the default guest TSC runs at 1 GHz
    expect(s.advance('next-timer-expiry')).toMatchObject({ nowNs: 1_000_000, events: [{ code: 'TIMER_EXPIRED', vcpus: [0] }] });
    s = store.getState();
    expect(s.snapshot.vcpus[0].timer.pending).toBe(true);
    expect(s.snapshot.vcpus[0].irr).toEqual([]);
    expect(s.nextTimerExpiryNs).toBeNull();
    // The expiry lands in the IRR when the vCPU runs.
    expect(s.runVcpu(0)).toMatchObject({ op: 'run', events: [{ code: 'TIMER_INJECTED' }, { code: 'LOCAL_DELIVERED', lvt: 'TIMER', vector: 0xec }] });
    expect(store.getState().snapshot.vcpus[0].irr).toEqual([0xec]);
    expect(store.getState().raiseLocal(1, 'LINT1')).toMatchObject({ op: 'local_irq', events: [{ code: 'LOCAL_MASKED', lvt: 'LINT1', vcpus: [1] }] });
    expect(store.getState().nmiWatchdog()).toMatchObject({ op: 'nmi_watchdog', events: [{ code: 'NMI_WATCHDOG_IDLE' }] });
    const steps = store.getState().log.slice(4).map((e) => e.step);
    expect(steps).toEqual([
      { op: 'advance', ns: 400000n },
      { op: 'advance', until: 'next-timer-expiry' },
      { op: 'run', vcpu: 0 },
      { op: 'local_irq', vcpu: 1, lvt: 'LINT1' },
      { op: 'nmi_watchdog' },
    ]);
  });

  it('bad amounts and a missing next expiry give one message and change nothing', () => {
    const store = createLabStore({ vcpus: 1 });
    const before = store.getState().snapshot;
    expect(store.getState().advance('next-timer-expiry')).toBeNull();
    expect(store.getState().error).toBe('step 0 (advance): until "next-timer-expiry": no APIC timer is running, so there is no next expiry');
    expect(store.getState().advance(-5)).toBeNull();
    expect(store.getState().error).toBe('step 0 (advance): ns -5 is negative');
    expect(store.getState().advance(3_600_000_000_001n)).toBeNull();
    expect(store.getState().error).toMatch(/one hour of guest time/);
    expect(store.getState().snapshot).toBe(before);
    expect(store.getState().log).toHaveLength(0);
    expect(store.getState().advance(0)).not.toBeNull();
    expect(store.getState().error).toBeNull();
  });

  it('time travel shows the clock and timers as they were', () => {
    const store = withTimer();
    store.getState().advance(250_000);
    store.getState().advance(250_000);
    store.getState().travel(5);
    expect(store.getState().snapshot.clockNs).toBe(250_000);
    expect(store.getState().snapshot.vcpus[0].timer.tmcct).toBe(750_000);
    expect(store.getState().nextTimerExpiryNs).toBe(1_000_000);
    store.getState().travel(0);
    expect(store.getState().nextTimerExpiryNs).toBeNull();
  });
});
