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
import type { Vcpu } from './vcpu';

export type LogicalMode = 'SW_DISABLED' | 'XAPIC_FLAT' | 'XAPIC_CLUSTER' | 'X2APIC' | 'MAP_DISABLED';

export interface ApicMap {
  logicalMode: LogicalMode;
  maxApicId: number;
  /** phys_map[id] -> vCPU (sparse: only occupied slots). */
  phys: Map<number, Vcpu>;
  /** xapic_flat_map[8]. */
  flat: (Vcpu | undefined)[];
  /** xapic_cluster_map[16][4]. */
  cluster: (Vcpu | undefined)[][];
  /**
   * Built by the pre-6.3 algorithm, whose logical mode 0 (no software-enabled logical APIC) makes
   * logical lookups fall back to the slow path instead of delivering nowhere.
   */
  legacy?: boolean;
}

export interface MapRebuild {
  /** The new map, or null when aliased physical IDs (without 32-bit IDs) disabled it. */
  map: ApicMap | null;
  /** The first xAPIC-mode vCPU whose xAPIC ID is not (u8)vcpu_id, in words; null if none. */
  xapicIdMismatch: string | null;
  /** Why the map is absent or its logical part disabled, in words. */
  reasons: string[];
}

/** A new, empty map sized for the vCPUs: max_apic_id is the largest enabled vcpu_id, at least 255. */
export function emptyApicMap(vcpus: readonly Vcpu[]): ApicMap {
  let maxId = 255;
  for (const v of vcpus) if (v.apic.hwEnabled) maxId = Math.max(maxId, v.id);
  return {
    logicalMode: 'SW_DISABLED',
    maxApicId: maxId,
    phys: new Map(),
    flat: new Array(8).fill(undefined),
    cluster: Array.from({ length: 16 }, () => new Array(4).fill(undefined)),
  };
}

/** kvm_recalculate_apic_map() without the locking: build the map from the vCPUs. */
export function buildApicMap(vcpus: readonly Vcpu[], x2apicFormat: boolean): MapRebuild {
  const map = emptyApicMap(vcpus);
  const reasons: string[] = [];
  let xapicIdMismatch: string | null = null;

  for (const v of vcpus) {
    if (!v.apic.hwEnabled) continue;
    const apic = v.apic;
    const x2 = apic.x2apicId;
    const xid = apic.xapicId;
    if (!apic.x2apicMode && xid !== (v.id & 0xff)) xapicIdMismatch ??= `vCPU ${v.id} has xAPIC ID ${xid}, not ${v.id & 0xff}`;

    if (x2apicFormat) {
      // Hotplug hack: reachable by x2APIC ID even in xAPIC mode; aliased xAPIC IDs: first wins.
      if (apic.x2apicMode || x2 > 0xff) map.phys.set(x2, v);
      if (!apic.x2apicMode && !map.phys.has(xid)) map.phys.set(xid, v);
    } else {
      const physicalId = apic.x2apicMode ? x2 : xid;
      const holder = map.phys.get(physicalId);
      if (holder) {
        reasons.push(`vCPUs ${holder.id} and ${v.id} share physical APIC ID ${physicalId} and 32-bit IDs are off`);
        return { map: null, xapicIdMismatch, reasons };
      }
      map.phys.set(physicalId, v);
    }
    recalculateLogicalMap(map, v, reasons);
  }
  return { map, xapicIdMismatch, reasons };
}

/** kvm_recalculate_logical_map(). */
function recalculateLogicalMap(map: ApicMap, v: Vcpu, reasons: string[]): void {
  if (map.logicalMode === 'MAP_DISABLED') return;
  const apic = v.apic;
  if (!apic.swEnabled) return;
  let ldr = apic.getReg(APIC_LDR);
  if (!ldr) return;

  let mode: LogicalMode;
  if (apic.x2apicMode) {
    mode = 'X2APIC';
  } else {
    ldr = ldr >>> 24;
    mode = apic.getReg(APIC_DFR) === APIC_DFR_FLAT ? 'XAPIC_FLAT' : 'XAPIC_CLUSTER';
  }
  if (map.logicalMode === 'SW_DISABLED') {
    map.logicalMode = mode;
  } else if (map.logicalMode !== mode) {
    reasons.push(`vCPU ${v.id} uses logical mode ${mode} but others use ${map.logicalMode}: logical map disabled`);
    map.logicalMode = 'MAP_DISABLED';
    return;
  }
  if (apic.x2apicMode) return;

  const dest = logicalDest(map, ldr);
  if (!dest || dest.mask === 0) return;
  const slot = 31 - Math.clz32(dest.mask & -dest.mask);
  if ((dest.mask & (dest.mask - 1)) !== 0) {
    reasons.push(`vCPU ${v.id} has logical ID 0x${ldr.toString(16)} with more than one bit set: logical map disabled`);
    map.logicalMode = 'MAP_DISABLED';
  } else if (dest.slots[slot]) {
    reasons.push(`vCPUs ${dest.slots[slot]!.id} and ${v.id} share logical ID 0x${ldr.toString(16)}: logical map disabled`);
    map.logicalMode = 'MAP_DISABLED';
  } else {
    dest.slots[slot] = v;
  }
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
