/**
 * Alias conflicts, computed from the snapshot: physical APIC IDs and logical IDs that more than
 * one vCPU answers to, what KVM does about each under the current settings, and what the
 * architecture says. Pure: no store, no React.
 *
 * KVM's side follows lapic.c kvm_recalculate_phys_map() / kvm_recalculate_logical_map() (v6.6+;
 * before 6.3 the single-loop rebuild: hotplug hack always on, aliases resolved by vCPU order,
 * later vCPUs overwriting logical slots, no aliasing inhibits) and the delivery paths kvm_apic_map_get_dest_lapic() (fast) and kvm_apic_match_physical_addr()
 * / kvm_apic_match_logical_addr() (slow). It reads the optimized map the snapshot carries rather
 * than re-deriving it, so a map that was not rebuilt yet (a vCPU just created) shows what KVM
 * would really do now.
 */
import { KvmProfile } from '../../core/profile';
import type { FinalMap, FinalState, FinalVcpu } from '../../scenario/result';

export type ApicMode = 'xapic' | 'x2apic';
export type XapicLogicalMode = 'XAPIC_FLAT' | 'XAPIC_CLUSTER';
export type LogicalModeName = XapicLogicalMode | 'X2APIC';

/** What KVM does with an interrupt sent to the shared ID, right now. */
export interface KvmPick {
  path: 'fast' | 'slow';
  /** The vCPUs that match (and so receive, if they accept the delivery mode). */
  receivers: number[];
  /** A few words: "first vCPU wins", "all receive"... */
  verdict: string;
  /** One sentence: why. */
  why: string;
  /** The KVM function that decides. */
  fn: string;
}

export interface PhysicalConflict {
  kind: 'physical';
  apicId: number;
  /** The vCPUs that claim the ID, in creation order, with the mode that makes them claim it. */
  members: { vcpu: number; mode: ApicMode }[];
  kvm: KvmPick;
  hardware: string;
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
  kvm: KvmPick;
  hardware: string;
}

export interface MultiBitLdr {
  vcpu: number;
  mode: XapicLogicalMode;
  /** LDR bits 31:24. */
  logicalId: number;
}

export interface MixedLogicalModes {
  /** The logical modes of the counted vCPUs, each with its vCPUs (creation order). */
  modes: { mode: LogicalModeName; vcpus: number[] }[];
}

export interface Truncation {
  vcpu: number;
  xapicId: number;
}

export interface ConflictReport {
  physical: PhysicalConflict[];
  logical: LogicalConflict[];
  multiBit: MultiBitLdr[];
  mixed: MixedLogicalModes | null;
  /** vCPUs above 255 in xAPIC mode whose xAPIC ID is vcpu_id & 0xff. */
  truncated: Truncation[];
  /** The release has the v6.3 rebuild (aliases remove the map / disable the logical map). */
  modern: boolean;
  /** What KVM does for physical aliases in general, in one sentence (the panel's header line). */
  physicalPolicy: string;
  /** Same for the logical map. */
  logicalPolicy: string;
  /** vCPU id -> indices into `physical` and `logical` (for O(1) hover look-ups). */
  byVcpu: Map<number, { physical: number[]; logical: number[] }>;
}

export type ConflictInput = Pick<FinalState, 'vcpus' | 'map' | 'caps'>;

export interface ConflictOptions {
  /** The KVM release ("current" or "X.Y"): before 6.3 aliases never removed the map. */
  release?: string;
}

/** Does this release have the v6.3 map rebuild (architectural aliasing, inhibits)? */
export function modernMap(release = 'current'): boolean {
  return new KvmProfile(release).hasNew('architecturalAliasing');
}

const hwEnabled = (v: FinalVcpu) => v.mode === 'xapic' || v.mode === 'x2apic';
const num = (hex: string) => Number.parseInt(hex, 16) >>> 0;

