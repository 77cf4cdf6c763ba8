import { describe, expect, it } from 'vitest';
import { computeWarnings } from './warnings';
import { aliasDoc, load, SW_ON } from '../conflicts/testScenarios';

const NMI_TO_0 = { op: 'msi', addressLo: '0xfee00000', data: '0x4400' };

describe('computeWarnings', () => {
  it('32-bit IDs: an IPI that hardware sends to vCPUs 0 and 256 goes to vCPU 0 only', () => {
    const { s, last } = load(aliasDoc(true), [NMI_TO_0]);
    const w = computeWarnings(s, last);
    const ipi = w.find((x) => x.key === 'ipi-alias-0')!;
    expect(ipi.level).toBe('warn');
    expect(ipi.text).toBe('IPI to APIC ID 0 went only to vCPU 0 (first vCPU wins); hardware would deliver it to vCPUs 0 and 256');
    expect(ipi.vcpus).toEqual([0, 256]);
    expect(w.find((x) => x.key === 'truncated')?.text).toContain("vCPU 256's xAPIC ID is truncated to 0");
    expect(w.find((x) => x.key === 'missing-from-map')).toBeUndefined();
  });

  it('without 32-bit IDs the same IPI reaches both: no IPI warning', () => {
    const { s, last } = load(aliasDoc(false), [NMI_TO_0]);
    expect(last?.path).toBe('slow');
    expect(computeWarnings(s, last).map((x) => x.key)).toEqual(['truncated']);
  });

  it('the newest vCPU is missing from the map right after KVM_CREATE_VCPU, and an IPI to it is dropped', () => {
    const { s, last } = load({ format: 'apic-scenario/1', vm: { vcpus: 4 }, steps: [] }, [{ op: 'msi', addressLo: '0xfee03000', data: '0x4400' }]);
    const w = computeWarnings(s, last);
    expect(w.find((x) => x.key === 'missing-from-map')).toMatchObject({ vcpus: [3], text: 'vCPU 3 is missing from the optimized map until the next rebuild' });
    expect(w.find((x) => x.key === 'ipi-dropped-3')?.text).toContain('phys_map[3] is empty');
  });

  it('a stale map after creating 0, 1, 256: IPI to ID 0 reaches only vCPU 0', () => {
    const { s, last } = load({ format: 'apic-scenario/1', vm: { vcpus: [0, 1, 256] }, steps: [] }, [NMI_TO_0]);
    const w = computeWarnings(s, last);
    expect(w.find((x) => x.key === 'ipi-alias-0')?.text).toContain('(stale map)');
    expect(w.find((x) => x.key === 'missing-from-map')?.vcpus).toEqual([256]);
  });

  it('LDR collisions and relocated APIC bases', () => {
    const { s, last } = load({
      format: 'apic-scenario/1',
      vm: { vcpus: 3 },
      steps: [
        { op: 'set_lapic', vcpu: 0, merge: true, regs: { ...SW_ON, '0x0e0': '0xffffffff', '0x0d0': '0x04000000' } },
        { op: 'set_lapic', vcpu: 1, merge: true, regs: { ...SW_ON, '0x0e0': '0xffffffff', '0x0d0': '0x04000000' } },
        { op: 'wrmsr', vcpu: 2, msr: '0x1b', value: '0xfed00800' },
      ],
    });
    const w = computeWarnings(s, last);
    expect(w.find((x) => x.key.startsWith('ldr-'))?.text).toBe('LDR collision: vCPUs 0 and 1 share logical ID 0x04 (flat); both receive');
    expect(w.find((x) => x.key === 'apic-base')).toMatchObject({ vcpus: [2], text: "vCPU 2's APIC is relocated to 0xfed00000" });
  });

  it('a fresh small VM only warns about the vCPU missing from the map', () => {
    const { s, last } = load({ format: 'apic-scenario/1', vm: { vcpus: 2 }, steps: [] });
    expect(computeWarnings(s, last).map((x) => x.key)).toEqual(['missing-from-map']);
  });
});

describe('computeWarnings before 6.3', () => {
  it('first vCPU wins without 32-bit IDs', () => {
    const { s, last } = load(aliasDoc(false, { kvm: '6.2' }), [NMI_TO_0]);
    expect(computeWarnings(s, last, { release: '6.2' }).find((x) => x.key === 'ipi-alias-0')?.text).toContain('(first vCPU wins)');
  });

  it('a logical IPI to a shared flat bit reaches only the last vCPU', () => {
    const { s, last } = load(
      {
        format: 'apic-scenario/1',
        vm: { vcpus: 2, kvm: '6.2' },
        steps: [0, 1].map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: { ...SW_ON, '0x0d0': '0x01000000' } })),
      },
      [{ op: 'msi', addressLo: '0xfee01004', data: '0x4041' }],
    );
    const w = computeWarnings(s, last, { release: '6.2' }).find((x) => x.key.startsWith('ipi-logical-'));
    expect(w?.text).toBe('Logical IPI to 0x01 went only to vCPU 1 (last vCPU wins); hardware would deliver it to vCPUs 0 and 1');
  });
});
