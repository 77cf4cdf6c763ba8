/**
 * The log keeps each repeated part of a result once: a result reads exactly as the runner made it
 * (the same JSON), equal parts of different steps are one object, and no step can change them.
 */
import { describe, expect, it } from 'vitest';
import { applyStep, createVm } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';
import { SharedParts } from './sharedParts';
import { takeEvents } from '../core/testVm';

const json = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('SharedParts', () => {
  const s = parseScenario({
    format: 'apic-scenario/1',
    vm: { vcpus: 4 },
    steps: [
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x4041' }, // the same IPI three times
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x4041' },
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x4041' },
      { op: 'mmio_write', vcpu: 1, offset: '0x80', value: '0x20' },
    ],
  });
  const run = (share: SharedParts | null) => {
    const vm = createVm(s.vm);
    return s.steps.map((step, i) => {
      const r = applyStep(vm, step, i);
      r.trace = takeEvents(vm);
      return share ? share.keep(r) : r;
    });
  };

  it('a kept result reads as the runner made it', () => {
    expect(json(run(new SharedParts()))).toBe(json(run(null)));
  });

  it('equal parts of different steps are one frozen object', () => {
    const [a, b, c, d] = run(new SharedParts()) as unknown as Record<string, unknown>[];
    expect(a.route).toBeDefined();
    expect(b.route).toBe(a.route);
    expect(c.dropped).toBe(a.dropped);
    expect(b.why).toBe(a.why);
    expect(Object.isFrozen(a.route)).toBe(true);
    expect(() => ((a.route as Record<string, unknown>).code = 'x')).toThrow(TypeError);
    expect(d.trace).not.toBe(a.trace); // another trace: not shared
    expect(a.i).toBe(0);
    expect(b.i).toBe(1);
  });

  it('parts holding a bigint, which JSON cannot print, are told apart and shared too', () => {
    const share = new SharedParts();
    const result = (v: bigint) => ({ i: 0, op: 'wrmsr', ok: true, part: { value: v } }) as unknown as Parameters<SharedParts['keep']>[0];
    const [a, b, c] = [result(5n), result(5n), result(6n)].map((r) => share.keep(r) as unknown as { part: object });
    expect(b.part).toBe(a.part);
    expect(c.part).not.toBe(a.part);
  });
});
