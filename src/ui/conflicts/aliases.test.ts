import { describe, expect, it } from 'vitest';
import { findConflicts } from './aliases';
import { aliasDoc, load, SW_ON } from './testScenarios';

const doc = (vcpus: unknown, steps: unknown[], vm: Record<string, unknown> = {}) => ({ format: 'apic-scenario/1', vm: { vcpus, ...vm }, steps });
const lapic = (vcpu: number, regs: Record<string, string>) => ({ op: 'set_lapic', vcpu, merge: true, regs: { ...SW_ON, ...regs } });
const FLAT = '0xffffffff';
const CLUSTER = '0x0fffffff';

describe('physical aliases', () => {
  it('without 32-bit IDs: no map, slow path, every matching vCPU receives', () => {
    const { s } = load(aliasDoc(false));
    const r = findConflicts(s);
    expect(r.physical).toHaveLength(1);
    const c = r.physical[0];
    expect(c.apicId).toBe(0);
    expect(c.members).toEqual([{ vcpu: 0, mode: 'xapic' }, { vcpu: 256, mode: 'xapic' }]);
    expect(c.kvm.path).toBe('slow');
    expect(c.kvm.receivers).toEqual([0, 256]);
    expect(c.kvm.verdict).toBe('both receive');
    expect(c.kvm.fn).toBe('kvm_apic_match_physical_addr');
    expect(c.hardware).toContain('vCPUs 0 and 256');
    expect(r.physicalPolicy).toContain('PHYSICAL_ID_ALIASED');
    expect(r.byVcpu.get(256)?.physical).toEqual([0]);
    expect(r.byVcpu.has(1)).toBe(false);
  });

  it('with 32-bit IDs: the hotplug hack keeps the first vCPU in the slot (fast path)', () => {
    const { s } = load(aliasDoc(true));
    const c = findConflicts(s).physical[0];
    expect(c.apicId).toBe(0);
    expect(c.kvm.path).toBe('fast');
    expect(c.kvm.receivers).toEqual([0]);
    expect(c.kvm.verdict).toBe('only vCPU 0 (first vCPU wins)');
    expect(c.kvm.why).toContain('KVM_X2APIC_API_USE_32BIT_IDS');
  });

  it('right after KVM_CREATE_VCPU the map is stale: only the vCPU in the slot receives', () => {
    const { s } = load(doc([0, 1, 256], []));
    const c = findConflicts(s).physical[0];
    expect(s.map.present).toBe(true);
    expect(c.kvm).toMatchObject({ path: 'fast', receivers: [0] });
    expect(c.kvm.verdict).toContain('stale map');
  });

  it('with 32-bit IDs an x2APIC-mode vCPU wins over an xAPIC vCPU with the same 8-bit ID', () => {
    // vCPU 0 sets its xAPIC ID to 5; vCPU 5 enters x2APIC mode.
    const { s } = load(doc(6, [
      { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 },
      { op: 'wrmsr', vcpu: 5, msr: '0x1b', value: '0xfee00c00' },
      lapic(0, { '0x020': '0x05000000' }),
    ]));
    const c = findConflicts(s).physical.find((x) => x.apicId === 5)!;
    expect(c.members).toEqual([{ vcpu: 0, mode: 'xapic' }, { vcpu: 5, mode: 'x2apic' }]);
    expect(c.kvm.receivers).toEqual([5]);
    expect(c.kvm.verdict).toContain('x2APIC wins');
  });

  it('a duplicate xAPIC ID written by the guest aliases the same way; disabled APICs do not count', () => {
    const { s } = load(doc(4, [
      lapic(2, { '0x020': '0x01000000' }),
      { op: 'wrmsr', vcpu: 3, msr: '0x1b', value: '0x0' },
      lapic(0, {}),
    ]));
    const r = findConflicts(s);
    expect(r.physical.map((c) => [c.apicId, c.members.map((m) => m.vcpu)])).toEqual([[1, [1, 2]]]);
  });
});

