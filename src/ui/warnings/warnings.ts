/**
 * Where KVM surprises: a pure function from the snapshot and the last step's result to a short
 * list of warnings (the VM bar shows them). Each says what happened in words and which vCPUs it
 * is about; `detail` carries the longer why.
 */
import type { FinalState, StepResult } from '../../scenario/result';
import { findConflicts, hex8, listVcpus, physicalIdOf, type ConflictReport } from '../conflicts/aliases';

export interface Warning {
  level: 'warn' | 'info';
  text: string;
  /** The longer explanation (tooltip). */
  detail?: string;
  vcpus: number[];
  /** Stable key for lists. */
  key: string;
}

const DEFAULT_APIC_BASE = 0xfee00000n;
const MSR_IA32_APICBASE_ENABLE = 1n << 11n;
const BASE_MASK = ~0xfffn;

/** Physical destinations the fast path looked up, from a delivery's `why` ("phys_map[3]", "phys_map[3] is empty"). */
function physLookups(why: string): { id: number; empty: boolean }[] {
  return [...why.matchAll(/phys_map\[(\d+)\]( is empty)?/g)].map((m) => ({ id: Number(m[1]), empty: m[2] !== undefined }));
}

/** The destination ID of the last IPI or MSI, from its KVM trace (kvm_apic_ipi / kvm_msi_set_irq). */
function lastDest(last: StepResult): number | null {
  const trace = (last.trace as { detail?: string }[] | undefined) ?? [];
  for (const t of trace) {
    const m = /dest_id 0x([0-9a-f]+)/.exec(t.detail ?? '');
    if (m) return parseInt(m[1], 16);
  }
  return null;
}

/**
 * `release` is the KVM release ("current" or "X.Y"); pass `report` when the caller already has
 * the conflicts for the same snapshot and release.
 */
