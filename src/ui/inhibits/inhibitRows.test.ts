import { describe, expect, it } from 'vitest';
import { INHIBIT_REASONS } from '../../core/inhibits';
import { accessPageDeleter, inhibitView } from './inhibitRows';
import { aliasDoc, replay } from '../conflicts/testScenarios';

describe('inhibitView', () => {
  it('Intel lists the 7 VMX reasons, all clear on a fresh VM; the rest are not used', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 2 }, steps: [] });
    const v = inhibitView(s, 'intel');
    expect(v.engine).toBe('APICv');
    expect(v.active).toBe(true);
    expect(v.rows.map((r) => r.reason)).toEqual(['DISABLED', 'HYPERV', 'ABSENT', 'BLOCKIRQ', 'PHYSICAL_ID_ALIASED', 'APIC_ID_MODIFIED', 'APIC_BASE_MODIFIED']);
    expect(v.rows.every((r) => !r.set && r.cause === null && r.causeText === null && r.meaning.length > 0)).toBe(true);
    expect(v.unused).toEqual(['NESTED', 'IRQWIN', 'PIT_REINJ', 'SEV', 'LOGICAL_ID_ALIASED', 'PHYSICAL_ID_TOO_BIG']);
    expect(v.rows.find((r) => r.reason === 'APIC_BASE_MODIFIED')?.sticky).toBe(true);
    expect(v.rows.find((r) => r.reason === 'PHYSICAL_ID_ALIASED')?.sticky).toBe(false);
    expect(v.accessPage.state).toBe('mapped');
  });

  it('AMD honours all 13 reasons', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd' }, steps: [] });
    const v = inhibitView(s, 'amd');
    expect(v.engine).toBe('AVIC');
    expect(v.rows).toHaveLength(INHIBIT_REASONS.length);
    expect(v.unused).toEqual([]);
  });

  it('set reasons come first, with their cause; APICv is inhibited', () => {
    const { s } = replay(aliasDoc(false));
    const v = inhibitView(s, 'intel');
    expect(v.active).toBe(false);
    expect(v.rows[0]).toMatchObject({ reason: 'PHYSICAL_ID_ALIASED', bit: 4, set: true, sticky: false, kvm: 'kvm_recalculate_apic_map' });
    expect(v.rows[0].cause).toMatchObject({ kind: 'map', code: 'PHYS_ID_ALIASED', kvm: 'kvm_recalculate_phys_map', vcpus: [0, 256] });
    expect(v.rows[0].causeText).toContain('vCPUs 0 and 256 share physical APIC ID 0 and 32-bit IDs are off');
    expect(v.rows.slice(1).every((r) => !r.set)).toBe(true);
  });

  it('on AMD the same aliasing also sets LOGICAL_ID_ALIASED', () => {
    const { s } = replay(aliasDoc(false, { vendor: 'amd' }));
    const set = inhibitView(s, 'amd').rows.filter((r) => r.set).map((r) => r.reason);
    expect(set).toEqual(['PHYSICAL_ID_ALIASED', 'LOGICAL_ID_ALIASED']);
  });

  it('with 32-bit IDs nothing is set', () => {
    const { s } = replay(aliasDoc(true));
    expect(inhibitView(s, 'intel').rows.some((r) => r.set)).toBe(false);
  });

  it('apicv off: DISABLED is set (sticky) and there is no APIC-access page', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 1, apicv: false }, steps: [] });
    const v = inhibitView(s, 'intel');
    expect(v.rows[0]).toMatchObject({ reason: 'DISABLED', set: true, sticky: true });
    expect(v.rows[0].cause).toMatchObject({ kind: 'inhibit', code: 'MODULE_PARAM_OFF' });
    expect(v.rows[0].causeText).toContain('enable_apicv');
    expect(v.accessPage.state).toBe('none');
  });

  it('AVIC without x2AVIC: a vCPU in x2APIC mode deletes the APIC-access page for good', () => {
    const store = replay({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd', x2avic: false }, steps: [{ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' }] });
    const deletedBy = accessPageDeleter([store.last!]);
    expect(deletedBy).toEqual({ kvm: 'kvm_inhibit_apic_access_page', vcpu: 1 });
    const v = inhibitView(store.s, 'amd', { deletedBy });
    expect(v.accessPage).toMatchObject({ state: 'deleted', kvm: 'kvm_inhibit_apic_access_page' });
    expect(v.accessPage.why).toContain('vCPU 1');
    expect(v.accessPage.why).toContain('x2AVIC');
    expect(v.active).toBe(true);
    expect(inhibitView(store.s, 'amd').accessPage.why).toContain('a vCPU entered x2APIC mode');
  });

  it('AMD: a vCPU id above 254 without x2AVIC sets the sticky PHYSICAL_ID_TOO_BIG', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: [0, 255], vendor: 'amd', x2avic: false }, steps: [] });
    const row = inhibitView(s, 'amd').rows[0];
    expect(row).toMatchObject({ reason: 'PHYSICAL_ID_TOO_BIG', set: true, sticky: true });
    expect(row.causeText).toContain('vCPU 255');
  });
});

