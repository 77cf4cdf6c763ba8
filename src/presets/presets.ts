/**
 * VM presets: where a learner starts. Each is an apic-scenario/1 scenario, so a preset is replayed,
 * shared and exported like any session:
 * - "as KVM creates it": KVM_CREATE_VCPU only. Every APIC is software-disabled, and the newest
 *   vCPU is missing from the optimized map until something rebuilds it.
 * - "as a VMM sets it up": every LAPIC written back with KVM_SET_LAPIC at reset, as QEMU's
 *   kvm_apic_put() does, so the map holds every vCPU.
 * - "Linux guest, xAPIC flat / xAPIC cluster / x2APIC": the APICs software-enabled (SPIV 0x1ff, as
 *   Linux's setup_local_APIC() writes it) and the logical IDs as Linux programs them: flat, one bit
 *   per CPU (default_init_apic_ldr, up to 8 CPUs); cluster, four CPUs a cluster (DFR 0x0fffffff);
 *   x2APIC, entered by the guest's own IA32_APIC_BASE write (the LDR is then KVM's, read-only).
 */
import { toDocument } from '../scenario/document';
import { parseScenario, type Scenario, type Step } from '../scenario/schema';

export type PresetId = 'kvm-created' | 'vmm-setup' | 'linux-flat' | 'linux-cluster' | 'linux-x2apic';

export interface Preset {
  id: PresetId;
  label: string;
  /** One line: what this start state is. */
  summary: string;
  /** The most vCPUs the preset makes sense for (xAPIC flat addresses 8). */
  maxVcpus: number;
  steps(ids: readonly number[]): Step[];
}

const SPIV_ENABLED = 0x1ffn;
const setLapic = (vcpu: number, regs: Record<string, bigint>): Step => ({ op: 'set_lapic', vcpu, merge: true, regs });
const mmio = (vcpu: number, offset: bigint, value: bigint): Step => ({ op: 'mmio_write', vcpu, offset, value });

export const PRESETS: readonly Preset[] = [
  {
    id: 'linux-flat',
    label: 'Linux guest, xAPIC flat',
    summary: 'APICs enabled by a booted Linux guest, logical IDs one bit per CPU (flat model)',
    maxVcpus: 8,
    steps: (ids) => ids.flatMap((id, cpu) => [mmio(id, 0xf0n, SPIV_ENABLED), mmio(id, 0xe0n, 0xffffffffn), mmio(id, 0xd0n, BigInt((1 << (24 + cpu)) >>> 0))]),
  },
  {
    id: 'linux-cluster',
    label: 'Linux guest, xAPIC cluster',
    summary: 'APICs enabled, logical IDs in clusters of four CPUs (cluster model, DFR 0x0fffffff)',
    maxVcpus: 60,
    steps: (ids) => ids.flatMap((id, cpu) => [mmio(id, 0xf0n, SPIV_ENABLED), mmio(id, 0xe0n, 0x0fffffffn), mmio(id, 0xd0n, BigInt((((cpu >> 2) << 28) | (1 << (24 + (cpu & 3)))) >>> 0))]),
  },
  {
    id: 'linux-x2apic',
    label: 'Linux guest, x2APIC',
    summary: 'APICs switched to x2APIC mode by the guest and enabled; logical IDs derived by KVM',
    maxVcpus: 4096,
    steps: (ids) => ids.flatMap((id): Step[] => [{ op: 'wrmsr', vcpu: id, msr: 0x1bn, value: 0xfee00c00n | (id === ids[0] ? 0x100n : 0n) }, { op: 'wrmsr', vcpu: id, msr: 0x80fn, value: SPIV_ENABLED }]),
  },
  {
    id: 'vmm-setup',
    label: 'As a VMM sets it up',
    summary: 'every LAPIC written with KVM_SET_LAPIC at reset, as QEMU does: the map holds every vCPU',
    maxVcpus: 4096,
    steps: (ids) => ids.map((id) => setLapic(id, {})),
  },
  {
    id: 'kvm-created',
    label: 'As KVM creates it',
    summary: 'KVM_CREATE_VCPU only: APICs software-disabled, the newest vCPU missing from the map',
    maxVcpus: 4096,
    steps: () => [],
  },
];

export const DEFAULT_PRESET: PresetId = 'linux-flat';

export function preset(id: PresetId): Preset {
  return PRESETS.find((p) => p.id === id)!;
}

/** The preset's scenario for `vcpus` vCPUs (ids 0..n-1), capped at what the preset addresses. */
export function presetScenario(id: PresetId, vcpus = 4, vm: Record<string, unknown> = {}): Scenario {
  const p = preset(id);
  const n = Math.max(1, Math.min(vcpus, p.maxVcpus));
  const ids = Array.from({ length: n }, (_, i) => i);
  return parseScenario(toDocument({ title: p.label, vm: { ...vm, vcpus: n }, steps: p.steps(ids) }));
}
