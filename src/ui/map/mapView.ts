/**
 * Pure view model of the optimized APIC map panel: what every physical slot holds, the logical
 * tables in words, the absent map's reason and the last IPI's route, all computed from the
 * store's snapshot (the apic-result/1 final state) and the step at the cursor. No DOM here.
 * Why KVM did something comes from the decisions the core recorded (the map rebuild's findings,
 * the route and accept decisions of a delivery), never from result or trace text.
 *
 * Semantics follow src/core/apicMap.ts (kvm_recalculate_apic_map): the physical table maps an
 * APIC ID to a vCPU; with aliased physical IDs and 32-bit IDs off there is no map at all.
 */
import type { AcceptDecision, MapDecision, RouteDecision } from '../../core/decisions';
import { explain } from '../../explain/explain';
import { field, type FinalMap, type FinalVcpu, type StepResult } from '../../scenario/result';

export type SlotState = 'empty' | 'xapic' | 'x2apic' | 'alias' | 'conflict' | 'missing';

/** Density-view codes, index = Uint8Array value. */
export const SLOT_STATES: readonly SlotState[] = ['empty', 'xapic', 'x2apic', 'alias', 'conflict', 'missing'];

export const STATE_WORDS: Record<SlotState, string> = {
  empty: 'empty',
  xapic: 'xAPIC vCPU',
  x2apic: 'x2APIC vCPU',
  alias: 'aliased / hotplug',
  conflict: 'shared ID (no map)',
  missing: 'not in map yet',
};

export const MODE_WORDS: Record<string, string> = { disabled: 'disabled', invalid: 'invalid', xapic: 'xAPIC', x2apic: 'x2APIC' };

/** One physical slot (an APIC ID) and who holds or claims it. */
export interface SlotInfo {
  id: number;
  /** The vCPU in phys_map[id] (present map), or the only claimant (absent map); null if none. */
  vcpu: number | null;
  /** Every vCPU whose physical APIC ID is `id`, in creation order. */
  claims: number[];
  state: SlotState;
  /** The holder's APIC mode ('xapic' | 'x2apic' | ...), or null. */
  mode: string | null;
  /** One line in words. */
  note: string;
}

export interface NotInMap {
  vcpu: number;
  why: string;
  decision?: MapDecision;
}

export interface SlotModel {
  present: boolean;
  /** Slots 0..size-1 are drawn in the density view. */
  size: number;
  /** Occupied or claimed slots, by ascending APIC ID. */
  slots: SlotInfo[];
  byId: ReadonlyMap<number, SlotInfo>;
  /** The physical slots each vCPU occupies (or claims, when the map is absent). */
  vcpuSlots: ReadonlyMap<number, number[]>;
  counts: Record<SlotState, number>;
  /** vCPUs the map does not reach, with why (the rebuild's decision, when it recorded one). */
  notInMap: NotInMap[];
  notInMapByVcpu: ReadonlyMap<number, NotInMap>;
  /** Density arrays: state code (index into SLOT_STATES) and holder (-1: none) per slot. */
  states: Uint8Array;
  vcpuAt: Int32Array;
}

/** The physical IDs a vCPU answers to (kvm_apic_match_physical_addr / the map's placement). */
export function claimedIds(v: FinalVcpu, x2apicFormat: boolean): number[] {
  if (v.mode === 'x2apic') return [v.x2apicId];
  if (v.mode !== 'xapic') return [];
  // The hotplug hack: with 32-bit IDs an xAPIC vCPU above 0xff is also reachable by its x2APIC ID.
  if (x2apicFormat && v.x2apicId > 0xff) return [v.x2apicId, v.xapicId];
  return [v.xapicId];
}

function stateFor(id: number, v: FinalVcpu): SlotState {
  if (v.mode === 'x2apic') return 'x2apic';
  return id === v.vcpu && id <= 0xff ? 'xapic' : 'alias';
}

function noteFor(id: number, v: FinalVcpu, findings: readonly MapDecision[]): string {
  if (v.mode === 'x2apic') return `x2APIC ID ${id} of vCPU ${v.vcpu}`;
  if (id > 0xff) {
    const hack = findings.find((d) => d.code === 'HOTPLUG_X2APIC_ID' && d.vcpus.includes(v.vcpu));
    return hack ? `APIC ID ${id}: ${explain(hack)}` : `xAPIC vCPU ${v.vcpu} reachable by its x2APIC ID ${id}`;
  }
  if (id !== v.vcpu) return `xAPIC ID ${id} of vCPU ${v.vcpu} (not its vcpu_id: aliased)`;
  return `xAPIC ID ${id} of vCPU ${v.vcpu}`;
}

