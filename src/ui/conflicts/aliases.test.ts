import { describe, expect, it } from 'vitest';
import { decisionVcpus } from '../../core/decisions';
import { explain } from '../../explain/explain';
import { aliasVerdict, routeWords } from '../../explain/panels';
import { findConflicts } from './aliases';
import { aliasDoc, replay, SW_ON } from './testScenarios';

const doc = (vcpus: unknown, steps: unknown[], vm: Record<string, unknown> = {}) => ({ format: 'apic-scenario/1', vm: { vcpus, ...vm }, steps });
const lapic = (vcpu: number, regs: Record<string, string>) => ({ op: 'set_lapic', vcpu, merge: true, regs: { ...SW_ON, ...regs } });
const mmio = (vcpu: number, offset: string, value: string) => ({ op: 'mmio_write', vcpu, offset, value });
const FLAT = '0xffffffff';
const CLUSTER = '0x0fffffff';
const codes = (ds: { code: string }[]) => ds.map((d) => d.code);

/** Load a document and find its conflicts, with the routes KVM would take on the same VM. */
function conflicts(d: Parameters<typeof replay>[0]) {
  const { s, preview } = replay(d);
  return { s, r: findConflicts(s, preview), now: { x2apicFormat: s.caps.x2apicFormat } };
}

describe('physical aliases', () => {
  it('without 32-bit IDs: no map, so the slow path reaches every vCPU sharing the ID', () => {
    const { s, r } = conflicts(aliasDoc(false));
    expect(r.physical).toHaveLength(1);
    const c = r.physical[0];
    expect(c.apicId).toBe(0);
    expect(c.members).toEqual([{ vcpu: 0, mode: 'xapic' }, { vcpu: 256, mode: 'xapic' }]);
    expect(c.route).toMatchObject({ kind: 'route', path: 'slow', code: 'NO_MAP', destId: 0, logical: false });
    expect(c.reached).toEqual([0, 256]);
    expect(aliasVerdict([0, 256], c.reached)).toBe('both receive');
    expect(c.why).toMatchObject([{ code: 'PHYS_ID_ALIASED', vcpus: [0, 256], physId: 0 }]);
    expect(s.inhibits).toEqual(['PHYSICAL_ID_ALIASED']);
    expect(r.byVcpu.get(256)?.physical).toEqual([0]);
    expect(r.byVcpu.has(1)).toBe(false);
  });

  it('with 32-bit IDs: the hotplug hack keeps the first vCPU in the slot (fast path), as the map says', () => {
    const { r, now } = conflicts(aliasDoc(true));
    const c = r.physical[0];
    expect(c.route).toMatchObject({ path: 'fast', code: 'PHYS_SLOT', vcpus: [0] });
    expect(c.reached).toEqual([0]);
    expect(aliasVerdict([0, 256], c.reached)).toBe('only vCPU 0');
    expect(codes(c.why)).toEqual(['HOTPLUG_FIRST_WINS']);
    expect(explain(c.why[0], 'short', now)).toContain('first vCPU wins');
    expect(r.reachedBy32BitId?.vcpus).toEqual([256]);
  });

  it('right after KVM_CREATE_VCPU the map predates the new vCPU: only the vCPU in the slot receives', () => {
    const { s, r } = conflicts(doc([0, 1, 256], []));
    const c = r.physical[0];
    expect(s.map.present).toBe(true);
    expect(c.route).toMatchObject({ path: 'fast', vcpus: [0] });
    expect(c.reached).toEqual([0]);
    expect(c.why).toMatchObject([{ code: 'VCPU_NOT_ONLINE', vcpus: [256] }]);
  });

  it('with 32-bit IDs an x2APIC-mode vCPU takes the slot of an xAPIC vCPU with the same 8-bit ID', () => {
    // vCPU 0 sets its xAPIC ID to 5; vCPU 5 enters x2APIC mode.
    const { r } = conflicts(doc(6, [
      { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 },
      { op: 'wrmsr', vcpu: 5, msr: '0x1b', value: '0xfee00c00' },
      lapic(0, { '0x020': '0x05000000' }),
    ]));
    const c = r.physical.find((x) => x.apicId === 5)!;
    expect(c.members).toEqual([{ vcpu: 0, mode: 'xapic' }, { vcpu: 5, mode: 'x2apic' }]);
    expect(c.reached).toEqual([5]);
    expect(c.route?.path).toBe('fast');
  });

  it('a duplicate xAPIC ID written by the guest aliases the same way; disabled APICs do not count', () => {
    const { r } = conflicts(doc(4, [lapic(2, { '0x020': '0x01000000' }), { op: 'wrmsr', vcpu: 3, msr: '0x1b', value: '0x0' }, lapic(0, {})]));
    expect(r.physical.map((c) => [c.apicId, c.members.map((m) => m.vcpu)])).toEqual([[1, [1, 2]]]);
  });
});

