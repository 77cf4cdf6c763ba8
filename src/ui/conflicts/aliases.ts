/**
 * Alias conflicts, computed from the snapshot: physical APIC IDs and logical IDs that more than
 * one vCPU answers to, grouped from the vCPUs' registers (data, not a KVM rule). What KVM does
 * about each comes from the core: `preview` routes a Fixed IPI to the shared ID as KVM would now
 * (the store's previewRoute, or the core's for a Vm in tests), and the last map rebuild's
 * findings (`map.why`) say why. Pure: no store, no React.
 */
import type { MapDecision, RouteDecision } from '../../core/decisions';
import { DM_FIXED } from '../../core/codec';
import type { LapicIrq } from '../../core/delivery';
import type { FinalState, FinalVcpu } from '../../scenario/result';

export type ApicMode = 'xapic' | 'x2apic';
export type XapicLogicalMode = 'XAPIC_FLAT' | 'XAPIC_CLUSTER';

/** Who an interrupt from `source` (a vCPU, or null for an MSI) would reach now, and why; null if the source is unknown. */
export type PreviewRoute = (source: number | null, irq: LapicIrq) => RouteDecision | null;

export interface PhysicalConflict {
  kind: 'physical';
  apicId: number;
  /** The vCPUs that claim the ID, in creation order, with the mode that makes them claim it. */
  members: { vcpu: number; mode: ApicMode }[];
  /** A Fixed IPI to the ID, routed as KVM would now. */
  route: RouteDecision | null;
  /** Of `members`, those the route selects. */
  reached: number[];
  /** The last map rebuild's findings about this ID or these vCPUs. */
  why: MapDecision[];
  /** Findings about other vCPUs that sent the route to the slow path (the alias that removed the map...). */
  routeWhy: MapDecision[];
}

export interface LogicalConflict {
  kind: 'logical';
  mode: XapicLogicalMode;
  /** Cluster (bits 7:4 of the logical ID) in cluster mode. */
  cluster: number | null;
  /** The bit of the logical ID (flat: 0..7, cluster: 0..3). */
  bit: number;
  /** The 8-bit logical destination that selects exactly this bit (LDR bits 31:24). */
  logicalId: number;
  vcpus: number[];
  /** A logical Fixed IPI to `logicalId`, routed as KVM would now. */
  route: RouteDecision | null;
  reached: number[];
  why: MapDecision[];
  routeWhy: MapDecision[];
}

export interface Truncation {
  vcpu: number;
  xapicId: number;
}

export interface ConflictReport {
  physical: PhysicalConflict[];
  logical: LogicalConflict[];
  /** The last rebuild's logical-map findings no row carries (mixed modes, multi-bit IDs). */
  logicalNotes: MapDecision[];
  /** vCPUs above 255 in xAPIC mode whose xAPIC ID is vcpu_id & 0xff. */
  truncated: Truncation[];
  /** The last rebuild's hotplug-hack finding: xAPIC-mode vCPUs also reachable by their 32-bit ID. */
  reachedBy32BitId: MapDecision | null;
  /** vCPU id -> indices into `physical` and `logical` (for O(1) hover look-ups). */
  byVcpu: Map<number, { physical: number[]; logical: number[] }>;
}

export interface ConflictInput {
  vcpus: readonly FinalVcpu[];
  map: FinalState['map'];
}

const hwEnabled = (v: FinalVcpu) => v.mode === 'xapic' || v.mode === 'x2apic';
const num = (hex: string) => Number.parseInt(hex, 16) >>> 0;

/** The physical APIC ID a hardware-enabled vCPU answers to architecturally. */
export function physicalIdOf(v: FinalVcpu): number {
  return v.mode === 'x2apic' ? v.x2apicId : v.xapicId;
}

/** The xAPIC logical model a software-enabled xAPIC with a non-zero LDR is in (by its DFR), or null. */
function xapicLogicalModel(v: FinalVcpu): XapicLogicalMode | null {
  if (v.mode !== 'xapic' || !v.swEnabled || num(v.ldr) === 0) return null;
  return num(v.dfr) === 0xffffffff ? 'XAPIC_FLAT' : 'XAPIC_CLUSTER';
}

/** A Fixed IPI to `destId` (vector 0x20, edge); the group's first vCPU sends it, so the route names no other vCPU. */
export const fixedIpi = (destId: number, logical: boolean): LapicIrq => ({
  vector: 0x20, deliveryMode: DM_FIXED, logical, level: true, trigLevel: false, shorthand: 0, destId, msiRedirHint: false,
});

/** The findings that sent a route to the slow path: the physical alias that removed the map, or what disabled its logical part. */
function slowPathCauses(route: RouteDecision | null): MapDecision[] {
  if (route?.code === 'NO_MAP') return (route.mapWhy ?? []).filter((d) => d.code === 'PHYS_ID_ALIASED');
  if (route?.code === 'MAP_DISABLED') return (route.mapWhy ?? []).filter((d) => d.kvm === 'kvm_recalculate_logical_map');
  return [];
}

/** Tells findings apart across copies (the snapshot's and a route's). */
const findingKey = (d: MapDecision) => `${d.code}:${d.vcpus.join(',')}`;

/** The route's slow-path causes that are not among a group's own findings. */
function otherCauses(own: MapDecision[], route: RouteDecision | null): MapDecision[] {
  const seen = new Set(own.map(findingKey));
  return slowPathCauses(route).filter((d) => !seen.has(findingKey(d)));
}

