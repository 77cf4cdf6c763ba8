import { describe, expect, it } from 'vitest';
import { findConflicts } from '../conflicts/aliases';
import { aliasDoc, replay, SW_ON } from '../conflicts/testScenarios';
import { computeWarnings } from './warnings';

const NMI_TO_0 = { op: 'msi', addressLo: '0xfee00000', data: '0x4400' };
const mmio = (vcpu: number, offset: string, value: string) => ({ op: 'mmio_write', vcpu, offset, value });

/** The warnings after replaying a document (and `extra` steps), as the VM bar computes them. */
function warningsOf(doc: Parameters<typeof replay>[0], extra: unknown[] = []) {
  const { s, last, preview } = replay(doc, extra);
  return { w: computeWarnings(s, last, findConflicts(s, preview)), last };
}

describe('computeWarnings', () => {
  it('32-bit IDs: an IPI that hardware sends to vCPUs 0 and 256 goes to vCPU 0 only, as the map says', () => {
    const { w } = warningsOf(aliasDoc(true), [NMI_TO_0]);
    const ipi = w.find((x) => x.key === 'ipi-alias-0')!;
    expect(ipi.level).toBe('warn');
    expect(ipi.text).toBe('IPI to APIC ID 0 went only to vCPU 0; hardware would deliver it to vCPUs 0 and 256');
    expect(ipi.detail).toContain('first vCPU wins');
    expect(ipi.vcpus).toEqual([0, 256]);
    expect(w.find((x) => x.key === 'map-HOTPLUG_FIRST_WINS-0')?.text).toContain('phys_map[0] keeps vCPU 0 (first vCPU wins)');
    expect(w.find((x) => x.key === 'truncated')?.text).toContain("vCPU 256's xAPIC ID is truncated to 0");
    expect(w.find((x) => x.key === 'truncated')?.detail).toContain('hotplug hack');
    expect(w.find((x) => x.key === 'missing-from-map')).toBeUndefined();
  });

  it('without 32-bit IDs the same IPI reaches both: only the alias that removed the map is reported', () => {
    const { w, last } = warningsOf(aliasDoc(false), [NMI_TO_0]);
    expect(last?.op === 'msi' && last.path).toBe('slow');
    expect(w.map((x) => x.key)).toEqual(['map-PHYS_ID_ALIASED-0', 'truncated']);
    expect(w[0].text).toBe('vCPUs 0 and 256 share physical APIC ID 0 and 32-bit IDs are off: no optimized map');
  });

  it('the newest vCPU is missing from the map right after KVM_CREATE_VCPU, and an IPI to it is dropped', () => {
    const { w } = warningsOf({ format: 'apic-scenario/1', vm: { vcpus: 4 }, steps: [] }, [{ op: 'msi', addressLo: '0xfee03000', data: '0x4400' }]);
    expect(w.find((x) => x.key === 'missing-from-map')).toMatchObject({ vcpus: [3], text: 'vCPU 3 is missing from the optimized map until the next rebuild' });
    const dropped = w.find((x) => x.key === 'ipi-dropped-3')!;
    expect(dropped.text).toBe('IPI to APIC ID 3 was dropped: phys_map[3] is empty although vCPU 3 has that ID');
    expect(dropped.detail).toContain('KVM_CREATE_VCPU');
  });

  it('a map that predates vCPU 256: the IPI to ID 0 reaches only vCPU 0, and the map finding says why', () => {
    const { w } = warningsOf({ format: 'apic-scenario/1', vm: { vcpus: [0, 1, 256] }, steps: [] }, [NMI_TO_0]);
    expect(w.find((x) => x.key === 'ipi-alias-0')?.detail).toContain('vCPU 256 is missing from the optimized map');
    expect(w.find((x) => x.key === 'missing-from-map')?.vcpus).toEqual([256]);
  });

  it('LDR collisions and relocated APIC bases', () => {
    const { w } = warningsOf({
      format: 'apic-scenario/1',
      vm: { vcpus: 3 },
      steps: [
        { op: 'set_lapic', vcpu: 0, merge: true, regs: { ...SW_ON, '0x0e0': '0xffffffff', '0x0d0': '0x04000000' } },
        { op: 'set_lapic', vcpu: 1, merge: true, regs: { ...SW_ON, '0x0e0': '0xffffffff', '0x0d0': '0x04000000' } },
        { op: 'wrmsr', vcpu: 2, msr: '0x1b', value: '0xfed00800' },
      ],
    });
    expect(w.find((x) => x.key === 'map-LOGICAL_ID_ALIASED-0')).toMatchObject({ vcpus: [0, 1], text: 'vCPUs 0 and 1 share logical ID 0x4: logical map disabled' });
    expect(w.find((x) => x.key === 'apic-base')).toMatchObject({ vcpus: [2], text: "vCPU 2's APIC is relocated to 0xfed00000" });
  });

  it('a fresh small VM only warns about the vCPU missing from the map', () => {
    expect(warningsOf({ format: 'apic-scenario/1', vm: { vcpus: 2 }, steps: [] }).w.map((x) => x.key)).toEqual(['missing-from-map']);
  });

  it('many findings of one kind fold into one warning', () => {
    const { w } = warningsOf({ format: 'apic-scenario/1', vm: { vcpus: 300 }, steps: [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }, mmio(0, '0xf0', '0x1ff')] });
    const first = w.filter((x) => x.key.startsWith('map-HOTPLUG_FIRST_WINS'));
    expect(first).toHaveLength(1);
    expect(first[0].text).toBe('44 like this: vCPUs 0 and 256 answer to xAPIC ID 0; phys_map[0] keeps vCPU 0 (first vCPU wins)');
    expect(first[0].vcpus).toHaveLength(88);
  });
});