describe('logical aliases', () => {
  it('flat: the same LDR bit disables the logical map', () => {
    const { s } = load(doc(3, [
      lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      lapic(1, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      lapic(2, { '0x0e0': FLAT, '0x0d0': '0x02000000' }),
    ]));
    const r = findConflicts(s);
    expect(s.map.logicalMode).toBe('MAP_DISABLED');
    expect(r.logical).toHaveLength(1);
    expect(r.logical[0]).toMatchObject({ mode: 'XAPIC_FLAT', cluster: null, bit: 0, logicalId: 1, vcpus: [0, 1] });
    expect(r.logical[0].kvm).toMatchObject({ path: 'slow', receivers: [0, 1] });
    expect(r.logicalPolicy).toContain('MAP_DISABLED');
    expect(r.mixed).toBeNull();
  });

  it('cluster: same cluster and bit collide, other clusters do not', () => {
    const { s } = load(doc(4, [
      lapic(0, { '0x0e0': CLUSTER, '0x0d0': '0x11000000' }),
      lapic(1, { '0x0e0': CLUSTER, '0x0d0': '0x21000000' }),
      lapic(2, { '0x0e0': CLUSTER, '0x0d0': '0x11000000' }),
      lapic(3, { '0x0e0': CLUSTER, '0x0d0': '0x12000000' }),
    ]));
    const r = findConflicts(s);
    expect(r.logical.map((c) => [c.mode, c.cluster, c.bit, c.logicalId, c.vcpus])).toEqual([['XAPIC_CLUSTER', 1, 0, 0x11, [0, 2]]]);
    expect(r.logical[0].hardware).toContain('cluster 1');
  });

  it('software-disabled APICs and a zero LDR do not count', () => {
    const { s } = load(doc(3, [
      lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      { op: 'set_lapic', vcpu: 1, merge: true, regs: { '0x0f0': '0xff', '0x0d0': '0x01000000' } },
      lapic(2, { '0x0d0': '0x0' }),
    ]));
    expect(findConflicts(s).logical).toEqual([]);
    expect(s.map.logicalMode).toBe('XAPIC_FLAT');
  });

  it('multi-bit LDRs are listed and overlap single-bit ones', () => {
    const { s } = load(doc(2, [
      lapic(0, { '0x0e0': FLAT, '0x0d0': '0x03000000' }),
      lapic(1, { '0x0e0': FLAT, '0x0d0': '0x02000000' }),
    ]));
    const r = findConflicts(s);
    expect(r.multiBit).toEqual([{ vcpu: 0, mode: 'XAPIC_FLAT', logicalId: 3 }]);
    expect(r.logical.map((c) => [c.bit, c.vcpus])).toEqual([[1, [0, 1]]]);
  });

  it('mixed flat / cluster / x2APIC modes disable the logical map', () => {
    const { s } = load(doc(3, [
      lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }),
      lapic(1, { '0x0e0': CLUSTER, '0x0d0': '0x11000000' }),
      { op: 'wrmsr', vcpu: 2, msr: '0x1b', value: '0xfee00c00' },
      { op: 'wrmsr', vcpu: 2, msr: '0x80f', value: '0x1ff' },
    ]));
    const r = findConflicts(s);
    expect(s.map.logicalMode).toBe('MAP_DISABLED');
    expect(r.mixed?.modes).toEqual([
      { mode: 'XAPIC_FLAT', vcpus: [0] },
      { mode: 'XAPIC_CLUSTER', vcpus: [1] },
      { mode: 'X2APIC', vcpus: [2] },
    ]);
    expect(r.logical).toEqual([]);
    expect(r.logicalPolicy).toContain('mixed logical modes');
  });
});

describe('truncated xAPIC IDs', () => {
  it('lists xAPIC-mode vCPUs above 255 whose xAPIC ID is vcpu_id & 0xff', () => {
    const { s } = load(doc([0, 300, 511], [{ op: 'wrmsr', vcpu: 511, msr: '0x1b', value: '0xfee00c00' }]));
    const r = findConflicts(s);
    expect(r.truncated).toEqual([{ vcpu: 300, xapicId: 44 }]);
    expect(r.physical).toEqual([]);
  });

  it('scales: 300 vCPUs give 44 aliases and 44 truncations', () => {
    const { s } = load(doc(300, []));
    const r = findConflicts(s);
    expect(r.physical).toHaveLength(44);
    expect(r.truncated).toHaveLength(44);
    expect(r.physical[43].members.map((m) => m.vcpu)).toEqual([43, 299]);
  });
});

describe('before 6.3 (pre-v6.3 map rebuild)', () => {
  it('aliases never remove the map: the first vCPU wins without 32-bit IDs, no inhibit', () => {
    const { s } = load(aliasDoc(false, { kvm: '6.2' }));
    expect(s.map.present).toBe(true);
    // No aliasing inhibit; 6.2 compares xAPIC IDs untruncated, so vCPU 256 sets APIC_ID_MODIFIED.
    expect(s.inhibits).toEqual(['APIC_ID_MODIFIED']);
    const r = findConflicts(s, { release: '6.2' });
    expect(r.modern).toBe(false);
    expect(r.physical[0].kvm).toMatchObject({ path: 'fast', receivers: [0], verdict: 'only vCPU 0 (first vCPU wins)' });
    expect(r.physical[0].kvm.why).toContain('Before 6.3');
    expect(r.physicalPolicy).toContain('before 6.3');
  });

  it('later vCPUs overwrite a shared logical slot: the last vCPU wins', () => {
    const { s } = load(doc(2, [lapic(0, { '0x0e0': FLAT, '0x0d0': '0x01000000' }), lapic(1, { '0x0e0': FLAT, '0x0d0': '0x01000000' })], { kvm: '6.2' }));
    const c = findConflicts(s, { release: '6.2' }).logical[0];
    expect(s.map.logicalMode).toBe('XAPIC_FLAT');
    expect(c.kvm).toMatchObject({ path: 'fast', receivers: [1], verdict: 'only vCPU 1 (last vCPU wins)' });
  });
});
