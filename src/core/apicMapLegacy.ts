/**
 * The optimized APIC map as KVM built it up to v6.2, before Sean Christopherson's "AVIC and local
 * APIC fixes+cleanups" (v6.3: 5b84b0291702, 2970052481b9, 2bf934aadcac and siblings).
 *
 * Models the old single-loop kvm_recalculate_apic_map(): the hotplug hack applied whatever the
 * X2APIC_API flags (phys_map[x2apic_id] for x2APIC-mode vCPUs and ids above 0xff, the xAPIC slot
 * only if still empty), aliased IDs silently resolved by vCPU order (no map removal, no aliasing
 * inhibits), the logical mode a bitmask OR-ed over software-enabled APICs (a mix, or no logical
 * APIC at all, makes logical lookups fall back to the slow path), and logical slots overwritten by
 * later vCPUs (the lowest set bit of a multi-bit ID wins its slot).
 *
 * Inaccuracies: written from the v6.2 source as read for this project; per-release differences
 * between 5.10 and 6.2 (for example the 5.7+ dirty tracking races) are not modelled.
 */
import { APIC_DFR, APIC_DFR_FLAT, APIC_LDR } from './apicdef';
import { emptyApicMap, HotplugChoices, type LogicalMode, type MapRebuild } from './apicMap';
import type { MapDecision } from './decisions';
import type { VcpuId } from './types';
import type { Vcpu } from './vcpu';

const MODE_CLUSTER = 4, MODE_FLAT = 8, MODE_X2APIC = 16;

export function buildApicMapV62(vcpus: readonly Vcpu[]): MapRebuild {
  const map = emptyApicMap(vcpus);
  map.legacy = true;
  const maxId = map.maxApicId;
  const hotplug = new HotplugChoices(true);
  const overwritten: MapDecision[] = [];
  /** The first vCPU that brought each logical mode bit (to name both sides of a mix). */
  const modeOwners = new Map<number, VcpuId>();
  let mode = 0;
  const overwrite = (slots: (Vcpu | undefined)[], i: number, v: Vcpu, logicalId: number) => {
    const old = slots[i];
    if (old && old !== v) overwritten.push({ kind: 'map', code: 'LOGICAL_SLOT_OVERWRITTEN', kvm: 'kvm_recalculate_apic_map', vcpus: [old.id, v.id], logicalId, legacy: true });
    slots[i] = v;
  };
  for (const v of vcpus) {
    const apic = v.apic;
    if (!apic.hwEnabled) continue;
    hotplug.place(map, v, maxId);
    if (!apic.swEnabled) continue;
    let ldr = apic.getReg(APIC_LDR);
    let bit = 0;
    if (apic.x2apicMode) bit = MODE_X2APIC;
    else if (ldr) {
      ldr = ldr >>> 24;
      bit = apic.getReg(APIC_DFR) === APIC_DFR_FLAT ? MODE_FLAT : MODE_CLUSTER;
    }
    if (bit && !modeOwners.has(bit)) modeOwners.set(bit, v.id);
    mode |= bit;
    // kvm_apic_map_get_logical_dest() on the mode so far; x2APIC slots are phys_map's own.
    if (mode === MODE_FLAT && !apic.x2apicMode) {
      const mask = ldr & 0xff;
      if (mask) overwrite(map.flat, 31 - Math.clz32(mask & -mask), v, ldr);
    } else if (mode === MODE_CLUSTER && !apic.x2apicMode) {
      const mask = ldr & 0xf;
      if (mask) overwrite(map.cluster[(ldr >>> 4) & 0xf], 31 - Math.clz32(mask & -mask), v, ldr);
    }
  }
  map.logicalMode = mode === 0 ? 'SW_DISABLED' : mode === MODE_FLAT ? 'XAPIC_FLAT' : mode === MODE_CLUSTER ? 'XAPIC_CLUSTER' : mode === MODE_X2APIC ? 'X2APIC' : 'MAP_DISABLED';
  const why: MapDecision[] = [];
  if (map.logicalMode === 'MAP_DISABLED') {
    const owners = [...modeOwners.entries()].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    why.push({ kind: 'map', code: 'LOGICAL_MODES_MIXED', kvm: 'kvm_recalculate_apic_map', vcpus: owners.map(([, id]) => id), logicalMode: MODE_NAMES[owners[1][0]], otherMode: MODE_NAMES[owners[0][0]], legacy: true });
  }
  return { map, xapicIdMismatch: null, why: [...why, ...overwritten, ...hotplug.decisions()] };
}

const MODE_NAMES: Record<number, LogicalMode> = { [MODE_CLUSTER]: 'XAPIC_CLUSTER', [MODE_FLAT]: 'XAPIC_FLAT', [MODE_X2APIC]: 'X2APIC' };