describe("the issue's cases", () => {
  it('(a) vCPU 2 takes xAPIC ID 1: the warnings blame vCPUs 1 and 2 and ID 1, never vCPU 0', () => {
    const { w } = warningsOf({ format: 'apic-scenario/1', vm: { vcpus: 4 }, steps: [mmio(0, '0xf0', '0x1ff'), mmio(0, '0xd0', '0x03000000'), mmio(2, '0x20', '0x01000000')] });
    expect(w.map((x) => x.key)).toEqual(['map-PHYS_ID_ALIASED-0', 'map-XAPIC_ID_MISMATCH-0']);
    expect(w[1]).toMatchObject({ vcpus: [2], text: 'vCPU 2 has xAPIC ID 1, not 2' });
    expect(w[0]).toMatchObject({ vcpus: [1, 2], text: 'vCPUs 1 and 2 share physical APIC ID 1 and 32-bit IDs are off: no optimized map' });
    expect(w.map((x) => `${x.text} ${x.detail}`).join(' ')).not.toMatch(/vCPU 0\b|logical ID/);
  });

  it('(b) 32-bit IDs enabled after the alias removed the map: they were off at that rebuild', () => {
    const { w } = warningsOf({ format: 'apic-scenario/1', vm: { vcpus: [0, 256] }, steps: [mmio(0, '0xf0', '0x1ff'), { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }] });
    const alias = w.find((x) => x.key === 'map-PHYS_ID_ALIASED-0')!;
    expect(alias.text).toContain('32-bit IDs were off at that rebuild');
    expect(`${alias.text} ${alias.detail}`).not.toContain('are off');
  });
});

describe('computeWarnings before 6.3', () => {
  it('first vCPU wins without 32-bit IDs', () => {
    const { w } = warningsOf(aliasDoc(false, { kvm: '6.2' }), [NMI_TO_0]);
    expect(w.find((x) => x.key === 'ipi-alias-0')?.detail).toContain('first vCPU wins');
  });

  it('a logical IPI to a shared flat bit reaches only the last vCPU', () => {
    const { w } = warningsOf(
      {
        format: 'apic-scenario/1',
        vm: { vcpus: 2, kvm: '6.2' },
        steps: [0, 1].map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: { ...SW_ON, '0x0d0': '0x01000000' } })),
      },
      [{ op: 'msi', addressLo: '0xfee01004', data: '0x4041' }],
    );
    const ipi = w.find((x) => x.key.startsWith('ipi-logical-'))!;
    expect(ipi.text).toBe('Logical IPI to 0x01 went only to vCPU 1; hardware would deliver it to vCPUs 0 and 1');
    expect(ipi.detail).toContain('the later, vCPU 1, took the slot');
  });
});
