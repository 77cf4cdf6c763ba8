/**
 * Interrupt delivery to local APICs: who receives an IPI or MSI, through which path, and what
 * each receiver does with it.
 *
 * Models lapic.c kvm_icr_to_lapic_irq, kvm_apic_send_ipi, __kvm_irq_delivery_to_apic (the slow
 * path that matches every vCPU), __kvm_irq_delivery_to_apic_fast and kvm_apic_map_get_dest_lapic
 * (the optimized map), kvm_apic_is_broadcast_dest, kvm_apic_mda, kvm_apic_match_dest /
 * _physical_addr / _logical_addr, kvm_vector_to_index and __apic_accept_irq; irq.c
 * kvm_set_msi_irq and kvm_msi_route_invalid for KVM_SIGNAL_MSI.
 *
 * Inaccuracies: NMIs queue as nmi_pending with KVM's limit of two (process_nmi) but NMI masking
 * and injection are not modelled; an accepted SMI only raises smi_pending (SMM entry is issue 5);
 * posted interrupts and IPI virtualization are not modelled: every delivery goes through KVM's
 * software path, which is what they would produce for the receiver.
 */
import { APIC_IRR, APIC_TMR, APIC_BROADCAST, X2APIC_BROADCAST } from './apicdef';
import { logicalDest } from './apicMap';
import type { IcrExit } from './ipiVirtualization';
import type { Lapic } from './lapic';
import { LazyTraceEvent } from './types';
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

export const DELIVERY_MODE_NAMES = ['Fixed', 'LowestPrio', 'SMI', 'RemoteRead', 'NMI', 'INIT', 'StartUp', 'ExtINT'] as const;
export type DeliveryModeName = (typeof DELIVERY_MODE_NAMES)[number];

const DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_REMRD = 3, DM_NMI = 4, DM_INIT = 5, DM_STARTUP = 6;
const SHORT_NONE = 0, SHORT_SELF = 1, SHORT_ALLINC = 2, SHORT_ALLBUT = 3;

/** struct kvm_lapic_irq, with the delivery mode and shorthand as small numbers. */
export interface LapicIrq {
  vector: number;
  /** 0..7, ICR bits 10:8. */
  deliveryMode: number;
  logical: boolean;
  level: boolean;
  /** Level-triggered (ICR bit 15 / MSI data bit 15). */
  trigLevel: boolean;
  /** 0 none, 1 self, 2 all including self, 3 all excluding self. */
  shorthand: number;
  destId: number;
  msiRedirHint: boolean;
}

export interface Delivery {
  vcpu: number;
  mode: DeliveryModeName;
  vector: number;
}

/** What one kvm_irq_delivery_to_apic() call did. */
export interface DeliveryOutcome {
  /** -1: nobody matched (slow path); else the number of LAPICs that accepted. */
  count: number;
  path: 'fast' | 'slow';
  delivered: Delivery[];
  /** How many vCPUs KVM examined to find the targets. */
  examined: number;
  reason: string;
  /** For ICR writes: how the write reached KVM (ipiVirtualization.ts). */
  exit?: IcrExit;
}

/** kvm_icr_to_lapic_irq(). */
export function icrToIrq(apic: Lapic, icrLow: number, icrHigh: number): LapicIrq {
  return {
    vector: icrLow & 0xff,
    deliveryMode: (icrLow >>> 8) & 7,
    logical: (icrLow & 0x800) !== 0,
    level: (icrLow & 0x4000) !== 0,
    trigLevel: (icrLow & 0x8000) !== 0,
    shorthand: (icrLow >>> 18) & 3,
    destId: apic.x2apicMode ? icrHigh >>> 0 : icrHigh >>> 24,
    msiRedirHint: false,
  };
}

