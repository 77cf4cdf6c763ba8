import { describe, expect, it } from 'vitest';
import { INHIBIT_REASONS } from '../../core/inhibits';
import { accessPageDeleter, inhibitView } from './inhibitRows';
import { aliasDoc, load } from '../conflicts/testScenarios';

describe('inhibitView', () => {
  it('Intel lists the 7 VMX reasons, all clear on a fresh VM; the rest are not used', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 2 }, steps: [] });
    const v = inhibitView(s, 'intel');
    expect(v.engine).toBe('APICv');
    expect(v.active).toBe(true);
    expect(v.rows.map((r) => r.reason)).toEqual(['DISABLED', 'HYPERV', 'ABSENT', 'BLOCKIRQ', 'PHYSICAL_ID_ALIASED', 'APIC_ID_MODIFIED', 'APIC_BASE_MODIFIED']);
    expect(v.rows.every((r) => !r.set && r.cause === null && r.meaning.length > 0)).toBe(true);
    expect(v.unused).toEqual(['NESTED', 'IRQWIN', 'PIT_REINJ', 'SEV', 'LOGICAL_ID_ALIASED', 'PHYSICAL_ID_TOO_BIG']);
    expect(v.rows.find((r) => r.reason === 'APIC_BASE_MODIFIED')?.sticky).toBe(true);
    expect(v.rows.find((r) => r.reason === 'PHYSICAL_ID_ALIASED')?.sticky).toBe(false);
    expect(v.accessPage.state).toBe('mapped');
  });

  it('AMD honours all 13 reasons', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd' }, steps: [] });
    const v = inhibitView(s, 'amd');
    expect(v.engine).toBe('AVIC');
    expect(v.rows).toHaveLength(INHIBIT_REASONS.length);
    expect(v.unused).toEqual([]);
  });

  it('set reasons come first, with their cause; APICv is inhibited', () => {
    const { s } = load(aliasDoc(false));
    const v = inhibitView(s, 'intel');
    expect(v.active).toBe(false);
    expect(v.rows[0]).toMatchObject({ reason: 'PHYSICAL_ID_ALIASED', bit: 4, set: true, sticky: false, fn: 'kvm_recalculate_apic_map' });
    expect(v.rows[0].cause).toContain('vCPUs 0 and 256 share physical APIC ID 0');
    expect(v.rows.slice(1).every((r) => !r.set)).toBe(true);
  });

  it('on AMD the same aliasing also sets LOGICAL_ID_ALIASED', () => {
    const { s } = load(aliasDoc(false, { vendor: 'amd' }));
    const set = inhibitView(s, 'amd').rows.filter((r) => r.set).map((r) => r.reason);
    expect(set).toEqual(['PHYSICAL_ID_ALIASED', 'LOGICAL_ID_ALIASED']);
  });

  it('with 32-bit IDs nothing is set', () => {
    const { s } = load(aliasDoc(true));
    expect(inhibitView(s, 'intel').rows.some((r) => r.set)).toBe(false);
  });

  it('apicv off: DISABLED is set (sticky) and there is no APIC-access page', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 1, apicv: false }, steps: [] });
    const v = inhibitView(s, 'intel');
    expect(v.rows[0]).toMatchObject({ reason: 'DISABLED', set: true, sticky: true });
    expect(v.rows[0].cause).toContain('enable_apicv');
    expect(v.accessPage.state).toBe('none');
  });

  it('AVIC without x2AVIC: a vCPU in x2APIC mode deletes the APIC-access page for good', () => {
    const store = load({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd', x2avic: false }, steps: [{ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' }] });
    const deletedBy = accessPageDeleter([store.last!]);
    expect(deletedBy).toBe(1);
    const v = inhibitView(store.s, 'amd', { deletedBy });
    expect(v.accessPage.state).toBe('deleted');
    expect(v.accessPage.why).toContain('vCPU 1');
    expect(v.accessPage.why).toContain('x2AVIC');
    expect(v.active).toBe(true);
  });

  it('AMD: a vCPU id above 254 without x2AVIC sets the sticky PHYSICAL_ID_TOO_BIG', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: [0, 255], vendor: 'amd', x2avic: false }, steps: [] });
    const row = inhibitView(s, 'amd').rows[0];
    expect(row).toMatchObject({ reason: 'PHYSICAL_ID_TOO_BIG', set: true, sticky: true });
    expect(row.cause).toContain('vCPU 255');
  });
});

describe('inhibitView across KVM releases', () => {
  it('5.10 Intel has none of the APIC ID, base or aliasing reasons', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 2, kvm: '5.10' }, steps: [] });
    const v = inhibitView(s, 'intel', { release: '5.10' });
    expect(v.rows.map((r) => r.reason)).toEqual(['DISABLED', 'HYPERV', 'ABSENT', 'BLOCKIRQ']);
    expect(v.notYet).toEqual(['PHYSICAL_ID_ALIASED', 'APIC_ID_MODIFIED', 'APIC_BASE_MODIFIED']);
    expect(v.unused).toEqual(['NESTED', 'IRQWIN', 'PIT_REINJ', 'SEV', 'LOGICAL_ID_ALIASED', 'PHYSICAL_ID_TOO_BIG', 'X2APIC']);
  });

  it('5.10 AMD: the historical X2APIC inhibit is set (sticky) for an x2APIC guest', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd', kvm: '5.10' }, steps: [] });
    const v = inhibitView(s, 'amd', { release: '5.10' });
    expect(v.active).toBe(false);
    expect(v.rows[0]).toMatchObject({ reason: 'X2APIC', bit: null, set: true, sticky: true, fn: 'svm_vcpu_after_set_cpuid' });
    expect(v.rows[0].cause).toContain('x2APIC');
  });

  it('current AMD does not list X2APIC at all', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd' }, steps: [] });
    const v = inhibitView(s, 'amd');
    expect(v.rows.some((r) => r.reason === 'X2APIC')).toBe(false);
    expect(v.notYet).toEqual([]);
  });

  it('5.19 - 6.2: APIC_ID_MODIFIED is sticky', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 2, kvm: '6.2' }, steps: [] });
    expect(inhibitView(s, 'intel', { release: '6.2' }).rows.find((r) => r.reason === 'APIC_ID_MODIFIED')).toMatchObject({ sticky: true, fn: 'kvm_lapic_xapic_id_updated' });
    expect(inhibitView(s, 'intel', { release: '6.3' }).rows.find((r) => r.reason === 'APIC_ID_MODIFIED')?.sticky).toBe(false);
  });

  it('6.2 hybrid AVIC leaves the APIC-access page mapped for an x2APIC vCPU', () => {
    const { s } = load({ format: 'apic-scenario/1', vm: { vcpus: 2, vendor: 'amd', x2avic: false, kvm: '6.2' }, steps: [{ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' }] });
    const v = inhibitView(s, 'amd', { release: '6.2', x2avic: false });
    expect(v.accessPage.state).toBe('mapped');
    expect(v.accessPage.why).toContain('before 6.3');
  });
});