describe('the issue\'s cases', () => {
  it('(a) vCPU 2 takes xAPIC ID 1 while vCPU 0 has a multi-bit LDR: vCPUs 1 and 2 and ID 1 are to blame, never vCPU 0', () => {
    const { s, r, now } = conflicts(doc(4, [mmio(0, '0xf0', '0x1ff'), mmio(0, '0xd0', '0x03000000'), mmio(2, '0x20', '0x01000000')]));
    expect(s.map.present).toBe(false);
    expect(r.physical).toHaveLength(1);
    const c = r.physical[0];
    expect(c.apicId).toBe(1);
    expect(c.members.map((m) => m.vcpu)).toEqual([1, 2]);
    expect(c.reached).toEqual([1, 2]);
    // The rebuild's findings about this ID's vCPUs: the alias, and vCPU 2's changed xAPIC ID (APIC_ID_MODIFIED).
    expect(c.why).toMatchObject([{ code: 'PHYS_ID_ALIASED', vcpus: [1, 2], physId: 1 }, { code: 'XAPIC_ID_MISMATCH', vcpus: [2], xapicId: 1 }]);
    expect(c.routeWhy).toEqual([]);
    // Nothing the panel says names vCPU 0 or a logical ID.
    expect(r.logical).toEqual([]);
    expect(r.logicalNotes).toEqual([]);
    for (const d of [c.route!, ...c.why]) expect(decisionVcpus(d)).not.toContain(0);
    const words = [routeWords(c.route!, 'long'), ...c.why.map((d) => explain(d, 'long', now))].join(' ');
    expect(words).toContain('vCPUs 1 and 2 share physical APIC ID 1');
    expect(words).not.toMatch(/vCPU 0\b|logical ID/);
  });

  it('(b) 32-bit IDs enabled after the rebuild that removed the map: the map stays absent, and the words say they were off then', () => {
    const { s, r, now } = conflicts(doc([0, 256], [mmio(0, '0xf0', '0x1ff'), { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }]));
    expect(s.caps.x2apicFormat).toBe(true);
    expect(s.map.present).toBe(false);
    const c = r.physical[0];
    expect(c.route).toMatchObject({ path: 'slow', code: 'NO_MAP' });
    expect(c.reached).toEqual([0, 256]);
    expect(c.why).toMatchObject([{ code: 'PHYS_ID_ALIASED', vcpus: [0, 256], x2apicFormat: false }]);
    const words = [routeWords(c.route!, 'long'), ...c.why.map((d) => explain(d, 'long', now))].join(' ');
    expect(words).toContain('32-bit IDs were off at that rebuild');
    expect(words).not.toContain('are off');
  });
});

