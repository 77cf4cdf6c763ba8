import { describe, expect, it } from 'vitest';
import { createLabStore } from '../../store/labStore';
import type { VmInput } from '../../scenario/schema';
import { explain } from '../../explain/explain';
import { buildSlots, changedSlotIds, describeSlot, listWords, logicalView, rebuildFindings, routeOf, SLOT_STATES } from './mapView';

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
    // The reason is the rebuild's decision, not words the view makes up.
    expect(m.notInMap).toEqual([
      {
        vcpu: 3,
        why: 'vCPU 3 is missing from the optimized map until the next rebuild',
        decision: { kind: 'map', code: 'VCPU_NOT_ONLINE', kvm: 'kvm_vcpu_reset', vcpus: [3] },
      },
    ]);
    expect(describeSlot(m, 3)).toBe('APIC ID 3: vCPU 3 answers to APIC ID 3 but is not in phys_map: vCPU 3 is missing from the optimized map until the next rebuild');
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
    const findings = rebuildFindings(map);
    expect(findings).toEqual([expect.objectContaining({ kind: 'map', code: 'PHYS_ID_ALIASED', kvm: 'kvm_recalculate_phys_map', vcpus: [0, 256], physId: 0 })]);
    expect(explain(findings[0], 'short', { x2apicFormat: false })).toBe('vCPUs 0 and 256 share physical APIC ID 0 and 32-bit IDs are off: no optimized map');
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
    expect(m.byId.get(256)!.note).toBe('APIC ID 256: vCPU 256 in xAPIC mode is also reachable by its 32-bit ID (the hotplug hack)');
    expect(m.byId.get(0)!.note).toBe('xAPIC ID 0 of vCPU 0; vCPUs 0 and 256 answer to xAPIC ID 0; phys_map[0] keeps vCPU 0 (first vCPU wins)');
    expect(m.size).toBe(257);
  });

  it('says why an aliased vCPU lost its slot, from the rebuild decision', () => {
    // 32-bit IDs: vCPU 1 writes xAPIC ID 2, then vCPU 2 enters x2APIC mode: its x2APIC ID 2 takes the slot.
    const s = lab({ vcpus: 3 }, [
      { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 },
      { op: 'mmio_write', vcpu: 1, offset: '0x20', value: '0x2000000' },
      enterX2(2),
      swEnableX(0),
    ]);
    const m = model(s);
    expect(m.byId.get(2)).toMatchObject({ vcpu: 2, state: 'alias', claims: [1, 2] });
    expect(m.byId.get(2)!.note).toBe('x2APIC ID 2 of vCPU 2; phys_map[2] goes to vCPU 2 (x2APIC ID 2) over vCPU 1 (xAPIC ID 2)');
    expect(m.notInMap).toEqual([
      { vcpu: 1, why: 'phys_map[2] goes to vCPU 2 (x2APIC ID 2) over vCPU 1 (xAPIC ID 2)', decision: expect.objectContaining({ code: 'HOTPLUG_X2APIC_WINS', vcpus: [2, 1], physId: 2 }) },
    ]);
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
    expect(r).toMatchObject({ source: 0, path: 'fast', slots: [2], logicalCells: null });
    expect(r.decision).toMatchObject({ code: 'PHYS_SLOT', kvm: 'kvm_apic_map_get_dest_lapic', destId: 2, logical: false, vector: 0x30, mode: 'Fixed', vcpus: [2] });
    expect(r.targets).toEqual([{ vcpu: 2, accepted: true, drop: null }]);
    expect(r.label).toBe('wrmsr 0x830 (APIC_ICR) on vCPU 0');
    expect(explain(r.decision, 'long')).toBe('Fixed vector 48 to physical destination 0x2 from vCPU 0: fast path: phys_map[2] holds vCPU 2.');
  });

  it('follows a logical x2APIC IPI through the physical table', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x300000830' }]))!;
    expect(r).toMatchObject({ slots: [0, 1], logicalCells: null });
    expect(r.decision).toMatchObject({ code: 'LOGICAL_MASK', logical: true, destId: 3, logicalMode: 'X2APIC', cluster: 0, mask: 3 });
    expect(r.targets.map((t) => [t.vcpu, t.accepted])).toEqual([[0, true], [1, true]]);
  });

  it('draws no slot for a physical ID above max_apic_id', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x100000000030' }]))!;
    expect(r).toMatchObject({ path: 'fast', slots: [], targets: [] });
    expect(r.decision).toMatchObject({ code: 'PHYS_ABOVE_MAX', destId: 0x1000, maxApicId: 255 });
  });

  it('draws the empty slot a physical IPI found', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x900000030' }]))!;
    expect(r).toMatchObject({ path: 'fast', slots: [9], targets: [] });
    expect(r.decision).toMatchObject({ code: 'PHYS_SLOT', physSlots: [9], emptySlots: [9] });
  });

  it('reports the slow path for a shorthand', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x80030' }]))!;
    expect(r).toMatchObject({ path: 'slow', slots: [] });
    expect(r.decision).toMatchObject({ code: 'SHORTHAND_ALL', kvm: 'kvm_irq_delivery_to_apic', shorthand: 'all incl. self', examined: 4 });
    expect(r.targets.map((t) => t.vcpu)).toEqual([0, 1, 2, 3]);
  });

  it('has a device as the source of an MSI, and shows a dropped interrupt with its accept decision', () => {
    const r = route(lab({ vcpus: 4 }, [{ op: 'msi', addressLo: '0xfee01000', data: '0x31' }]))!;
    expect(r).toMatchObject({ source: null, slots: [1], path: 'fast' });
    expect(r.decision).toMatchObject({ code: 'PHYS_SLOT', destId: 1, source: null });
    const drop = { kind: 'accept', code: 'APIC_DISABLED', kvm: '__apic_accept_irq', vcpus: [1], accepted: false, mode: 'Fixed', vector: 49, trigLevel: false, hwEnabled: true, swEnabled: false };
    expect(r.targets).toEqual([{ vcpu: 1, accepted: false, drop }]);
    expect(explain(r.targets[0].drop!)).toBe('vCPU 1: Fixed vector 49 dropped: the APIC is disabled (software-disabled: SPIV bit 8 is clear)');
    expect(r.label).toContain('KVM_SIGNAL_MSI');
  });

  it('goes through the xAPIC flat table for a logical xAPIC IPI', () => {
    const steps = [0, 1].flatMap((v) => [
      swEnableX(v),
      { op: 'mmio_write', vcpu: v, offset: '0xe0', value: '0xffffffff' },
      { op: 'mmio_write', vcpu: v, offset: '0xd0', value: v === 0 ? '0x1000000' : '0x2000000' },
    ]);
    const r = route(lab({ vcpus: 2 }, [...steps, { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x3000000' }, { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x830' }]))!;
    expect(r).toMatchObject({ path: 'fast', logicalCells: { table: 'flat', cluster: 0, bits: [0, 1] }, slots: [0, 1] });
    expect(r.decision).toMatchObject({ logical: true, logicalMode: 'XAPIC_FLAT', mask: 3 });
    expect(r.label).toBe('mmio_write APIC_ICR on vCPU 0');
  });

  it('goes through an xAPIC cluster', () => {
    const steps = [0, 1].flatMap((v) => [
      swEnableX(v),
      { op: 'mmio_write', vcpu: v, offset: '0xe0', value: '0xfffffff' },
      { op: 'mmio_write', vcpu: v, offset: '0xd0', value: v === 0 ? '0x11000000' : '0x12000000' },
    ]);
    const r = route(lab({ vcpus: 2 }, [...steps, { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x13000000' }, { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x830' }]))!;
    expect(r).toMatchObject({ path: 'fast', logicalCells: { table: 'cluster', cluster: 1, bits: [0, 1] }, slots: [0, 1] });
    expect(r.targets.map((t) => [t.vcpu, t.accepted])).toEqual([[0, true], [1, true]]);
  });

  it('marks the sender itself for a self IPI', () => {
    const r = route(lab({ vcpus: 4 }, [...x2vm, { op: 'wrmsr', vcpu: 2, msr: '0x83f', value: '0x30' }]))!;
    expect(r).toMatchObject({ source: 2, path: 'fast', slots: [2] });
    expect(r.decision.code).toBe('SELF');
  });

  it('names the absent map as the reason for the slow path', () => {
    const s = lab({ vcpus: [0, 1, 256] }, [
      ...[0, 1, 256].map((v) => ({ op: 'set_lapic', vcpu: v, merge: true, regs: {} })),
      { op: 'msi', addressLo: '0xfee00000', data: '0x4400' },
    ]);
    const r = route(s)!;
    expect(r.path).toBe('slow');
    expect(r.decision).toMatchObject({ code: 'NO_MAP', examined: 3, mapWhy: [expect.objectContaining({ code: 'PHYS_ID_ALIASED' })] });
    expect(explain(r.decision, 'long')).toContain('there is no optimized map (vCPUs 0 and 256 share physical APIC ID 0');
    expect(r.targets.map((t) => t.vcpu)).toEqual([0, 256]);
  });
});

describe('listWords', () => {
  it('joins and caps', () => {
    expect(listWords([1])).toBe('1');
    expect(listWords([1, 2, 3])).toBe('1, 2 and 3');
    expect(listWords([1, 2, 3, 4], 2)).toBe('1, 2 and 2 more');
  });
});