/** Every physical slot of the map (or, with no map, every physical ID the vCPUs claim). */
export function buildSlots(map: FinalMap, vcpus: readonly FinalVcpu[], x2apicFormat: boolean): SlotModel {
  const findings = rebuildFindings(map);
  const now = { x2apicFormat };
  /** A finding that gave slot `id` to its first vCPU over the others (the holder first). */
  const slotWonAt = (d: MapDecision) => d.code === 'HOTPLUG_FIRST_WINS' || d.code === 'HOTPLUG_X2APIC_WINS';
  /** The rebuild's decision that keeps `vcpu` out of phys_map: missing until the next rebuild, or an alias's loser. */
  const keptOut = (vcpu: number) =>
    findings.find((d) => (d.code === 'VCPU_NOT_ONLINE' && d.vcpus[0] === vcpu) || (slotWonAt(d) && d.vcpus.slice(1).includes(vcpu)));
  const byVcpu = new Map(vcpus.map((v) => [v.vcpu, v]));
  const claims = new Map<number, number[]>();
  for (const v of vcpus) {
    for (const id of claimedIds(v, x2apicFormat)) {
      const c = claims.get(id);
      if (c) {
        if (!c.includes(v.vcpu)) c.push(v.vcpu);
      } else claims.set(id, [v.vcpu]);
    }
  }
  const byId = new Map<number, SlotInfo>();
  const vcpuSlots = new Map<number, number[]>();
  const place = (id: number, vcpu: number) => {
    const s = vcpuSlots.get(vcpu);
    if (s) s.push(id);
    else vcpuSlots.set(vcpu, [id]);
  };
  const notInMap: NotInMap[] = [];

  if (map.present) {
    for (const [key, vcpu] of Object.entries(map.phys ?? {})) {
      const id = Number(key);
      const v = byVcpu.get(vcpu);
      const c = claims.get(id) ?? [vcpu];
      const others = c.filter((x) => x !== vcpu);
      const base: SlotInfo = v
        ? { id, vcpu, claims: c.includes(vcpu) ? c : [vcpu, ...c], state: stateFor(id, v), mode: v.mode, note: noteFor(id, v, findings) }
        : { id, vcpu, claims: [vcpu], state: 'alias', mode: null, note: `vCPU ${vcpu}` };
      if (others.length) {
        const won = findings.find((d) => slotWonAt(d) && d.physId === id);
        base.state = 'alias';
        base.note += `; ${won ? explain(won, 'short', now) : `also claimed by vCPU ${others.join(', ')}`}`;
      }
      byId.set(id, base);
      place(id, vcpu);
    }
    for (const v of vcpus) {
      if (vcpuSlots.has(v.vcpu)) continue;
      if (v.mode !== 'xapic' && v.mode !== 'x2apic') {
        notInMap.push({ vcpu: v.vcpu, why: `APIC ${MODE_WORDS[v.mode] ?? v.mode}: not in the map` });
        continue;
      }
      const ids = claimedIds(v, x2apicFormat);
      const decision = keptOut(v.vcpu);
      const words = decision ? explain(decision, 'short', now) : 'not in phys_map';
      notInMap.push({ vcpu: v.vcpu, why: words, ...(decision ? { decision } : {}) });
      const held = ids.map((id) => byId.get(id)).find((s) => s && s.vcpu !== v.vcpu);
      if (held) continue;
      for (const id of ids) {
        byId.set(id, { id, vcpu: v.vcpu, claims: [v.vcpu], state: 'missing', mode: v.mode, note: `vCPU ${v.vcpu} answers to APIC ID ${id} but is not in phys_map: ${words}` });
      }
    }
  } else {
    for (const [id, c] of claims) {
      const first = byVcpu.get(c[0])!;
      const info: SlotInfo =
        c.length > 1
          ? { id, vcpu: null, claims: c, state: 'conflict', mode: first.mode, note: `vCPUs ${c.join(', ')} share physical APIC ID ${id}` }
          : { id, vcpu: c[0], claims: c, state: stateFor(id, first), mode: first.mode, note: noteFor(id, first, findings) + ' (no map: slow path)' };
      byId.set(id, info);
      for (const x of c) place(id, x);
    }
    for (const v of vcpus) if (!vcpuSlots.has(v.vcpu)) notInMap.push({ vcpu: v.vcpu, why: `APIC ${MODE_WORDS[v.mode] ?? v.mode}` });
  }

  const slots = [...byId.values()].sort((a, b) => a.id - b.id);
  const maxId = slots.length ? slots[slots.length - 1].id : 0;
  const size = Math.max(map.present ? (map.maxApicId ?? 255) : 255, maxId) + 1;
  const states = new Uint8Array(size);
  const vcpuAt = new Int32Array(size).fill(-1);
  const counts: Record<SlotState, number> = { empty: 0, xapic: 0, x2apic: 0, alias: 0, conflict: 0, missing: 0 };
  for (const s of slots) {
    states[s.id] = SLOT_STATES.indexOf(s.state);
    vcpuAt[s.id] = s.vcpu ?? s.claims[0] ?? -1;
    counts[s.state]++;
  }
  counts.empty = size - slots.length;
  for (const s of vcpuSlots.values()) s.sort((a, b) => a - b);
  const notInMapByVcpu = new Map(notInMap.map((x) => [x.vcpu, x]));
  return { present: map.present, size, slots, byId, vcpuSlots, counts, notInMap, notInMapByVcpu, states, vcpuAt };
}

