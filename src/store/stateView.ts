/**
 * What the store shows of a VM, and what a step changed in it (its change set).
 *
 * The view is the result document's final state plus each vCPU's raw register page. After a step,
 * nextView() rebuilds only the vCPUs the step could have changed (the one it names and those the
 * core touched: interrupts accepted, timers counting) and compares them with what was shown, so the
 * work grows with what changed, not with the VM. Everything unchanged keeps its object, so a panel
 * subscribed to one vCPU (by id, through `index`) is not even asked to re-render.
 */
import { SLOT_OFFSETS } from '../core/apicdef';
import type { Lapic } from '../core/lapic';
import type { Vm } from '../core/vm';
import type { Step } from '../scenario/schema';
import { finalMap, finalState, finalVcpu, finalVmState, type FinalMap, type FinalState, type FinalVcpu } from '../scenario/result';

/** What one step (or one jump through time) changed in the view, exactly: nothing more, nothing less. */
export interface ChangeSet {
  /** vCPUs whose reported state or register page changed (created ones included), in creation order. */
  vcpus: number[];
  /** vCPUs the step created. */
  added: number[];
  /** Register slots (offsets) that changed, by vCPU id; only vCPUs with a changed slot. */
  slots: ReadonlyMap<number, ReadonlySet<number>>;
  /** APIC IDs whose physical map entry changed (another vCPU, or none where there was one). */
  physIds: number[];
  /**
   * A vCPU's addressing changed (what interrupts find it by: mode, APIC IDs, LDR, DFR, software
   * enable, APICBASE), or vCPUs were created: views derived from every vCPU's IDs (the map panel,
   * the alias conflicts) need redoing only then.
   */
  addressing: boolean;
  /** Anything in the map changed: an entry, presence, logical mode or tables, max ID, the reasons. */
  map: boolean;
  /** The set inhibits or what set them. */
  inhibits: boolean;
  /** The guest clock. */
  clock: boolean;
  /** The VM's flags: X2APIC_API caps, APICv active, the APIC-access page. */
  vm: boolean;
}

export interface StateView {
  snapshot: FinalState;
  /** Each vCPU's register page (a copy, 256 words), by vCPU id. */
  regs: ReadonlyMap<number, Uint32Array>;
  /** Where each vCPU id is in snapshot.vcpus. */
  index: ReadonlyMap<number, number>;
  /** The core's map and its findings as this view shows them (to tell a rebuild). */
  mapSource: MapSource;
  /** Changes, to a number never used before, whenever any vCPU's addressing changes (ChangeSet.addressing). */
  addressingVersion: number;
  /** When the next APIC timer of any vCPU fires (ns on the VM clock; the core's Vm.nextTimerExpiry()), or null. */
  nextTimerExpiryNs: number | null;
}

/** The fields of a vCPU's reported state that say how interrupts find it. */
export const ADDRESSING_FIELDS = ['apicBase', 'mode', 'swEnabled', 'xapicId', 'x2apicId', 'ldr', 'dfr'] as const satisfies readonly (keyof FinalVcpu)[];
const sameAddressing = (a: FinalVcpu, b: FinalVcpu) => ADDRESSING_FIELDS.every((k) => a[k] === b[k]);
let versions = 0;

/** What the map's part of the view is made from: the core's map, its findings, and the ID format its words use. */
interface MapSource {
  map: Vm['apicMap'];
  why: Vm['mapWhy'];
  x2apicFormat: boolean;
}
const mapSourceOf = (vm: Vm): MapSource => ({ map: vm.apicMap, why: vm.mapWhy, x2apicFormat: vm.x2apicFormat });

export const NO_CHANGES: ChangeSet = { vcpus: [], added: [], slots: new Map(), physIds: [], addressing: false, map: false, inhibits: false, clock: false, vm: false };

/** The whole view of `vm`, built from scratch. */
export function fullView(vm: Vm): StateView {
  return {
    snapshot: finalState(vm),
    regs: new Map(vm.vcpus.map((v) => [v.id, v.apic.image()])),
    index: new Map(vm.vcpus.map((v, i) => [v.id, i])),
    mapSource: mapSourceOf(vm),
    addressingVersion: ++versions,
    nextTimerExpiryNs: vm.nextTimerExpiry(),
  };
}

/**
 * The view of `vm` after a step, from the view before it: `candidates` are the ids of the vCPUs the
 * step may have changed (a superset is fine: each is compared with what was shown).
 */
