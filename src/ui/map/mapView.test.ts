import { describe, expect, it } from 'vitest';
import { createLabStore } from '../../store/labStore';
import type { VmInput } from '../../scenario/schema';
import { absentWords, buildSlots, changedSlotIds, describeSlot, listWords, logicalView, routeOf, SLOT_STATES } from './mapView';

function lab(vm: VmInput, steps: object[] = []) {
  const s = createLabStore(vm);
  for (const step of steps) expect(s.getState().apply(step), JSON.stringify(step)).not.toBeNull();
  return s;
}
const model = (s: ReturnType<typeof lab>) => {
  const { snapshot } = s.getState();
  return buildSlots(snapshot.map, snapshot.vcpus, snapshot.caps.x2apicFormat);
};
const route = (s: ReturnType<typeof lab>) => {
  const { log, cursor } = s.getState();
  const e = log[cursor - 1];
  return routeOf(e?.step as Record<string, unknown> | undefined, e?.result, model(s));
};
const swEnableX2 = (v: number) => ({ op: 'wrmsr', vcpu: v, msr: '0x80f', value: '0x1ff' });
const enterX2 = (v: number) => ({ op: 'wrmsr', vcpu: v, msr: '0x1b', value: '0xfee00d00' });
const swEnableX = (v: number) => ({ op: 'mmio_write', vcpu: v, offset: '0xf0', value: '0x1ff' });

describe('buildSlots', () => {
  it('shows a fresh VM faithfully: the newest vCPU is not in the map until the next rebuild', () => {
    const m = model(lab({ vcpus: 4 }));
    expect(m.present).toBe(true);
    expect(m.slots.map((s) => [s.id, s.vcpu, s.state])).toEqual([
      [0, 0, 'xapic'],
      [1, 1, 'xapic'],
      [2, 2, 'xapic'],
      [3, 3, 'missing'],
    ]);
    expect(m.notInMap).toEqual([{ vcpu: 3, why: expect.stringContaining('until the next rebuild') }]);
    expect(m.size).toBe(256);
    expect(m.counts).toMatchObject({ xapic: 3, missing: 1, empty: 252 });
  });

  it('puts every vCPU in its slot after a rebuild (software enable)', () => {
    const m = model(lab({ vcpus: 4 }, [0, 1, 2, 3].map(swEnableX)));
    expect(m.slots.map((s) => [s.id, s.vcpu, s.state])).toEqual([0, 1, 2, 3].map((i) => [i, i, 'xapic']));
    expect(m.notInMap).toEqual([]);
    expect(m.vcpuSlots.get(2)).toEqual([2]);
    expect(m.vcpuAt[3]).toBe(3);
    expect(SLOT_STATES[m.states[3]]).toBe('xapic');
    expect(m.vcpuAt[4]).toBe(-1);
  });

  it('shows x2APIC vCPUs as x2APIC slots', () => {
    const m = model(lab({ vcpus: 2 }, [enterX2(0), enterX2(1)]));
    expect(m.slots.map((s) => s.state)).toEqual(['x2apic', 'x2apic']);
    expect(m.slots[1].note).toBe('x2APIC ID 1 of vCPU 1');
  });

  it('explains an absent map: vCPUs 0 and 256 share physical APIC ID 0', () => {
    const s = lab({ vcpus: [0, 1, 256] }, [0, 1, 256].map((v) => ({ op: 'set_lapic', vcpu: v, merge: true, regs: {} })));
    const { map } = s.getState().snapshot;
    expect(map.present).toBe(false);
    expect(absentWords(map)).toEqual(['vCPUs 0 and 256 share physical APIC ID 0 and 32-bit IDs are off']);
    const m = model(s);
    expect(m.byId.get(0)).toMatchObject({ state: 'conflict', claims: [0, 256], vcpu: null });
    expect(m.byId.get(1)).toMatchObject({ state: 'xapic', vcpu: 1 });
    expect(m.vcpuSlots.get(256)).toEqual([0]);
    expect(describeSlot(m, 0)).toBe('APIC ID 0: shared by vCPUs 0, 256, so KVM has no map');
    expect(describeSlot(m, 7)).toBe('APIC ID 7: no vCPU answers to it');
    expect(logicalView(map)).toBeNull();
  });

  it('marks the hotplug hack with 32-bit IDs as aliased', () => {
    const s = lab({ vcpus: [0, 256] }, [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }, swEnableX(0), swEnableX(256)]);
    const m = model(s);
    expect(m.present).toBe(true);
    expect(m.byId.get(0)).toMatchObject({ vcpu: 0, state: 'alias', claims: [0, 256] });
    expect(m.byId.get(256)).toMatchObject({ vcpu: 256, state: 'alias' });
    expect(m.byId.get(256)!.note).toContain('hotplug hack');
    expect(m.size).toBe(257);
  });

  it('has 44 shared IDs with 300 xAPIC vCPUs', () => {
    const m = model(lab({ vcpus: 300 }));
    expect(m.present).toBe(false);
    expect(m.size).toBe(256);
    expect(m.counts.conflict).toBe(44);
    expect(m.counts.xapic).toBe(212);
    expect(SLOT_STATES[m.states[43]]).toBe('conflict');
    expect(SLOT_STATES[m.states[44]]).toBe('xapic');
  });
});

describe('changedSlotIds', () => {
  it('finds the slots a rebuild changed', () => {
    const s = lab({ vcpus: 4 });
    const before = model(s);
    s.getState().apply(swEnableX(0));
    const after = model(s);
    expect([...changedSlotIds(before, after)]).toEqual([3]);
    expect(changedSlotIds(null, after).size).toBe(0);
    s.getState().apply(enterX2(2));
    expect([...changedSlotIds(after, model(s))]).toEqual([2]);
  });
});