describe('inhibitView across KVM releases', () => {
  it('5.10 Intel has none of the APIC ID, base or aliasing reasons', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 2, kvm: '5.10' }, steps: [] });
    const v = inhibitView(s, 'intel', { release: '5.10' });
    expect(v.rows.map((r) => r.reason)).toEqual(['DISABLED', 'HYPERV', 'ABSENT', 'BLOCKIRQ']);
    expect(v.notYet).toEqual(['PHYSICAL_ID_ALIASED', 'APIC_ID_MODIFIED', 'APIC_BASE_MODIFIED']);
    expect(v.unused).toEqual(['NESTED', 'IRQWIN', 'PIT_REINJ', 'SEV', 'LOGICAL_ID_ALIASED', 'PHYSICAL_ID_TOO_BIG', 'X2APIC']);
  });

  it('5.10 AMD: the historical X2APIC inhibit is set (sticky) for an x2APIC guest', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd', kvm: '5.10' }, steps: [] });
    const v = inhibitView(s, 'amd', { release: '5.10' });
    expect(v.active).toBe(false);
    expect(v.rows[0]).toMatchObject({ reason: 'X2APIC', bit: null, set: true, sticky: true, kvm: 'svm_vcpu_after_set_cpuid' });
    expect(v.rows[0].causeText).toContain('x2APIC');
  });

  it('current AMD does not list X2APIC at all', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd' }, steps: [] });
    const v = inhibitView(s, 'amd');
    expect(v.rows.some((r) => r.reason === 'X2APIC')).toBe(false);
    expect(v.notYet).toEqual([]);
  });

  it('5.19 - 6.2: APIC_ID_MODIFIED is sticky', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 2, kvm: '6.2' }, steps: [] });
    expect(inhibitView(s, 'intel', { release: '6.2' }).rows.find((r) => r.reason === 'APIC_ID_MODIFIED')).toMatchObject({ sticky: true, kvm: 'kvm_lapic_xapic_id_updated' });
    expect(inhibitView(s, 'intel', { release: '6.3' }).rows.find((r) => r.reason === 'APIC_ID_MODIFIED')?.sticky).toBe(false);
  });

  it('6.2 hybrid AVIC leaves the APIC-access page mapped for an x2APIC vCPU', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd', x2avic: false, kvm: '6.2' }, steps: [{ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' }] });
    expect(inhibitView(s, 'amd', { release: '6.2' }).accessPage.state).toBe('mapped');
  });
});

describe("the issue's cases", () => {
  const mmio = (vcpu: number, offset: string, value: string) => ({ op: 'mmio_write', vcpu, offset, value });

  it('(a) vCPU 2 takes xAPIC ID 1: both aliasing reasons blame vCPUs 1 and 2 and ID 1, never vCPU 0', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: 4, vendor: 'amd' }, steps: [mmio(0, '0xf0', '0x1ff'), mmio(0, '0xd0', '0x03000000'), mmio(2, '0x20', '0x01000000')] });
    const rows = inhibitView(s, 'amd').rows;
    const physical = rows.find((r) => r.reason === 'PHYSICAL_ID_ALIASED')!;
    const logical = rows.find((r) => r.reason === 'LOGICAL_ID_ALIASED')!;
    for (const r of [physical, logical]) {
      expect(r.set).toBe(true);
      expect(r.cause).toMatchObject({ code: 'PHYS_ID_ALIASED', vcpus: [1, 2], physId: 1, kvm: 'kvm_recalculate_phys_map' });
      expect(r.causeText).toContain('vCPUs 1 and 2 share physical APIC ID 1');
      expect(r.causeText).not.toMatch(/vCPU 0\b|logical ID 0x3/);
    }
    expect(logical.causeText).toMatch(/^there is no map at all/);
    expect(rows.find((r) => r.reason === 'APIC_ID_MODIFIED')?.causeText).toContain('vCPU 2 has xAPIC ID 1');
  });

  it('(b) 32-bit IDs enabled after the alias removed the map: "were off at that rebuild", not "are off"', () => {
    const { s } = replay({ format: 'apic-scenario/1', vm: { vcpus: [0, 256] }, steps: [mmio(0, '0xf0', '0x1ff'), { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }] });
    expect(s.caps.x2apicFormat).toBe(true);
    const row = inhibitView(s, 'intel').rows[0];
    expect(row).toMatchObject({ reason: 'PHYSICAL_ID_ALIASED', set: true });
    expect(row.causeText).toContain('32-bit IDs were off at that rebuild');
    expect(row.causeText).not.toContain('are off');
  });
});