/** The physical APIC ID a hardware-enabled vCPU answers to architecturally. */
export function physicalIdOf(v: FinalVcpu): number {
  return v.mode === 'x2apic' ? v.x2apicId : v.xapicId;
}

/** The logical mode kvm_recalculate_logical_map() counts a vCPU under, or null if it does not count. */
export function logicalModeOf(v: FinalVcpu): LogicalModeName | null {
  if (!hwEnabled(v) || !v.swEnabled || num(v.ldr) === 0) return null;
  if (v.mode === 'x2apic') return 'X2APIC';
  return num(v.dfr) === 0xffffffff ? 'XAPIC_FLAT' : 'XAPIC_CLUSTER';
}

export function listVcpus(ids: readonly number[]): string {
  if (ids.length === 0) return 'no vCPU';
  if (ids.length === 1) return `vCPU ${ids[0]}`;
  if (ids.length <= 4) return `vCPUs ${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`;
  return `vCPUs ${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`;
}

const physHolder = (map: FinalMap, id: number): number | undefined => map.phys?.[String(id)];

function physicalPick(s: ConflictInput, apicId: number, members: { vcpu: number; mode: ApicMode }[], modern: boolean): KvmPick {
  const ids = members.map((m) => m.vcpu);
  if (!s.map.present) {
    return {
      path: 'slow',
      receivers: ids,
      verdict: ids.length === 2 ? 'both receive' : `all ${ids.length} receive`,
      why: `No optimized map (${s.map.reasons?.[0] ?? 'aliased physical IDs'}), so every interrupt takes the slow path, which matches each vCPU one by one: ${listVcpus(ids)} receive destination ${apicId}.`,
      fn: 'kvm_apic_match_physical_addr',
    };
  }
  const holder = physHolder(s.map, apicId);
  if (holder === undefined) {
    return {
      path: 'fast',
      receivers: [],
      verdict: 'nobody receives',
      why: `phys_map[${apicId}] is empty (the map predates these vCPUs), so the fast path delivers to nobody.`,
      fn: 'kvm_apic_map_get_dest_lapic',
    };
  }
  const holderMember = members.find((m) => m.vcpu === holder);
  const others = ids.filter((id) => id !== holder);
  if (!s.caps.x2apicFormat && modern) {
    return {
      path: 'fast',
      receivers: [holder],
      verdict: `only vCPU ${holder} (stale map)`,
      why: `The map was not rebuilt since ${listVcpus(others)} appeared (KVM_CREATE_VCPU rebuilds it before the vCPU is online): phys_map[${apicId}] = vCPU ${holder}, fast path. The next rebuild finds the alias, drops the map and sets PHYSICAL_ID_ALIASED.`,
      fn: 'kvm_apic_map_get_dest_lapic',
    };
  }
  if (holderMember?.mode === 'x2apic') {
    return {
      path: 'fast',
      receivers: [holder],
      verdict: `only vCPU ${holder} (x2APIC wins)`,
      why: `${modern ? 'With 32-bit IDs' : 'Before 6.3 (hotplug hack always on)'} an x2APIC-mode vCPU always writes its own slot, so phys_map[${apicId}] = vCPU ${holder}; ${listVcpus(others)} get nothing on the fast path.`,
      fn: modern ? 'kvm_recalculate_phys_map' : 'kvm_recalculate_apic_map',
    };
  }
  const first = ids[0] === holder;
  return {
    path: 'fast',
    receivers: [holder],
    verdict: first ? `only vCPU ${holder} (first vCPU wins)` : `only vCPU ${holder}`,
    why: `${modern ? 'KVM_X2APIC_API_USE_32BIT_IDS turns on the hotplug hack' : 'Before 6.3 the hotplug hack is always on and aliases are resolved silently by vCPU order, with no inhibit'}: phys_map[${apicId}] keeps the first vCPU that claimed it (vCPU ${holder}, earliest created), so only it receives; ${listVcpus(others)} ${others.length === 1 ? 'is' : 'are'} reachable only by ${others.length === 1 ? 'its' : 'their'} 32-bit ID.`,
    fn: modern ? 'kvm_recalculate_phys_map' : 'kvm_recalculate_apic_map',
  };
}