describe('logicalView', () => {
  it('lists the xAPIC flat table', () => {
    const steps = [0, 1].flatMap((v) => [
      swEnableX(v),
      { op: 'mmio_write', vcpu: v, offset: '0xe0', value: '0xffffffff' },
      { op: 'mmio_write', vcpu: v, offset: '0xd0', value: v === 0 ? '0x1000000' : '0x2000000' },
    ]);
    const lv = logicalView(lab({ vcpus: 2 }, steps).getState().snapshot.map)!;
    expect(lv.mode).toBe('XAPIC_FLAT');
    expect(lv.flat).toEqual([0, 1, null, null, null, null, null, null]);
    expect(lv.words).toContain('8 slots');
  });

  it('lists xAPIC clusters', () => {
    const steps = [0, 1].flatMap((v) => [
      swEnableX(v),
      { op: 'mmio_write', vcpu: v, offset: '0xe0', value: '0xfffffff' },
      { op: 'mmio_write', vcpu: v, offset: '0xd0', value: v === 0 ? '0x11000000' : '0x22000000' },
    ]);
    const lv = logicalView(lab({ vcpus: 2 }, steps).getState().snapshot.map)!;
    expect(lv.mode).toBe('XAPIC_CLUSTER');
    expect(lv.clusters).toEqual([
      { cluster: 1, slots: [0, null, null, null] },
      { cluster: 2, slots: [null, 1, null, null] },
    ]);
  });

  it('says that x2APIC reuses the physical table', () => {
    const lv = logicalView(lab({ vcpus: 2 }, [enterX2(0), swEnableX2(0)]).getState().snapshot.map)!;
    expect(lv.mode).toBe('X2APIC');
    expect(lv.words).toContain('cluster = ID >> 4, bit = ID & 0xf');
  });
});

describe('routeOf', () => {
  const x2vm = [0, 1, 2, 3].flatMap((v) => [enterX2(v), swEnableX2(v)]);

  it('is null for a step that sent nothing', () => {
    expect(route(lab({ vcpus: 2 }, [swEnableX(0)]))).toBeNull();
    expect(route(lab({ vcpus: 2 }))).toBeNull();
  });

  it('follows a physical x2APIC IPI through phys_map', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x200000030' }]))!;
    expect(r).toMatchObject({ source: 0, path: 'fast', destId: 2, logical: false, slots: [2], vector: 0x30, mode: 'Fixed', why: 'phys_map[2]' });
    expect(r.targets).toEqual([{ vcpu: 2, accepted: true, detail: 'Fixed vector 48 edge: accepted' }]);
    expect(r.label).toBe('wrmsr 0x830 (APIC_ICR) on vCPU 0');
  });

  it('follows a logical x2APIC IPI through the physical table', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x300000830' }]))!;
    expect(r).toMatchObject({ logical: true, slots: [0, 1], destId: 3 });
    expect(r.targets.map((t) => t.vcpu)).toEqual([0, 1]);
  });

  it('reports the slow path for a shorthand', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x80030' }]))!;
    expect(r).toMatchObject({ path: 'slow', slots: [], examined: 4 });
    expect(r.targets.map((t) => t.vcpu)).toEqual([0, 1, 2, 3]);
  });

  it('has a device as the source of an MSI, and shows a dropped interrupt', () => {
    const r = route(lab({ vcpus: 4 }, [{ op: 'msi', addressLo: '0xfee01000', data: '0x31' }]))!;
    expect(r).toMatchObject({ source: null, slots: [1], destId: 1, path: 'fast' });
    expect(r.targets).toEqual([{ vcpu: 1, accepted: false, detail: 'Fixed vector 49 edge: dropped: APIC software-disabled' }]);
    expect(r.label).toContain('KVM_SIGNAL_MSI');
  });

  it('goes through the xAPIC flat table for a logical xAPIC IPI', () => {
    const steps = [0, 1].flatMap((v) => [
      swEnableX(v),
      { op: 'mmio_write', vcpu: v, offset: '0xe0', value: '0xffffffff' },
      { op: 'mmio_write', vcpu: v, offset: '0xd0', value: v === 0 ? '0x1000000' : '0x2000000' },
    ]);
    const r = route(lab({ vcpus: 2 }, [...steps, { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x3000000' }, { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x830' }]))!;
    expect(r).toMatchObject({ path: 'fast', logical: true, logicalCells: { table: 'flat', cluster: 0, bits: [0, 1] }, slots: [0, 1] });
    expect(r.label).toBe('mmio_write APIC_ICR on vCPU 0');
  });

  it('names the absent map as the reason for the slow path', () => {
    const s = lab({ vcpus: [0, 1, 256] }, [
      ...[0, 1, 256].map((v) => ({ op: 'set_lapic', vcpu: v, merge: true, regs: {} })),
      { op: 'msi', addressLo: '0xfee00000', data: '0x4400' },
    ]);
    const r = route(s)!;
    expect(r.path).toBe('slow');
    expect(r.why).toContain('no optimized map');
    expect(r.targets.map((t) => t.vcpu)).toEqual([0, 256]);
    expect(r.examined).toBe(3);
  });
});

describe('listWords', () => {
  it('joins and caps', () => {
    expect(listWords([1])).toBe('1');
    expect(listWords([1, 2, 3])).toBe('1, 2 and 3');
    expect(listWords([1, 2, 3, 4], 2)).toBe('1, 2 and 2 more');
  });
});