export function nextView(prev: StateView, vm: Vm, candidates: Iterable<number>): { view: StateView; changes: ChangeSet } {
  const old = prev.snapshot;
  const ids = new Set(candidates);
  const added: number[] = [];
  let index = prev.index;
  if (vm.vcpus.length !== old.vcpus.length) {
    index = new Map(vm.vcpus.map((v, i) => [v.id, i]));
    for (const v of vm.vcpus) if (!prev.index.has(v.id)) (added.push(v.id), ids.add(v.id));
  }

  let vcpus = old.vcpus;
  let regs = prev.regs;
  const changedIds: number[] = [];
  const slots = new Map<number, Set<number>>();
  let addressing = added.length > 0;
  for (const id of ids) {
    const i = index.get(id);
    if (i === undefined) continue;
    const v = vm.vcpus[i];
    const before = prev.regs.get(id);
    const changedSlots = slotsChanged(before, v.apic);
    const f = finalVcpu(v);
    const same = i < old.vcpus.length && old.vcpus[i].vcpu === id && sameJson(old.vcpus[i], f);
    if (same && !changedSlots) continue;
    if (vcpus === old.vcpus) vcpus = old.vcpus.slice();
    if (!same) {
      if (i < old.vcpus.length && !sameAddressing(old.vcpus[i], f)) addressing = true;
      vcpus[i] = f;
    }
    if (changedSlots) {
      if (regs === prev.regs) regs = new Map(prev.regs);
      (regs as Map<number, Uint32Array>).set(id, v.apic.image());
      slots.set(id, changedSlots);
    }
    changedIds.push(id);
  }
  changedIds.sort((a, b) => index.get(a)! - index.get(b)!);

  // The next expiry moves only if a changed vCPU had or has a timer armed.
  const armed = (v: FinalVcpu | undefined) => v !== undefined && v.timer.nextExpiryNs !== null;
  const timers = changedIds.some((id) => armed(vcpus[index.get(id)!]) || armed(old.vcpus[prev.index.get(id) ?? -1]));
  const nextTimerExpiryNs = timers ? vm.nextTimerExpiry() : prev.nextTimerExpiryNs;

  let map = old.map;
  let physIds: number[] = [];
  const mapSource = mapSourceOf(vm);
  const was = prev.mapSource;
  if (mapSource.map !== was.map || mapSource.why !== was.why || mapSource.x2apicFormat !== was.x2apicFormat) {
    const m = finalMap(vm);
    if (!sameJson(m, old.map)) {
      physIds = physDiff(old.map, m);
      map = m;
    }
  }

  const state = finalVmState(vm);
  const clock = state.clockNs !== old.clockNs;
  const inhibits = !sameJson([state.inhibits, state.inhibitCauses, state.inhibitWhy], [old.inhibits, old.inhibitCauses, old.inhibitWhy]);
  const vmFlags = !sameJson([state.caps, state.apicvActive, state.apicAccessPage], [old.caps, old.apicvActive, old.apicAccessPage]);
  const snapshot: FinalState = {
    clockNs: state.clockNs,
    vcpus,
    map,
    inhibits: inhibits ? state.inhibits : old.inhibits,
    apicvActive: state.apicvActive,
    apicAccessPage: state.apicAccessPage,
    inhibitCauses: inhibits ? state.inhibitCauses : old.inhibitCauses,
    inhibitWhy: inhibits ? state.inhibitWhy : old.inhibitWhy,
    caps: vmFlags ? state.caps : old.caps,
  };
  return {
    view: { snapshot, regs, index, mapSource, addressingVersion: addressing ? ++versions : prev.addressingVersion, nextTimerExpiryNs },
    changes: { vcpus: changedIds, added, slots, physIds, addressing, map: map !== old.map, inhibits, clock, vm: vmFlags },
  };
}

/** The 16-byte register slots whose words differ (all of them when there was no page before), or null. */
function slotsChanged(before: Uint32Array | undefined, after: Lapic): Set<number> | null {
  let out: Set<number> | null = null;
  for (const off of SLOT_OFFSETS) {
    const w = off >> 2;
    if (before && before[w] === after.getReg(off) && before[w + 1] === after.getReg(off + 4) && before[w + 2] === after.getReg(off + 8) && before[w + 3] === after.getReg(off + 12)) continue;
    (out ??= new Set()).add(off);
  }
  return out;
}

/** APIC IDs whose physical map entry differs between two maps. */
function physDiff(a: FinalMap, b: FinalMap): number[] {
  const pa = a.phys ?? {};
  const pb = b.phys ?? {};
  const keys = new Set([...Object.keys(pa), ...Object.keys(pb)]);
  return [...keys].filter((k) => pa[k] !== pb[k]).map(Number).sort((x, y) => x - y);
}

/** Deep equality of JSON-like values (objects, arrays, strings, numbers, booleans, null). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** The vCPUs a step may have changed: the one it names and those the core touched meanwhile. */
export function touchedBy(vm: Vm, step: Step): number[] {
  const ids = vm.takeTouched().map((v) => v.id);
  if ('vcpu' in step && typeof step.vcpu === 'number') ids.push(step.vcpu);
  return ids;
}
