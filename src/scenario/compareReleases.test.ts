import { describe, expect, it } from 'vitest';
import { compareReleases, diffLeaves } from './compareReleases';
import { field } from './result';
import { parseScenario } from './schema';

const aliasing = parseScenario({
  format: 'apic-scenario/1',
  vm: { vcpus: [0, 1, 256] },
  steps: [
    { op: 'set_lapic', vcpu: 0, merge: true, regs: { '0x0f0': '0x1ff' } },
    { op: 'set_lapic', vcpu: 1, merge: true, regs: { '0x0f0': '0x1ff' } },
    { op: 'set_lapic', vcpu: 256, merge: true, regs: { '0x0f0': '0x1ff' } },
    { op: 'msi', addressLo: '0xfee00000', data: '0x30' },
  ],
});

describe('compareReleases', () => {
  it('6.2 against current on aliased xAPIC IDs: the map, the path, the receivers and the inhibit differ', () => {
    const c = compareReleases(aliasing, '6.2', 'current');
    const msi = c.steps[3];
    expect(msi.fields).toEqual(expect.arrayContaining(['path', 'delivered', 'count']));
    expect(field(msi.a, 'delivered')).toEqual([{ vcpu: 0, mode: 'Fixed', vector: 0x30 }]);
    expect(field(msi.b, 'delivered')).toEqual([
      { vcpu: 0, mode: 'Fixed', vector: 0x30 },
      { vcpu: 256, mode: 'Fixed', vector: 0x30 },
    ]);
    expect(c.steps.slice(0, 3).every((s) => s.fields.length === 0)).toBe(true);
    expect(c.final.map((d) => d.path)).toEqual(expect.arrayContaining(['map.present', 'inhibits', 'vcpus[2].irr']));
  });

  it('the PV IPI hypercall on aliased IDs: 6.2 delivers through its map, current has no map and returns -EOPNOTSUPP', () => {
    const pv = parseScenario({ ...aliasing.raw, steps: [...(aliasing.raw as { steps: unknown[] }).steps.slice(0, 3), { op: 'pv_send_ipi', vcpu: 1, bitmapLow: '0x1', min: '0x0', icr: '0x30' }] });
    const c = compareReleases(pv, '6.2', 'current');
    expect(c.steps[3].fields).toEqual(expect.arrayContaining(['ok', 'ret', 'delivered']));
    expect(c.steps[3].a).toMatchObject({ ok: true, ret: 1, delivered: [{ vcpu: 0, mode: 'Fixed', vector: 0x30 }] });
    expect(c.steps[3].b).toMatchObject({ ok: false, ret: -95, delivered: [] });
  });

  it('diffLeaves lists leaf paths', () => {
    expect(diffLeaves({ a: [1, 2], b: { c: 1 } }, { a: [1, 3], b: { c: 1 } })).toEqual([{ path: 'a', a: [1, 2], b: [1, 3] }]);
  });
});
