/**
 * The optimized APIC map (struct kvm_apic_map) and its rebuild.
 *
 * Models lapic.c kvm_recalculate_apic_map(), kvm_recalculate_phys_map(),
 * kvm_recalculate_logical_map() and kvm_apic_map_get_logical_dest(), v6.6+ algorithm, including
 * the hotplug hack with KVM_X2APIC_API_USE_32BIT_IDS and the PHYSICAL_ID_ALIASED,
 * LOGICAL_ID_ALIASED and APIC_ID_MODIFIED inhibits it maintains.
 *
 * Inaccuracies: the rebuild is synchronous and single-threaded, so the dirty state never sits
 * in UPDATE_IN_PROGRESS and the -E2BIG retry never happens (so the v6.4/v6.6 race fixes change
 * nothing here). The pre-6.3 algorithm is apicMapLegacy.ts.
 */
import { APIC_DFR, APIC_DFR_FLAT, APIC_LDR } from './apicdef';
import type { MapDecision } from './decisions';
import type { VcpuId } from './types';
import type { Vcpu } from './vcpu';

export type LogicalMode = 'SW_DISABLED' | 'XAPIC_FLAT' | 'XAPIC_CLUSTER' | 'X2APIC' | 'MAP_DISABLED';

/**
 * struct kvm_apic_map. phys_map[] is dense, max_apic_id + 1 slots as KVM allocates it, so the
 * rebuild stores and the fast path reads a slot by index (a Map cost a hash per vCPU).
 */
export class ApicMap {
  logicalMode: LogicalMode = 'SW_DISABLED';
  /** phys_map[APIC ID] -> vCPU, or undefined for an empty slot. */
  readonly physMap: (Vcpu | undefined)[];
  private flatMap?: (Vcpu | undefined)[];
  private clusterMap?: (Vcpu | undefined)[][];
  /**
   * Built by the pre-6.3 algorithm, whose logical mode 0 (no software-enabled logical APIC) makes
   * logical lookups fall back to the slow path instead of delivering nowhere.
   */
  legacy?: boolean;
  /** The vCPU whose LDR set the logical mode (for naming the other side of mixed modes). */
  logicalModeSetBy?: VcpuId;
  private occupied?: ReadonlyMap<number, Vcpu>;

  /** `physMap`: empty slots for it (a failed rebuild's, emptied again), if there are some to reuse. */
  constructor(readonly maxApicId: number, physMap?: (Vcpu | undefined)[]) {
    // Left holey (a hole reads as undefined): filling it costs more than the rest of a rebuild,
    // and creating 4096 vCPUs rebuilds the map at each one (kvm_vcpu_reset).
    this.physMap = physMap ?? new Array(maxApicId + 1);
  }

  // The xAPIC logical tables are made on first use: a VM in x2APIC mode never reads them, and a
  // rebuild on every dirtying write would otherwise make seventeen arrays for nothing.

  /** xapic_flat_map[8]. */
  get flat(): (Vcpu | undefined)[] {
    return (this.flatMap ??= new Array(8).fill(undefined));
  }
  /** xapic_cluster_map[16][4]. */
  get cluster(): (Vcpu | undefined)[][] {
    return (this.clusterMap ??= Array.from({ length: 16 }, () => new Array(4).fill(undefined)));
  }

  /**
   * The occupied phys_map slots, APIC ID -> vCPU in ascending ID order: for readers that list
   * them (results, tests, the fuzzer). Made on first use; a built map never changes.
   */
  get phys(): ReadonlyMap<number, Vcpu> {
    if (!this.occupied) {
      const m = new Map<number, Vcpu>();
      this.physMap.forEach((v, id) => v && m.set(id, v));
      this.occupied = m;
    }
    return this.occupied;
  }
}

export interface MapRebuild {
  /** The new map, or null when aliased physical IDs (without 32-bit IDs) disabled it. */
  map: ApicMap | null;
  /** The first xAPIC-mode vCPU whose xAPIC ID is not (u8)vcpu_id (APIC_ID_MODIFIED); null if none. */
  xapicIdMismatch: MapDecision | null;
  /** What the rebuild found: why the map is absent or its logical part disabled, and the hotplug hack's choices. */
  why: MapDecision[];
}

/** kvm_recalculate_apic_map()'s first loop: max_apic_id is the largest enabled vcpu_id (kvm_x2apic_id), at least 255. */
export function countMaxApicId(vcpus: readonly Vcpu[]): number {
  let maxId = 255;
  for (const v of vcpus) if (v.hwEnabled && v.id > maxId) maxId = v.id;
  return maxId;
}

/** A new, empty map sized for the vCPUs (`maxApicId`: countMaxApicId(vcpus), if the caller knows it already). */
export function emptyApicMap(vcpus: readonly Vcpu[], maxApicId = countMaxApicId(vcpus)): ApicMap {
  return new ApicMap(maxApicId);
}