/** kvm_set_msi_irq(): address_hi supplies dest bits 31:8 only with 32-bit x2APIC IDs. */
export function msiToIrq(vm: Vm, addressLo: number, addressHi: number, data: number): LapicIrq {
  let destId = (addressLo >>> 12) & 0xff;
  if (vm.x2apicFormat) destId = (destId | (addressHi & 0xffffff00)) >>> 0;
  return {
    vector: data & 0xff,
    deliveryMode: (data >>> 8) & 7,
    logical: (addressLo & 0x4) !== 0,
    level: true,
    trigLevel: (data & 0x8000) !== 0,
    shorthand: SHORT_NONE,
    destId,
    msiRedirHint: (addressLo & 0x8) !== 0,
  };
}

/** kvm_msi_route_invalid(): with 32-bit IDs, address_hi bits 7:0 must be zero. */
export function msiRouteInvalid(vm: Vm, addressHi: number): boolean {
  return vm.x2apicFormat && (addressHi & 0xff) !== 0;
}

const isLowestPrio = (irq: LapicIrq) => irq.deliveryMode === DM_LOWEST || irq.msiRedirHint;

/** kvm_apic_broadcast(): the broadcast ID of the target's own mode. */
const isBroadcastFor = (apic: Lapic, mda: number) => mda === (apic.x2apicMode ? X2APIC_BROADCAST : APIC_BROADCAST);

/** kvm_apic_match_physical_addr(), with the hotplug hack for IDs above 0xff. */
export function matchPhysicalAddr(apic: Lapic, mda: number): boolean {
  if (isBroadcastFor(apic, mda)) return true;
  if (apic.x2apicMode || mda > 0xff) return mda === apic.x2apicId;
  return mda === apic.xapicId;
}

/** kvm_apic_match_logical_addr(). */
export function matchLogicalAddr(apic: Lapic, mda: number): boolean {
  if (isBroadcastFor(apic, mda)) return true;
  const ldr = apic.getReg(0xd0);
  if (apic.x2apicMode) return ldr >>> 16 === mda >>> 16 && (ldr & mda & 0xffff) !== 0;
  const id = ldr >>> 24;
  switch (apic.getReg(0xe0)) {
    case 0xffffffff:
      return (id & mda) !== 0;
    case 0x0fffffff:
      return id >>> 4 === mda >>> 4 && (id & mda & 0xf) !== 0;
    default:
      return false;
  }
}

/** kvm_apic_match_dest() with kvm_apic_mda()'s broadcast promotion for non-IPIs. */
export function matchDest(vm: Vm, target: Lapic, src: Lapic | null, irq: LapicIrq): boolean {
  let mda = irq.destId;
  if (!vm.broadcastQuirkDisabled && !src && mda === APIC_BROADCAST && target.x2apicMode) mda = X2APIC_BROADCAST;
  switch (irq.shorthand) {
    case SHORT_NONE:
      return irq.logical ? matchLogicalAddr(target, mda) : matchPhysicalAddr(target, mda);
    case SHORT_SELF:
      return target === src;
    case SHORT_ALLINC:
      return true;
    case SHORT_ALLBUT:
      return target !== src;
    default:
      return false;
  }
}

/** __apic_accept_irq(): 1 when the LAPIC took the interrupt. */
export function acceptIrq(v: Vcpu, irq: LapicIrq, mode = irq.deliveryMode): 0 | 1 {
  const apic = v.apic;
  const vm = v.vm;
  let result: 0 | 1 = 0;
  switch (mode) {
    case DM_LOWEST:
    case DM_FIXED:
      if (mode === DM_LOWEST) v.arbPrio++;
      if (irq.trigLevel && !irq.level) break;
      if (!(apic.hwEnabled && apic.swEnabled)) break;
      result = 1;
      apic.setVector(APIC_TMR, irq.vector, irq.trigLevel);
      apic.setVector(APIC_IRR, irq.vector, true);
      break;
    case DM_REMRD:
      result = 1;
      v.pvUnhalted = true;
      break;
    case DM_SMI:
      if (vm.config.smm) {
        v.smiPending = 1;
        result = 1;
      }
      break;
    case DM_NMI:
      result = 1;
      v.nmiPending = Math.min(v.nmiPending + 1, 2);
      break;
    case DM_INIT:
      if (!irq.trigLevel || irq.level) {
        result = 1;
        apic.pendingInit = true;
        apic.pendingSipi = false; // pending_events = INIT: a pending SIPI is discarded
      }
      break;
    case DM_STARTUP:
      result = 1;
      apic.sipiVector = irq.vector;
      apic.pendingSipi = true;
      break;
    default:
      break; // ExtINT comes through LVT0 / the PIC, not here
  }
  vm.trace(new LazyTraceEvent('kvm_apic_accept_irq', v.id, () => `${DELIVERY_MODE_NAMES[mode]} vector ${irq.vector} ${irq.trigLevel ? 'level' : 'edge'}: ${result ? 'accepted' : rejectReason(v, irq, mode)}`));
  return result;
}