const PHYS_CODES = new Set<MapDecision['code']>(['PHYS_ID_ALIASED', 'HOTPLUG_FIRST_WINS']);
const VCPU_CODES = new Set<MapDecision['code']>(['VCPU_NOT_ONLINE', 'XAPIC_ID_MISMATCH']);
const LOGICAL_PAIR_CODES = new Set<MapDecision['code']>(['LOGICAL_ID_ALIASED', 'LOGICAL_SLOT_OVERWRITTEN']);

/** Every aliased physical and logical ID with KVM's route to it, the logical map's other findings, and truncated xAPIC IDs. */
export function findConflicts(s: ConflictInput, preview: PreviewRoute): ConflictReport {
  const mapWhy = s.map.why ?? [];
  const reachedOf = (route: RouteDecision | null, vcpus: number[]) => {
    const selected = new Set(route?.vcpus);
    return vcpus.filter((v) => selected.has(v));
  };

  // Physical: group hardware-enabled vCPUs by the ID they answer to (creation order kept).
  const byPhys = new Map<number, { vcpu: number; mode: ApicMode }[]>();
  const truncated: Truncation[] = [];
  for (const v of s.vcpus) {
    if (!hwEnabled(v)) continue;
    const id = physicalIdOf(v);
    let g = byPhys.get(id);
    if (!g) byPhys.set(id, (g = []));
    g.push({ vcpu: v.vcpu, mode: v.mode as ApicMode });
    if (v.mode === 'xapic' && v.vcpu > 0xff && v.xapicId === (v.vcpu & 0xff)) truncated.push({ vcpu: v.vcpu, xapicId: v.xapicId });
  }
  const physical: PhysicalConflict[] = [];
  for (const [apicId, members] of [...byPhys].sort((a, b) => a[0] - b[0])) {
    if (members.length < 2) continue;
    const ids = members.map((m) => m.vcpu);
    const inGroup = new Set(ids);
    const own = mapWhy.filter((d) => (PHYS_CODES.has(d.code) ? d.physId === apicId : VCPU_CODES.has(d.code) && d.vcpus.some((v) => inGroup.has(v))));
    // The route is asked of the core when a row shows it: a big aliased VM has hundreds of shared
    // IDs, each a slow-path search over every vCPU, and a panel lists a few dozen.
    let routed: RouteDecision | null | undefined;
    const route = () => (routed === undefined ? (routed = preview(ids[0], fixedIpi(apicId, false))) : routed);
    physical.push({
      kind: 'physical', apicId, members, why: own,
      get route() { return route(); },
      get reached() { return reachedOf(route(), ids); },
      get routeWhy() { return otherCauses(own, route()); },
    });
  }

  // Logical: software-enabled xAPICs with a non-zero LDR, grouped by model, cluster and bit.
  const byBit = new Map<string, { mode: XapicLogicalMode; cluster: number | null; bit: number; vcpus: number[] }>();
  for (const v of s.vcpus) {
    const mode = xapicLogicalModel(v);
    if (!mode) continue;
    const id8 = num(v.ldr) >>> 24;
    const cluster = mode === 'XAPIC_CLUSTER' ? (id8 >>> 4) & 0xf : null;
    const mask = mode === 'XAPIC_FLAT' ? id8 : id8 & 0xf;
    for (let bit = 0; bit < 8; bit++) {
      if (!(mask & (1 << bit))) continue;
      const key = `${mode}/${cluster}/${bit}`;
      let g = byBit.get(key);
      if (!g) byBit.set(key, (g = { mode, cluster, bit, vcpus: [] }));
      g.vcpus.push(v.vcpu);
    }
  }
  const attached = new Set<string>();
  const logical: LogicalConflict[] = [...byBit.values()]
    .filter((g) => g.vcpus.length > 1)
    .sort((a, b) => a.mode.localeCompare(b.mode) || (a.cluster ?? 0) - (b.cluster ?? 0) || a.bit - b.bit)
    .map((g) => {
      const logicalId = g.cluster === null ? 1 << g.bit : (g.cluster << 4) | (1 << g.bit);
      const inGroup = new Set(g.vcpus);
      const route = preview(g.vcpus[0], fixedIpi(logicalId, true));
      const own = mapWhy.filter((d) => LOGICAL_PAIR_CODES.has(d.code) && d.vcpus.every((v) => inGroup.has(v)));
      const routeWhy = otherCauses(own, route);
      [...own, ...routeWhy].forEach((d) => attached.add(findingKey(d)));
      return { kind: 'logical', ...g, logicalId, route, reached: reachedOf(route, g.vcpus), why: own, routeWhy };
    });
  const logicalNotes = mapWhy.filter((d) => (d.kvm === 'kvm_recalculate_logical_map' || LOGICAL_PAIR_CODES.has(d.code) || d.code === 'LOGICAL_MODES_MIXED') && !attached.has(findingKey(d)));

  const byVcpu = new Map<number, { physical: number[]; logical: number[] }>();
  const entry = (v: number) => {
    let e = byVcpu.get(v);
    if (!e) byVcpu.set(v, (e = { physical: [], logical: [] }));
    return e;
  };
  physical.forEach((c, i) => c.members.forEach((m) => entry(m.vcpu).physical.push(i)));
  logical.forEach((c, i) => c.vcpus.forEach((v) => entry(v).logical.push(i)));

  const reachedBy32BitId = mapWhy.find((d) => d.code === 'HOTPLUG_X2APIC_ID') ?? null;
  return { physical, logical, logicalNotes, truncated, reachedBy32BitId, byVcpu };
}

/** The string "0x01" for a logical ID. */
export const hex8 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