/** Collects the hotplug hack's choices: one decision per aliased ID, one for every vCPU reached by its 32-bit ID. */
export class HotplugChoices {
  private readonly firstWins = new Map<number, MapDecision>();
  private readonly byX2apicId: VcpuId[] = [];
  private readonly x2apicWins = new Map<number, MapDecision>();
  constructor(private readonly legacy: boolean) {}
  private lost(physId: number, holder: Vcpu, loser: Vcpu): void {
    const d = this.firstWins.get(physId);
    if (d) d.vcpus.push(loser.id);
    else this.firstWins.set(physId, { kind: 'map', code: 'HOTPLUG_FIRST_WINS', kvm: 'kvm_recalculate_phys_map', vcpus: [holder.id, loser.id], physId, x2apicFormat: !this.legacy, ...(this.legacy ? { legacy: true } : {}) });
  }
  /**
   * The hotplug hack's slots for one vCPU: phys_map[x2apic_id] in x2APIC mode or above 0xff
   * (up to `x2apicLimit`), and in xAPIC mode phys_map[xapic_id] if still empty (first wins).
   */
  place(map: ApicMap, v: Vcpu, x2apicLimit = Infinity): void {
    const apic = v.apic;
    if ((apic.x2apicMode || apic.x2apicId > 0xff) && apic.x2apicId <= x2apicLimit) {
      this.setX2apicSlot(map, apic.x2apicId, v);
      if (!apic.x2apicMode) this.byX2apicId.push(v.id);
    }
    if (apic.x2apicMode) return;
    const holder = map.physMap[apic.xapicId];
    if (!holder) map.physMap[apic.xapicId] = v;
    else if (holder !== v) this.lost(apic.xapicId, holder, v);
  }

  /** phys_map[x2apic_id] is set whoever held it: note the xAPIC-ID holder it displaces. */
  private setX2apicSlot(map: ApicMap, physId: number, v: Vcpu): void {
    const old = map.physMap[physId];
    map.physMap[physId] = v;
    if (!old || old === v) return;
    const d = this.x2apicWins.get(physId);
    if (d) d.vcpus.push(old.id);
    else this.x2apicWins.set(physId, { kind: 'map', code: 'HOTPLUG_X2APIC_WINS', kvm: 'kvm_recalculate_phys_map', vcpus: [v.id, old.id], physId, ...(this.legacy ? { legacy: true } : { x2apicFormat: true }) });
  }
  decisions(): MapDecision[] {
    const out = [...this.firstWins.values(), ...this.x2apicWins.values()];
    if (this.byX2apicId.length) out.push({ kind: 'map', code: 'HOTPLUG_X2APIC_ID', kvm: 'kvm_recalculate_phys_map', vcpus: this.byX2apicId, ...(this.legacy ? { legacy: true } : { x2apicFormat: true }) });
    return out;
  }
}

/**
 * The phys_map of the last rebuild that found aliased IDs, emptied again. KVM frees it; the model
 * keeps it for the next such rebuild, since creating 4096 vCPUs in xAPIC mode fails 3,840 rebuilds
 * in a row (each vCPU from 257 on joins an aliased map), and a new 32 kB array for each of them
 * made garbage collection most of the VM's creation. Nothing else ever holds it.
 */
let spareSlots: (Vcpu | undefined)[] | null = null;

/** kvm_recalculate_apic_map() without the locking: build the map from the vCPUs. */
export function buildApicMap(vcpus: readonly Vcpu[], x2apicFormat: boolean, maxApicId = countMaxApicId(vcpus)): MapRebuild {
  // Resized to this map: max_apic_id grows by one with each vCPU created above 255.
  const spare = spareSlots ?? undefined;
  spareSlots = null;
  if (spare) spare.length = maxApicId + 1;
  const map = new ApicMap(maxApicId, spare);
  const physMap = map.physMap;
  const why: MapDecision[] = [];
  // Only the hotplug hack (32-bit IDs) has choices to note.
  const hotplug = x2apicFormat ? new HotplugChoices(false) : null;
  let xapicIdMismatch: MapDecision | null = null;

  // The hot loop of a rebuild (once per vCPU on every dirtying write): plain reads and slot
  // stores; decisions are only made for what is wrong.
  for (const v of vcpus) {
    if (!v.hwEnabled) continue;
    // KVM's -E2BIG (an x2APIC ID grew during the rebuild: it retries with a bigger map) cannot
    // happen here; reaching it means the caller's max_apic_id was stale.
    if (v.id > map.maxApicId) throw new Error(`kvm_recalculate_phys_map: vCPU ${v.id} is above max_apic_id ${map.maxApicId}`);
    const x2apicMode = v.x2apicMode;
    // The register page is read only when needed: on a big VM it is most of the memory a rebuild touches.
    const xid = x2apicMode ? -1 : v.apic.xapicId;
    if (!x2apicMode && xid !== (v.id & 0xff)) {
      xapicIdMismatch ??= { kind: 'map', code: 'XAPIC_ID_MISMATCH', kvm: 'kvm_recalculate_phys_map', vcpus: [v.id], xapicId: xid };
    }

    if (hotplug) {
      hotplug.place(map, v);
    } else {
      const physId = x2apicMode ? v.id : xid; // kvm_x2apic_id() is the vcpu_id
      const holder = physMap[physId];
      if (holder) {
        // The half-built map is thrown away, with whatever its logical part had found; its
        // phys_map, emptied, is kept for the next rebuild that fails.
        emptySlotsBefore(physMap, vcpus, v);
        spareSlots = physMap;
        const alias: MapDecision = { kind: 'map', code: 'PHYS_ID_ALIASED', kvm: 'kvm_recalculate_phys_map', vcpus: [holder.id, v.id], physId, x2apicFormat };
        return { map: null, xapicIdMismatch, why: xapicIdMismatch ? [alias, xapicIdMismatch] : [alias] };
      }
      physMap[physId] = v;
    }
    recalculateLogicalMap(map, v, why);
  }
  return { map, xapicIdMismatch, why: [...why, ...(xapicIdMismatch ? [xapicIdMismatch] : []), ...(hotplug?.decisions() ?? [])] };
}