function rejectReason(v: Vcpu, irq: LapicIrq, mode: number): string {
  if (mode === DM_FIXED || mode === DM_LOWEST) {
    if (irq.trigLevel && !irq.level) return 'ignored (level de-assert)';
    return 'dropped: APIC software-disabled';
  }
  if (mode === DM_SMI) return 'dropped: no SMM support';
  if (mode === DM_INIT) return 'ignored (level de-assert INIT)';
  void v;
  return 'ignored (ExtINT is delivered through LVT0)';
}

/** kvm_apic_is_broadcast_dest(). */
function isBroadcastDest(vm: Vm, src: Lapic | null, irq: LapicIrq): boolean {
  const map = vm.apicMap!;
  if (vm.broadcastQuirkDisabled) {
    return (irq.destId === APIC_BROADCAST && map.logicalMode !== 'X2APIC') || irq.destId === X2APIC_BROADCAST;
  }
  const x2apicIpi = src !== null && src.x2apicMode;
  return irq.destId === (x2apicIpi ? X2APIC_BROADCAST : APIC_BROADCAST);
}

export type FastTargets = { targets: (Vcpu | undefined)[]; reason: string } | { refuse: string };

/** kvm_apic_map_get_dest_lapic(): the slots the fast path delivers to, or why it refuses. */
export function mapGetDestLapic(vm: Vm, src: Lapic | null, irq: LapicIrq): FastTargets {
  if (irq.shorthand === SHORT_SELF && src) return { targets: [src.vcpu], reason: 'shorthand self' };
  if (irq.shorthand) return { refuse: 'shorthand to all: every vCPU is matched one by one' };
  const map = vm.apicMap;
  if (!map) return { refuse: `no optimized map: ${vm.mapReasons[0] ?? 'aliased physical IDs'}` };
  if (isBroadcastDest(vm, src, irq)) return { refuse: `destination 0x${irq.destId.toString(16)} is a broadcast` };

  if (!irq.logical) {
    if (irq.destId > map.maxApicId) return { targets: [], reason: `physical ID ${irq.destId} is above max_apic_id ${map.maxApicId}` };
    const t = map.phys.get(irq.destId);
    return { targets: [t], reason: t ? `phys_map[${irq.destId}]` : `phys_map[${irq.destId}] is empty` };
  }

  let slots: (Vcpu | undefined)[];
  let mask: number;
  if (map.logicalMode === 'X2APIC') {
    const offset = (irq.destId >>> 16) * 16;
    if (offset > map.maxApicId) {
      slots = [];
      mask = 0;
    } else {
      const size = Math.min(map.maxApicId - offset + 1, 16);
      slots = Array.from({ length: size }, (_, i) => map.phys.get(offset + i));
      mask = irq.destId & (0xffff >>> (16 - size));
    }
  } else {
    const d = logicalDest(map, irq.destId);
    if (!d) return { refuse: 'logical map disabled (MAP_DISABLED)' };
    slots = d.slots;
    mask = d.mask;
  }
  if (map.logicalMode === 'SW_DISABLED') {
    if (map.legacy) return { refuse: 'no logical mode in the map (<= 6.2: logical lookups fall back to the slow path)' };
    return { targets: [], reason: 'no software-enabled APIC has a logical ID' };
  }

  if (isLowestPrio(irq)) {
    if (vm.config.vectorHashing) {
      if (!mask) return { targets: [], reason: 'empty logical mask' };
      const n = irq.vector % popcount(mask);
      const idx = nthSetBit(mask, n);
      if (!slots[idx]) return { targets: [], reason: 'vector hashing picked an empty slot ("Disabled LAPIC found during irq injection")' };
      return { targets: [slots[idx]], reason: `lowest priority by vector hashing: slot ${idx} (vector % ${popcount(mask)} = ${n})` };
    }
    let lowest = -1;
    for (let i = 0; i < 16; i++) {
      if (!(mask & (1 << i)) || !slots[i]) continue;
      if (lowest < 0 || slots[i]!.arbPrio < slots[lowest]!.arbPrio) lowest = i;
    }
    return { targets: lowest >= 0 ? [slots[lowest]] : [], reason: 'lowest priority by arbitration priority' };
  }
  const targets: (Vcpu | undefined)[] = [];
  for (let i = 0; i < 16; i++) if (mask & (1 << i)) targets.push(slots[i]);
  return { targets, reason: `logical ${map.logicalMode} mask 0x${mask.toString(16)}` };
}

