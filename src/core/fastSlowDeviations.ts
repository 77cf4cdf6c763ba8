/**
 * Where KVM's fast path (the optimized map) and slow path (kvm_apic_match_dest on every vCPU)
 * reach different vCPUs for the same destination, by design or by accident. Used by the
 * fast-versus-slow property test and the fuzzer: any difference not explained here is a bug.
 */
import { mapGetDestLapic, matchDest, type LapicIrq } from './delivery';
import { calcX2apicLdr, type Lapic } from './lapic';
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

export const DEVIATIONS = [
  'hotplug hack: aliased physical IDs resolve to one vCPU in the map (32-bit IDs)',
  'hotplug hack: an xAPIC vCPU above 255 is reachable by its 32-bit ID on the slow path only, unless the map was built with 32-bit IDs',
  'broadcast: the fast path decides by the source and the quirk, the slow path by each target\'s mode',
  'logical map holds only software-enabled APICs',
  'logical map holds only APICs of the map\'s logical mode',
  'xAPIC cluster lookup uses destination bits 7:0 on the fast path, the whole MDA on the slow path',
  'KVM_CREATE_VCPU leaves the newest vCPU out of the map until the next rebuild',
  'before 6.11 KVM_SET_LAPIC could give an x2APIC vCPU an LDR that is not its ID\'s: the fast path follows the ID, the slow path the LDR',
  'a DFR neither flat nor cluster (only KVM_SET_LAPIC can store one): the map takes it as cluster, kvm_apic_match_logical_addr matches nothing',
] as const;
export type Deviation = (typeof DEVIATIONS)[number];

/** The documented deviations that explain every vCPU on which `fast` and `slow` differ, or null. */
export function explainFastSlow(vm: Vm, irq: LapicIrq, fast: Set<number>, slow: Set<number>): Deviation[] | null {
  const onlySlow = [...slow].filter((id) => !fast.has(id)).map((id) => vm.vcpu(id)!);
  const onlyFast = [...fast].filter((id) => !slow.has(id)).map((id) => vm.vcpu(id)!);
  const map = vm.apicMap!;
  const why = new Set<Deviation>();
  const inMap = new Set([...map.phys.values()].map((v) => v.id));
  const stale = onlySlow.filter((v) => !inMap.has(v.id) && v === vm.vcpus[vm.vcpus.length - 1]);
  if (stale.length) {
    why.add(DEVIATIONS[6]);
    onlySlow.splice(onlySlow.indexOf(stale[0]), 1);
  }
  if (!irq.logical) {
    if (onlyFast.length) return null;
    for (const v of onlySlow) {
      const x2 = v.apic.x2apicMode;
      // (Not vm.x2apicFormat: KVM_ENABLE_CAP does not rebuild the map, which may predate it.)
      if (irq.destId === (x2 ? 0xffffffff : 0xff)) why.add(DEVIATIONS[2]);
      else if (irq.destId > 0xff && !x2 && v.id === irq.destId) why.add(DEVIATIONS[1]);
      else if (fast.size === 1 && (x2 ? v.id : v.apic.xapicId) === irq.destId) why.add(DEVIATIONS[0]);
      else return null;
    }
    return [...why];
  }
  const modeOk = (x2: boolean) => map.logicalMode.startsWith(x2 ? 'X2APIC' : 'XAPIC');
  const ldrNotFromId = (v: Vcpu) => v.apic.x2apicMode && v.apic.getReg(0xd0) !== calcX2apicLdr(v.id);
  const oddDfr = (v: Vcpu) => !v.apic.x2apicMode && v.apic.getReg(0xe0) !== 0xffffffff && v.apic.getReg(0xe0) !== 0x0fffffff;
  for (const v of onlySlow) {
    if (irq.destId === (v.apic.x2apicMode ? 0xffffffff : 0xff)) why.add(DEVIATIONS[2]);
    else if (ldrNotFromId(v)) why.add(DEVIATIONS[7]);
    else if (!modeOk(v.apic.x2apicMode)) why.add(DEVIATIONS[4]);
    else if (!v.apic.swEnabled) why.add(DEVIATIONS[3]);
    else return null;
  }
  for (const v of onlyFast) {
    if (ldrNotFromId(v)) why.add(DEVIATIONS[7]);
    else if (oddDfr(v) && map.logicalMode === 'XAPIC_CLUSTER') why.add(DEVIATIONS[8]);
    else if (!modeOk(v.apic.x2apicMode)) why.add(DEVIATIONS[4]);
    else if (map.logicalMode === 'XAPIC_CLUSTER' && irq.destId > 0xff) why.add(DEVIATIONS[5]);
    else return null;
  }
  return [...why];
}


/**
 * Compare both paths for `irq` (not lowest priority, no shorthand) in a VM with the 6.3+ map:
 * null when the fast path refuses it or both agree; otherwise the deviations, or 'unexplained'.
 */
export function fastSlowDifference(vm: Vm, src: Lapic | null, irq: LapicIrq): { fast: number[]; slow: number[]; why: Deviation[] | 'unexplained' } | null {
  const slots = mapGetDestLapic(vm, src, irq);
  if (!slots) return null;
  const fast = new Set(slots.filter((t) => t !== undefined).map((t) => t!.id));
  const slow = new Set(vm.vcpus.filter((v) => v.apic.hwEnabled && matchDest(vm, v.apic, src, irq)).map((v) => v.id));
  if ([...fast].sort().join() === [...slow].sort().join()) return null;
  return { fast: [...fast], slow: [...slow], why: explainFastSlow(vm, irq, fast, slow) ?? 'unexplained' };
}