/** Empty the phys_map slots buildApicMap() filled for the vCPUs before `stop` (no hotplug hack: one slot each). */
function emptySlotsBefore(physMap: (Vcpu | undefined)[], vcpus: readonly Vcpu[], stop: Vcpu): void {
  for (const v of vcpus) {
    if (v === stop) return;
    if (v.hwEnabled) physMap[v.x2apicMode ? v.id : v.apic.xapicId] = undefined;
  }
}

/** kvm_recalculate_logical_map(). */
function recalculateLogicalMap(map: ApicMap, v: Vcpu, why: MapDecision[]): void {
  if (map.logicalMode === 'MAP_DISABLED') return;
  // Once the mode is X2APIC, an x2APIC vCPU changes nothing, enabled or not, whatever its LDR (0:
  // skipped; else the same mode, served from phys_map): its LAPIC need not be read at all.
  if (v.x2apicMode && map.logicalMode === 'X2APIC') return;
  const apic = v.apic;
  if (!apic.swEnabled) return;
  let ldr = apic.getReg(APIC_LDR);
  if (!ldr) return;

  let mode: LogicalMode;
  if (v.x2apicMode) {
    mode = 'X2APIC';
  } else {
    ldr = ldr >>> 24;
    mode = apic.getReg(APIC_DFR) === APIC_DFR_FLAT ? 'XAPIC_FLAT' : 'XAPIC_CLUSTER';
  }
  if (map.logicalMode === 'SW_DISABLED') {
    map.logicalMode = mode;
    map.logicalModeSetBy = v.id;
  } else if (map.logicalMode !== mode) {
    disableLogicalMap(map, why, { code: 'LOGICAL_MODES_MIXED', vcpus: [map.logicalModeSetBy!, v.id], logicalMode: mode, otherMode: map.logicalMode });
    return;
  }
  if (v.x2apicMode) return; // x2APIC logical IDs are served from phys_map

  const dest = logicalDest(map, ldr);
  if (!dest || dest.mask === 0) return;
  const slot = 31 - Math.clz32(dest.mask & -dest.mask);
  if ((dest.mask & (dest.mask - 1)) !== 0) {
    disableLogicalMap(map, why, { code: 'LOGICAL_ID_MULTI_BIT', vcpus: [v.id], logicalId: ldr, logicalMode: mode });
  } else if (dest.slots[slot]) {
    disableLogicalMap(map, why, { code: 'LOGICAL_ID_ALIASED', vcpus: [dest.slots[slot]!.id, v.id], logicalId: ldr, logicalMode: mode });
  } else {
    dest.slots[slot] = v;
  }
}

/** The logical part of the map is unusable: note why and turn it off (KVM_APIC_MODE_MAP_DISABLED). */
function disableLogicalMap(map: ApicMap, why: MapDecision[], d: Omit<MapDecision, 'kind' | 'kvm'>): void {
  why.push({ kind: 'map', kvm: 'kvm_recalculate_logical_map', ...d });
  map.logicalMode = 'MAP_DISABLED';
}

/**
 * kvm_apic_map_get_logical_dest() for the xAPIC modes: the slot array and the mask a logical
 * destination selects. X2APIC mode is served from the physical map by the delivery code.
 */
export function logicalDest(map: ApicMap, destId: number): { slots: (Vcpu | undefined)[]; mask: number } | null {
  switch (map.logicalMode) {
    case 'SW_DISABLED':
      return { slots: map.flat, mask: 0 };
    case 'XAPIC_FLAT':
      return { slots: map.flat, mask: destId & 0xff };
    case 'XAPIC_CLUSTER':
      return { slots: map.cluster[(destId >>> 4) & 0xf], mask: destId & 0xf };
    default:
      return null;
  }
}
