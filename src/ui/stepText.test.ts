/**
 * The event log's lines and search text: outcomes and reasons come from the result's decisions
 * (rendered by src/explain), for every op's result shape.
 */
import { describe, expect, it } from 'vitest';
import { explain } from '../explain/explain';
import { createLabStore } from '../store/labStore';
import type { VmInput } from '../scenario/schema';
import { decisionsOf, failureName, refusalWords, resultLine, searchText, stepLine } from './stepText';

function lastEntry(vm: VmInput, steps: object[]) {
  const s = createLabStore(vm);
  for (const step of steps) expect(s.getState().apply(step), JSON.stringify(step)).not.toBeNull();
  const { log, cursor } = s.getState();
  return log[cursor - 1];
}
const toX2 = (v: number) => ({ op: 'wrmsr', vcpu: v, msr: '0x1b', value: '0xfee00d00' });

describe('stepText', () => {
  it('words a #GP with the refusal decision that fired', () => {
    const e = lastEntry({ vcpus: 2 }, [toX2(1), { op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00900' }]);
    expect(e.result.refusal).toMatchObject({ kind: 'refusal', code: 'APICBASE_X2APIC_TO_XAPIC', fault: '#GP', vcpus: [1] });
    expect(failureName(e.result)).toBe('#GP');
    expect(resultLine(e)).toBe('#GP (x2APIC -> xAPIC is illegal for the guest (disable the APIC first))');
    expect(refusalWords(e.result)).toBe('vCPU 1: x2APIC -> xAPIC is illegal for the guest (disable the APIC first): a #GP for the guest.');
    expect(decisionsOf(e.result)).toEqual([e.result.refusal]);
    expect(stepLine(e)).toBe('wrmsr vcpu 1 0x1b = 0xfee00900');
  });

  it('words an errno from an ioctl', () => {
    const e = lastEntry({ vcpus: 2 }, [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 0x100 }]);
    expect(e.result.ok).toBe(false);
    expect(failureName(e.result)).toBe('EINVAL');
    expect(resultLine(e)).toBe(`EINVAL (${explain(e.result.refusal!)})`);
  });

  it('lists the route and each dropped target of a delivery, and makes their words searchable', () => {
    const e = lastEntry({ vcpus: 4 }, [{ op: 'msi', addressLo: '0xfee01000', data: '0x31' }]);
    expect(resultLine(e)).toBe('fast path -> nobody');
    const [route, drop, ...rest] = decisionsOf(e.result);
    expect(route).toMatchObject({ kind: 'route', code: 'PHYS_SLOT', vcpus: [1] });
    expect(drop).toMatchObject({ kind: 'accept', code: 'APIC_DISABLED', vcpus: [1] });
    expect(rest).toEqual([]);
    expect(searchText(e)).toContain('spiv bit 8 is clear');
    expect(searchText(e)).toContain('phys_map[1] holds vcpu 1');
  });

  it('reads values, MP states and vectors of every op through typed fields', () => {
    expect(resultLine(lastEntry({ vcpus: 1 }, [{ op: 'rdmsr', vcpu: 0, msr: '0x1b' }]))).toBe('0xfee00900');
    expect(resultLine(lastEntry({ vcpus: 1 }, [{ op: 'get_mp_state', vcpu: 0 }]))).toBe('RUNNABLE');
    expect(resultLine(lastEntry({ vcpus: 1 }, [{ op: 'ack', vcpu: 0 }]))).toBe('no interrupt');
    expect(resultLine(lastEntry({ vcpus: 1 }, [{ op: 'mmio_write', vcpu: 0, offset: '0x80', value: '0x10' }]))).toBe('ok');
  });

  it('carries the INIT/SIPI event decisions of a run', () => {
    // Three vCPUs: the newest (2) is not in the map until the next rebuild.
    const e = lastEntry({ vcpus: 3 }, [
      { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x1000000' },
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x4500' },
      { op: 'run', vcpu: 1 },
    ]);
    const events = decisionsOf(e.result).filter((d) => d.kind === 'event');
    expect(events).toEqual([expect.objectContaining({ kind: 'event', code: 'INIT_RESET', vcpus: [1] })]);
    expect(searchText(e)).toContain(explain(events[0], 'long').toLowerCase());
  });
});

describe('timer and local-source steps in the log', () => {
  const timer = [
    { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' },
    { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0xb' },
    { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0xec' },
    { op: 'mmio_write', vcpu: 0, offset: '0x380', value: '1000000' },
  ];

  it('an advance says how far and the time after it, and words the expiries from their decisions', () => {
    let e = lastEntry({ vcpus: 1 }, [...timer, { op: 'advance', ns: 400000 }]);
    expect(stepLine(e)).toBe('advance +400 µs');
    expect(resultLine(e)).toBe('now 400 µs');
    e = lastEntry({ vcpus: 1 }, [...timer, { op: 'advance', until: 'next-timer-expiry' }]);
    expect(stepLine(e)).toBe('advance until next-timer-expiry');
    const [expired] = decisionsOf(e.result);
    expect(expired).toMatchObject({ kind: 'event', code: 'TIMER_EXPIRED', vcpus: [0] });
    expect(resultLine(e)).toBe(`now 1 ms, ${explain(expired, 'short')}`);
    expect(searchText(e)).toContain(explain(expired, 'long').toLowerCase());
  });

  it('a run that delivers a pending expiry names the injection once', () => {
    const e = lastEntry({ vcpus: 1 }, [...timer, { op: 'advance', ns: 2000000 }, { op: 'run', vcpu: 0 }]);
    const [injected, local] = decisionsOf(e.result);
    expect(local).toMatchObject({ code: 'LOCAL_DELIVERED', lvt: 'TIMER', vector: 0xec });
    expect(resultLine(e)).toBe(`RUNNABLE, ${explain(injected, 'short')}`);
    expect(e.result.trace?.map((t) => t.event)).toEqual(['kvm_apic_accept_irq']);
  });

  it('local sources and the watchdog', () => {
    let e = lastEntry({ vcpus: 2 }, [{ op: 'local_irq', vcpu: 1, lvt: 'LINT0' }]);
    expect(stepLine(e)).toBe('local_irq vcpu 1 LINT0');
    expect(resultLine(e)).toBe(explain(decisionsOf(e.result)[0], 'short'));
    e = lastEntry({ vcpus: 2 }, [{ op: 'nmi_watchdog' }]);
    expect(stepLine(e)).toBe('nmi_watchdog');
    expect(resultLine(e)).toBe('the NMI watchdog tick reached no vCPU: none has LVT0 in NMI mode');
  });
});