/** The density view's hover readout for slot `id`: O(1). */
export function describeSlot(model: SlotModel, id: number): string {
  if (id < 0 || id >= model.size) return '';
  const s = model.byId.get(id);
  if (!s) return model.present ? `APIC ID ${id}: empty slot (phys_map[${id}] = NULL)` : `APIC ID ${id}: no vCPU answers to it`;
  if (s.state === 'conflict') return `APIC ID ${id}: shared by vCPUs ${s.claims.join(', ')}, so KVM has no map`;
  if (s.state === 'missing') return `APIC ID ${id}: ${s.note}`;
  return `APIC ID ${id} → vCPU ${s.vcpu} (${MODE_WORDS[s.mode ?? ''] ?? s.mode}): ${s.note}`;
}

/** Slots whose content differs between two models (for the rebuild fade-in). */
export function changedSlotIds(prev: SlotModel | null, next: SlotModel): Set<number> {
  const out = new Set<number>();
  if (!prev) return out;
  for (const s of next.slots) {
    const p = prev.byId.get(s.id);
    if (!p || p.state !== s.state || p.vcpu !== s.vcpu || p.mode !== s.mode || p.claims.join() !== s.claims.join()) out.add(s.id);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The logical part

export const LOGICAL_WORDS: Record<string, string> = {
  SW_DISABLED: 'no logical table: no software-enabled APIC has a logical ID (LDR), so logical IPIs reach nobody on the fast path',
  XAPIC_FLAT: 'xAPIC flat (APIC_DFR 0xffffffff): one table of 8 slots, LDR bit n → slot n',
  XAPIC_CLUSTER: 'xAPIC cluster (APIC_DFR 0x0fffffff): LDR[31:28] picks one of 16 clusters, LDR[27:24] one of its 4 slots',
  X2APIC: 'x2APIC: logical lookups reuse the physical table (cluster = ID >> 4, bit = ID & 0xf)',
  MAP_DISABLED: 'logical map disabled: every logical IPI takes the slow path',
};

export interface LogicalView {
  mode: string;
  words: string;
  /** XAPIC_FLAT: the 8 slots. */
  flat?: (number | null)[];
  /** XAPIC_CLUSTER: non-empty clusters. */
  clusters?: { cluster: number; slots: (number | null)[] }[];
}

export function logicalView(map: FinalMap): LogicalView | null {
  if (!map.present || !map.logicalMode) return null;
  const mode = map.logicalMode;
  const out: LogicalView = { mode, words: LOGICAL_WORDS[mode] ?? mode };
  if (mode === 'XAPIC_FLAT') out.flat = map.flat ?? new Array(8).fill(null);
  if (mode === 'XAPIC_CLUSTER') {
    out.clusters = Object.entries(map.cluster ?? {})
      .map(([k, slots]) => ({ cluster: Number(k), slots }))
      .sort((a, b) => a.cluster - b.cluster);
  }
  return out;
}

/** What the last map rebuild found (why the map is absent, aliases, missing vCPUs), as decisions. */
export function rebuildFindings(map: FinalMap): MapDecision[] {
  return map.why ?? [];
}

// ---------------------------------------------------------------------------------------------
// The last IPI's route

export interface RouteTarget {
  vcpu: number;
  accepted: boolean;
  /** Why a selected LAPIC did not take it (__apic_accept_irq); null when it did. */
  drop: AcceptDecision | null;
}

export interface RouteView {
  /** Step index and a short label of what sent it. */
  step: number;
  label: string;
  /** KVM's decision: the path, the vCPUs it selected and why. */
  decision: RouteDecision;
  /** The sending vCPU, or null for a device (MSI). */
  source: number | null;
  path: 'fast' | 'slow';
  /** Physical slots the fast path went through (or the targets' slots when it went logical xAPIC). */
  slots: number[];
  /** xAPIC logical table cells on the route. */
  logicalCells: { table: 'flat' | 'cluster'; cluster: number; bits: number[] } | null;
  /** The selected vCPUs (and any other a delivery of the step reached), each with what it did. */
  targets: RouteTarget[];
}

function stepLabel(step: Record<string, unknown>): string {
  const op = String(step.op);
  const vcpu = step.vcpu !== undefined ? ` on vCPU ${step.vcpu}` : '';
  if (op === 'wrmsr') {
    const msr = Number(step.msr);
    const name = msr === 0x830 ? ' (APIC_ICR)' : msr === 0x83f ? ' (SELF_IPI)' : '';
    return `wrmsr 0x${msr.toString(16)}${name}${vcpu}`;
  }
  if (op === 'mmio_write') {
    const off = step.offset !== undefined ? Number(step.offset) : null;
    return `mmio_write${off === 0x300 ? ' APIC_ICR' : off !== null ? ` 0x${off.toString(16).padStart(3, '0')}` : ''}${vcpu}`;
  }
  if (op === 'pv_send_ipi') return `KVM_HC_SEND_IPI (PV IPI)${vcpu}`;
  if (op === 'msi') return `KVM_SIGNAL_MSI address 0x${Number(step.addressLo).toString(16)}, data 0x${Number(step.data).toString(16)}`;
  return `${op}${vcpu}`;
}

/**
 * The route of the interrupts the step at the cursor sent, or null if it sent none: drawn from
 * the result's route decision, its deliveries and the accept decisions of the LAPICs that
 * dropped it. `step` is the scenario step object (for its label).
 */
export function routeOf(step: Record<string, unknown> | undefined, result: StepResult | undefined, model: SlotModel): RouteView | null {
  const decision = result && field(result, 'route');
  if (!step || !result || !decision) return null;
  const delivered = field(result, 'delivered') ?? [];
  const dropped = field(result, 'dropped') ?? [];
  const accepted = new Set(delivered.map((d) => d.vcpu));
  const drops = new Map(dropped.map((a) => [a.vcpus[0], a] as const));
  const ids = new Set([...decision.vcpus, ...accepted, ...drops.keys()]);
  const targets = [...ids].map((vcpu): RouteTarget => ({ vcpu, accepted: accepted.has(vcpu), drop: drops.get(vcpu) ?? null }));

  const firstSlot = (vcpu: number) => (model.vcpuSlots.get(vcpu) ?? []).slice(0, 1);
  let slots: number[] = [];
  let logicalCells: RouteView['logicalCells'] = null;
  const xapicTable = decision.logicalMode === 'XAPIC_FLAT' ? 'flat' : decision.logicalMode === 'XAPIC_CLUSTER' ? 'cluster' : null;
  if (decision.path === 'fast') {
    if (decision.physSlots) slots = decision.physSlots;
    else if (decision.logicalSlots && xapicTable) {
      logicalCells = { table: xapicTable, cluster: decision.cluster ?? 0, bits: decision.logicalSlots };
      slots = [...new Set(decision.vcpus.flatMap(firstSlot))].sort((a, b) => a - b);
    } else if (decision.code === 'SELF' && decision.source !== null) slots = firstSlot(decision.source);
  }
  return { step: result.i, label: stepLabel(step), decision, source: decision.source, path: decision.path, slots, logicalCells, targets };
}

/** "0, 1, 2 and 3", capped at `max` items ("… and 40 more"). */
export function listWords(items: readonly (string | number)[], max = 12): string {
  const xs = items.map(String);
  if (xs.length <= 1) return xs.join('');
  if (xs.length > max) return `${xs.slice(0, max).join(', ')} and ${xs.length - max} more`;
  return `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

export const hex = (n: number): string => '0x' + n.toString(16);