function logicalPick(s: ConflictInput, mode: XapicLogicalMode, cluster: number | null, bit: number, vcpus: number[], modern: boolean): KvmPick {
  const all = vcpus.length === 2 ? 'both receive' : `all ${vcpus.length} receive`;
  if (!s.map.present) {
    return {
      path: 'slow', receivers: vcpus, verdict: all,
      why: `No optimized map: logical interrupts take the slow path, which matches each vCPU one by one: ${listVcpus(vcpus)} receive.`,
      fn: 'kvm_apic_match_logical_addr',
    };
  }
  if (s.map.logicalMode === 'MAP_DISABLED') {
    return {
      path: 'slow', receivers: vcpus, verdict: all,
      why: `The logical map is disabled (MAP_DISABLED; LOGICAL_ID_ALIASED on AMD), so logical interrupts take the slow path and every matching vCPU receives.`,
      fn: 'kvm_apic_match_logical_addr',
    };
  }
  const slots = mode === 'XAPIC_FLAT' ? s.map.flat : s.map.cluster?.[String(cluster ?? 0)];
  const holder = slots?.[bit] ?? null;
  if (!modern) {
    const others = vcpus.filter((v) => v !== holder);
    return {
      path: 'fast',
      receivers: holder === null ? [] : [holder],
      verdict: holder === null ? 'nobody' : `only vCPU ${holder} (last vCPU wins)`,
      why: `Before 6.3 each vCPU overwrites its logical slot: the ${mode === 'XAPIC_FLAT' ? 'flat' : `cluster ${cluster}`} slot ${bit} holds ${holder === null ? 'nobody' : `vCPU ${holder}`}, so the fast path never reaches ${listVcpus(others)}.`,
      fn: 'kvm_apic_map_get_logical_dest',
    };
  }
  return {
    path: 'fast',
    receivers: holder === null ? [] : [holder],
    verdict: holder === null ? 'nobody (stale map)' : `only vCPU ${holder} (stale map)`,
    why: `The map was not rebuilt since the collision appeared: the ${mode === 'XAPIC_FLAT' ? 'flat' : `cluster ${cluster}`} slot ${bit} holds ${holder === null ? 'nobody' : `vCPU ${holder}`}.`,
    fn: 'kvm_apic_map_get_logical_dest',
  };
}