export function computeWarnings(s: FinalState, last: StepResult | null, opts: { release?: string; report?: ConflictReport } = {}): Warning[] {
  const report = opts.report ?? findConflicts(s, { release: opts.release });
  const hack = s.caps.x2apicFormat || !report.modern;
  const out: Warning[] = [];

  // The last IPI: delivered to fewer vCPUs than hardware would (first vCPU wins, stale map), or dropped.
  if (last && last.path === 'fast' && typeof last.why === 'string') {
    const delivered = new Set(((last.delivered as { vcpu: number }[] | undefined) ?? []).map((d) => d.vcpu));
    for (const { id, empty } of physLookups(last.why)) {
      const conflict = report.physical.find((c) => c.apicId === id);
      if (!empty && conflict) {
        const all = conflict.members.map((m) => m.vcpu);
        const got = all.filter((v) => delivered.has(v));
        const holderMode = conflict.members.find((m) => m.vcpu === s.map.phys?.[String(id)])?.mode;
        const rule = !hack ? 'stale map' : holderMode === 'x2apic' ? 'x2APIC vCPU wins' : 'first vCPU wins';
        out.push({
          level: 'warn',
          key: `ipi-alias-${id}`,
          text: `IPI to APIC ID ${id} went only to ${listVcpus(got.length ? got : [s.map.phys?.[String(id)] ?? all[0]])} (${rule}); hardware would deliver it to ${listVcpus(all)}`,
          detail: conflict.kvm.why + ' ' + conflict.hardware,
          vcpus: all,
        });
      } else if (empty) {
        const owners = s.vcpus.filter((v) => (v.mode === 'xapic' || v.mode === 'x2apic') && physicalIdOf(v) === id).map((v) => v.vcpu);
        if (owners.length) {
          out.push({
            level: 'warn',
            key: `ipi-dropped-${id}`,
            text: `IPI to APIC ID ${id} was dropped: phys_map[${id}] is empty although ${listVcpus(owners)} ${owners.length === 1 ? 'has' : 'have'} that ID`,
            detail: 'The optimized map was last rebuilt before the vCPU was online (KVM_CREATE_VCPU); the fast path trusts the map and finds nobody.',
            vcpus: owners,
          });
        }
      }
    }
  }

  // A logical IPI through a map whose slot one of several vCPUs won (pre-6.3, or a stale map).
  if (last && last.path === 'fast' && typeof last.why === 'string') {
    const m = /logical (XAPIC_FLAT|XAPIC_CLUSTER) mask 0x([0-9a-f]+)/.exec(last.why);
    const dest = lastDest(last);
    if (m) {
      const mask = parseInt(m[2], 16);
      const delivered = new Set(((last.delivered as { vcpu: number }[] | undefined) ?? []).map((d) => d.vcpu));
      for (const c of report.logical) {
        if (c.mode !== m[1] || !((mask >> c.bit) & 1)) continue;
        if (c.mode === 'XAPIC_CLUSTER' && (dest === null || ((dest >>> 4) & 0xf) !== c.cluster)) continue;
        const got = c.vcpus.filter((v) => delivered.has(v));
        if (got.length >= c.vcpus.length) continue;
        out.push({
          level: 'warn',
          key: `ipi-logical-${c.mode}-${c.cluster}-${c.bit}`,
          text: `Logical IPI to ${hex8(c.logicalId)} went only to ${listVcpus(got)} (${c.kvm.verdict.replace(/^.*\((.*)\)$/, '$1')}); hardware would deliver it to ${listVcpus(c.vcpus)}`,
          detail: c.kvm.why + ' ' + c.hardware,
          vcpus: c.vcpus,
        });
      }
    }
  }

  // vCPUs that are hardware-enabled but in no phys slot while the map is present.
  if (s.map.present) {
    const inMap = new Set(Object.values(s.map.phys ?? {}));
    const losers = new Set<number>();
    if (hack) for (const c of report.physical) for (const m of c.members) if (!inMap.has(m.vcpu)) losers.add(m.vcpu);
    const missing = s.vcpus.filter((v) => (v.mode === 'xapic' || v.mode === 'x2apic') && !inMap.has(v.vcpu) && !losers.has(v.vcpu)).map((v) => v.vcpu);
    if (missing.length) {
      out.push({
        level: 'warn',
        key: 'missing-from-map',
        text: `${listVcpus(missing)} ${missing.length === 1 ? 'is' : 'are'} missing from the optimized map until the next rebuild`,
        detail: 'KVM_CREATE_VCPU resets the new LAPIC, which rebuilds the map before the vCPU is online (visible to kvm_for_each_vcpu), so the newest vCPU is left out. Interrupts to its APIC ID take the fast path and miss it until something dirties the map again (an ID/LDR/DFR/SPIV write, APICBASE change or KVM_SET_LAPIC). Seen on Linux 6.18.',
        vcpus: missing,
      });
    }
  }

  for (const [i, c] of report.logical.entries()) {
    if (i === 3) {
      const rest = report.logical.slice(3);
      out.push({
        level: 'warn', key: 'ldr-more', text: `${rest.length} more LDR collisions`,
        vcpus: [...new Set(rest.flatMap((r) => r.vcpus))],
      });
      break;
    }
    out.push({
      level: 'warn',
      key: `ldr-${c.mode}-${c.cluster}-${c.bit}`,
      text: `LDR collision: ${listVcpus(c.vcpus)} share logical ID ${hex8(c.logicalId)} (${c.mode === 'XAPIC_FLAT' ? 'flat' : `cluster ${c.cluster}`}); ${c.kvm.verdict}`,
      detail: c.kvm.why + ' ' + c.hardware,
      vcpus: c.vcpus,
    });
  }
  if (report.mixed) {
    out.push({
      level: 'info',
      key: 'mixed-logical',
      text: `Mixed logical modes (${report.mixed.modes.map((m) => m.mode).join(', ')}): logical map disabled`,
      detail: 'kvm_recalculate_logical_map() needs every software-enabled APIC with a non-zero LDR in the same logical mode; otherwise MAP_DISABLED and logical interrupts take the slow path.',
      vcpus: report.mixed.modes.flatMap((m) => m.vcpus),
    });
  }

  const relocated = s.vcpus.filter((v) => {
    const base = BigInt(v.apicBase);
    return (base & MSR_IA32_APICBASE_ENABLE) !== 0n && (base & BASE_MASK) !== DEFAULT_APIC_BASE;
  });
  if (relocated.length) {
    const v = relocated[0];
    out.push({
      level: 'warn',
      key: 'apic-base',
      text:
        relocated.length === 1
          ? `vCPU ${v.vcpu}'s APIC is relocated to 0x${(BigInt(v.apicBase) & BASE_MASK).toString(16)}`
          : `${relocated.length} vCPUs have a relocated APIC base`,
      detail: 'IA32_APIC_BASE names a base other than 0xfee00000 while the APIC is enabled: KVM decodes the APIC there, and sets the sticky APIC_BASE_MODIFIED inhibit (kvm_lapic_set_base).',
      vcpus: relocated.map((r) => r.vcpu),
    });
  }

  if (report.truncated.length) {
    const t = report.truncated;
    out.push({
      level: 'info',
      key: 'truncated',
      text:
        t.length === 1
          ? `vCPU ${t[0].vcpu}'s xAPIC ID is truncated to ${t[0].xapicId} (vcpu_id & 0xff)`
          : `${t.length} vCPUs above 255 have truncated xAPIC IDs (vcpu_id & 0xff)`,
      detail: 'kvm_xapic_id() is 8 bits: in xAPIC mode a vCPU above 255 answers to vcpu_id & 0xff (and, through the hotplug hack, to its 32-bit ID for destinations above 0xff).',
      vcpus: t.map((x) => x.vcpu),
    });
  }

  return out.sort((a, b) => (a.level === b.level ? 0 : a.level === 'warn' ? -1 : 1));
}