describe('logical aliases', () => {
  it('flat: the same LDR bit disables the logical map, and the slow path reaches both', () => {
    const { s, r } = conflicts(doc(3, [
      lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      lapic(1, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      lapic(2, { '0x0e0': FLAT, '0x0d0': '0x02000000' }),
    ]));
    expect(s.map.logicalMode).toBe('MAP_DISABLED');
    expect(r.logical).toHaveLength(1);
    const c = r.logical[0];
    expect(c).toMatchObject({ mode: 'XAPIC_FLAT', cluster: null, bit: 0, logicalId: 1, vcpus: [0, 1], reached: [0, 1] });
    expect(c.route).toMatchObject({ path: 'slow', code: 'MAP_DISABLED', logical: true, destId: 1 });
    expect(c.why).toMatchObject([{ code: 'LOGICAL_ID_ALIASED', vcpus: [0, 1] }]);
    expect(r.logicalNotes).toEqual([]);
  });

  it('cluster: same cluster and bit collide, other clusters do not', () => {
    const { r } = conflicts(doc(4, [
      lapic(0, { '0x0e0': CLUSTER, '0x0d0': '0x11000000' }),
      lapic(1, { '0x0e0': CLUSTER, '0x0d0': '0x21000000' }),
      lapic(2, { '0x0e0': CLUSTER, '0x0d0': '0x11000000' }),
      lapic(3, { '0x0e0': CLUSTER, '0x0d0': '0x12000000' }),
    ]));
    expect(r.logical.map((c) => [c.mode, c.cluster, c.bit, c.logicalId, c.vcpus])).toEqual([['XAPIC_CLUSTER', 1, 0, 0x11, [0, 2]]]);
    expect(r.logical[0].reached).toEqual([0, 2]);
  });

  it('software-disabled APICs and a zero LDR do not count', () => {
    const { s, r } = conflicts(doc(3, [
      lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      { op: 'set_lapic', vcpu: 1, merge: true, regs: { '0x0f0': '0xff', '0x0d0': '0x01000000' } },
      lapic(2, { '0x0d0': '0x0' }),
    ]));
    expect(r.logical).toEqual([]);
    expect(s.map.logicalMode).toBe('XAPIC_FLAT');
  });

  it('a multi-bit LDR is what the rebuild found: the shared bit goes the slow path, to both, because of it', () => {
    const { r } = conflicts(doc(2, [lapic(0, { '0x0e0': FLAT, '0x0d0': '0x03000000' }), lapic(1, { '0x0e0': FLAT, '0x0d0': '0x02000000' })]));
    expect(r.logical.map((c) => [c.bit, c.vcpus, c.reached])).toEqual([[1, [0, 1], [0, 1]]]);
    expect(r.logical[0].why).toEqual([]);
    expect(r.logical[0].routeWhy).toMatchObject([{ code: 'LOGICAL_ID_MULTI_BIT', vcpus: [0], logicalId: 3 }]);
    expect(r.logicalNotes).toEqual([]);
  });

  it('a multi-bit LDR that shares no bit is a note', () => {
    const { r } = conflicts(doc(2, [lapic(0, { '0x0e0': FLAT, '0x0d0': '0x03000000' })]));
    expect(r.logical).toEqual([]);
    expect(r.logicalNotes).toMatchObject([{ code: 'LOGICAL_ID_MULTI_BIT', vcpus: [0] }]);
  });

  it('mixed flat / cluster / x2APIC modes disable the logical map', () => {
    const { s, r } = conflicts(doc(3, [
      lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      lapic(1, { '0x0e0': CLUSTER, '0x0d0': '0x11000000' }),
      { op: 'wrmsr', vcpu: 2, msr: '0x1b', value: '0xfee00c00' },
      { op: 'wrmsr', vcpu: 2, msr: '0x80f', value: '0x1ff' },
    ]));
    expect(s.map.logicalMode).toBe('MAP_DISABLED');
    expect(codes(r.logicalNotes)).toEqual(['LOGICAL_MODES_MIXED']);
    expect(r.logical).toEqual([]);
  });
});

describe('truncated xAPIC IDs', () => {
  it('lists xAPIC-mode vCPUs above 255 whose xAPIC ID is vcpu_id & 0xff', () => {
    const { r } = conflicts(doc([0, 300, 511], [{ op: 'wrmsr', vcpu: 511, msr: '0x1b', value: '0xfee00c00' }]));
    expect(r.truncated).toEqual([{ vcpu: 300, xapicId: 44 }]);
    expect(r.physical).toEqual([]);
  });

  it('scales: 300 vCPUs give 44 aliases, each routed slow for the one alias the rebuild found', () => {
    const { r } = conflicts(doc(300, []));
    expect(r.physical).toHaveLength(44);
    expect(r.truncated).toHaveLength(44);
    expect(r.physical[43].members.map((m) => m.vcpu)).toEqual([43, 299]);
    expect(r.physical.every((c) => c.route?.code === 'NO_MAP' && c.reached.length === 2)).toBe(true);
    expect(r.physical[0].why).toMatchObject([{ code: 'PHYS_ID_ALIASED', physId: 0 }]);
    expect(r.physical[0].routeWhy).toEqual([]);
    // ID 43's own vCPUs found nothing: the rebuild stopped at ID 0, whose alias sends this route slow.
    expect(r.physical[43].why).toEqual([]);
    expect(r.physical[43].routeWhy).toMatchObject([{ code: 'PHYS_ID_ALIASED', physId: 0 }]);
  });
});

describe('before 6.3 (pre-v6.3 map rebuild)', () => {
  it('aliases never remove the map: the first vCPU wins without 32-bit IDs', () => {
    const { s, r } = conflicts(aliasDoc(false, { kvm: '6.2' }));
    expect(s.map.present).toBe(true);
    const c = r.physical[0];
    expect(c.route).toMatchObject({ path: 'fast', vcpus: [0] });
    expect(c.why).toMatchObject([{ code: 'HOTPLUG_FIRST_WINS', legacy: true }]);
  });

  it('later vCPUs overwrite a shared logical slot: the last vCPU wins', () => {
    const { s, r } = conflicts(doc(2, [lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }), lapic(1, { '0x0e0': FLAT, '0x0d0': '0x01000000' })], { kvm: '6.2' }));
    const c = r.logical[0];
    expect(s.map.logicalMode).toBe('XAPIC_FLAT');
    expect(c.route).toMatchObject({ path: 'fast', code: 'LOGICAL_MASK' });
    expect(c.reached).toEqual([1]);
    expect(c.why).toMatchObject([{ code: 'LOGICAL_SLOT_OVERWRITTEN', vcpus: [0, 1] }]);
  });
});