/** Every aliased physical and logical ID, multi-bit LDRs, mixed logical modes and truncated xAPIC IDs. */
export function findConflicts(s: ConflictInput, opts: ConflictOptions = {}): ConflictReport {
  const modern = modernMap(opts.release);
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
    physical.push({
      kind: 'physical',
      apicId,
      members,
      kvm: physicalPick(s, apicId, members, modern),
      hardware: `Every APIC whose ID is ${apicId} accepts the message on its own: ${listVcpus(members.map((m) => m.vcpu))} would ${members.length === 2 ? 'both' : 'all'} receive it.`,
    });
  }

  // Logical: only software-enabled APICs with a non-zero LDR count (kvm_recalculate_logical_map).
  const modes = new Map<LogicalModeName, number[]>();
  const byBit = new Map<string, { mode: XapicLogicalMode; cluster: number | null; bit: number; vcpus: number[] }>();
  const multiBit: MultiBitLdr[] = [];
  for (const v of s.vcpus) {
    const mode = logicalModeOf(v);
    if (!mode) continue;
    let m = modes.get(mode);
    if (!m) modes.set(mode, (m = []));
    m.push(v.vcpu);
    if (mode === 'X2APIC') continue; // derived from the vCPU id: never aliased
    const id8 = num(v.ldr) >>> 24;
    const cluster = mode === 'XAPIC_CLUSTER' ? (id8 >>> 4) & 0xf : null;
    const mask = mode === 'XAPIC_FLAT' ? id8 : id8 & 0xf;
    if (mask & (mask - 1)) multiBit.push({ vcpu: v.vcpu, mode, logicalId: id8 });
    for (let bit = 0; bit < 8; bit++) {
      if (!(mask & (1 << bit))) continue;
      const key = `${mode}/${cluster}/${bit}`;
      let g = byBit.get(key);
      if (!g) byBit.set(key, (g = { mode, cluster, bit, vcpus: [] }));
      g.vcpus.push(v.vcpu);
    }
  }
  const logical: LogicalConflict[] = [...byBit.values()]
    .filter((g) => g.vcpus.length > 1)
    .sort((a, b) => a.mode.localeCompare(b.mode) || (a.cluster ?? 0) - (b.cluster ?? 0) || a.bit - b.bit)
    .map((g) => ({
      kind: 'logical',
      ...g,
      logicalId: g.mode === 'XAPIC_FLAT' ? 1 << g.bit : ((g.cluster ?? 0) << 4) | (1 << g.bit),
      kvm: logicalPick(s, g.mode, g.cluster, g.bit, g.vcpus, modern),
      hardware:
        g.mode === 'XAPIC_FLAT'
          ? `In the flat model every APIC whose LDR has bit ${g.bit} set accepts a logical message that names it: ${listVcpus(g.vcpus)}.`
          : `In the cluster model every APIC of cluster ${g.cluster} with bit ${g.bit} set accepts it: ${listVcpus(g.vcpus)}.`,
    }));
  const mixed = modes.size > 1 ? { modes: [...modes].map(([mode, vcpus]) => ({ mode, vcpus })) } : null;

  const byVcpu = new Map<number, { physical: number[]; logical: number[] }>();
  const entry = (v: number) => {
    let e = byVcpu.get(v);
    if (!e) byVcpu.set(v, (e = { physical: [], logical: [] }));
    return e;
  };
  physical.forEach((c, i) => c.members.forEach((m) => entry(m.vcpu).physical.push(i)));
  logical.forEach((c, i) => c.vcpus.forEach((v) => entry(v).logical.push(i)));

  return {
    physical, logical, multiBit, mixed, truncated, byVcpu,
    modern,
    physicalPolicy: physicalPolicy(s, modern),
    logicalPolicy: logicalPolicy(s, mixed, multiBit, logical, modern),
  };
}

function physicalPolicy(s: ConflictInput, modern: boolean): string {
  if (!modern) return 'KVM before 6.3: hotplug hack always on, the first vCPU in each slot wins (fast path), no inhibit';
  if (!s.map.present) return 'no map (PHYSICAL_ID_ALIASED): slow path, every matching vCPU receives, as on hardware';
  if (s.caps.x2apicFormat) return '32-bit IDs: hotplug hack, the first vCPU in each slot wins (fast path)';
  return '32-bit IDs off: the next map rebuild drops the map (PHYSICAL_ID_ALIASED)';
}

function logicalPolicy(s: ConflictInput, mixed: MixedLogicalModes | null, multiBit: MultiBitLdr[], logical: LogicalConflict[], modern: boolean): string {
  if (!modern) {
    return mixed
      ? 'KVM before 6.3: mixed logical modes, logical lookups take the slow path'
      : 'KVM before 6.3: later vCPUs overwrite logical slots (fast path), no inhibit';
  }
  if (!s.map.present) return 'no map: logical interrupts take the slow path too';
  if (s.map.logicalMode === 'MAP_DISABLED') {
    const why = mixed ? 'mixed logical modes' : logical.length ? 'a shared logical ID' : multiBit.length ? 'a multi-bit logical ID' : 'a collision';
    return `MAP_DISABLED by ${why}: slow path, every matching vCPU receives (AMD: LOGICAL_ID_ALIASED)`;
  }
  return `logical map ${s.map.logicalMode ?? 'SW_DISABLED'}`;
}

/** The string "0x01" for a logical ID. */
export const hex8 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
