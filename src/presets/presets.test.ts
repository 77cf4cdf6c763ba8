/** Each preset leaves the state its label promises, checked on the replayed result. */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../scenario/runner';
import { PRESETS, presetScenario } from './presets';

const run = (id: Parameters<typeof presetScenario>[0], n = 4) => runScenario(presetScenario(id, n)).final;

describe('VM presets', () => {
  it('as KVM creates it: APICs software-disabled and the newest vCPU missing from the map', () => {
    const f = run('kvm-created');
    expect(f.vcpus.every((v) => !v.swEnabled && v.mode === 'xapic')).toBe(true);
    expect(f.map.why).toEqual([{ kind: 'map', code: 'VCPU_NOT_ONLINE', kvm: 'kvm_vcpu_reset', vcpus: [3] }]);
    expect(Object.values(f.map.phys!)).toEqual([0, 1, 2]);
  });

  it('as a VMM sets it up: KVM_SET_LAPIC at reset puts every vCPU in the map', () => {
    const f = run('vmm-setup');
    expect(f.map.why).toBeUndefined();
    expect(Object.values(f.map.phys!)).toEqual([0, 1, 2, 3]);
    expect(f.vcpus.every((v) => !v.swEnabled)).toBe(true);
  });

  it('Linux xAPIC flat: enabled APICs, one logical bit per CPU', () => {
    const f = run('linux-flat');
    expect(f.vcpus.every((v) => v.swEnabled)).toBe(true);
    expect(f.map).toMatchObject({ present: true, logicalMode: 'XAPIC_FLAT', flat: [0, 1, 2, 3, null, null, null, null] });
    expect(f.vcpus.map((v) => v.ldr)).toEqual(['0x1000000', '0x2000000', '0x4000000', '0x8000000']);
  });

  it('Linux xAPIC cluster: clusters of four', () => {
    const f = run('linux-cluster', 6);
    expect(f.map).toMatchObject({ logicalMode: 'XAPIC_CLUSTER', cluster: { 0: [0, 1, 2, 3], 1: [4, 5, null, null] } });
  });

  it('Linux x2APIC: every vCPU in x2APIC mode, the BSP kept, logical mode X2APIC', () => {
    const f = run('linux-x2apic');
    expect(f.vcpus.map((v) => [v.mode, v.swEnabled])).toEqual(Array(4).fill(['x2apic', true]));
    expect(f.vcpus[0].apicBase).toBe('0xfee00d00');
    expect(f.map.logicalMode).toBe('X2APIC');
  });

  it('caps the vCPUs at what the preset addresses (flat: 8)', () => {
    expect(presetScenario('linux-flat', 20).vm.vcpus).toBe(8);
    for (const p of PRESETS) expect(presetScenario(p.id, 2).steps.length).toBeGreaterThanOrEqual(0);
  });
});