/** kvm_irq_delivery_to_apic(): fast path through the map, else every vCPU one by one. */
export function deliverToApic(vm: Vm, src: Lapic | null, irqIn: LapicIrq): DeliveryOutcome {
  const delivered: Delivery[] = [];
  const accept = (v: Vcpu, irq: LapicIrq): number => {
    const r = acceptIrq(v, irq);
    if (r) delivered.push({ vcpu: v.id, mode: DELIVERY_MODE_NAMES[irq.deliveryMode], vector: irq.vector });
    return r;
  };

  if (irqIn.shorthand === SHORT_SELF && src) {
    // __kvm_irq_delivery_to_apic_fast handles self before looking at the map.
    return { count: accept(src.vcpu, irqIn), path: 'fast', delivered, examined: 1, reason: 'shorthand self' };
  }
  const fast = mapGetDestLapic(vm, src, irqIn);
  if ('targets' in fast) {
    let count = 0;
    for (const t of fast.targets) if (t) count += accept(t, irqIn);
    return { count, path: 'fast', delivered, examined: fast.targets.length, reason: fast.reason };
  }

  const irq = { ...irqIn };
  let reason = fast.refuse;
  if (!irq.logical && irq.destId === 0xff && isLowestPrio(irq)) {
    // Only the mode changes: an MSI's redirection hint still makes it lowest-priority below.
    irq.deliveryMode = DM_FIXED;
    reason += '; physical broadcast with lowest priority becomes Fixed';
  }
  let count = -1;
  let examined = 0;
  const candidates: Vcpu[] = [];
  let lowest: Vcpu | null = null;
  for (const v of vm.vcpus) {
    if (!v.apic.hwEnabled) continue;
    examined++;
    if (!matchDest(vm, v.apic, src, irq)) continue;
    if (!isLowestPrio(irq)) {
      if (count < 0) count = 0;
      count += accept(v, irq);
    } else if (v.apic.swEnabled) {
      if (vm.config.vectorHashing) candidates.push(v);
      else if (!lowest || v.arbPrio < lowest.arbPrio) lowest = v;
    }
  }
  if (candidates.length) lowest = candidates[irq.vector % candidates.length];
  if (lowest) count = accept(lowest, irq);
  return { count, path: 'slow', delivered, examined, reason };
}

function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

function nthSetBit(mask: number, n: number): number {
  for (let i = 0; i < 16; i++) if (mask & (1 << i) && n-- === 0) return i;
  return -1;
}
