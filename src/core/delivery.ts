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
import { ACCEPT_CODES, ROUTE_CODES, type AcceptCode, type AcceptDecision, type RouteCode, type RouteDecision } from './decisions';
import type { VcpuId } from './types';
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

import {
  decodeIcr, decodeMsi, DELIVERY_MODE_NAMES, DM_FIXED, DM_INIT, DM_LOWEST, DM_NMI, DM_REMRD, DM_SMI, DM_STARTUP,
  SHORT_ALLBUT, SHORT_ALLINC, SHORT_NONE, SHORT_SELF, type DeliveryModeName, type Irq, SHORTHAND_NAMES,
} from './codec';
import { AcceptIrqTrace } from './traceFormat';

export { DELIVERY_MODE_NAMES, type DeliveryModeName } from './codec';

/** struct kvm_lapic_irq, with the delivery mode and shorthand as small numbers (codec.ts). */
export type LapicIrq = Irq;

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
  /** Why this path and these vCPUs. */
  route: RouteDecision;
  /** What each selected LAPIC did with it, in delivery order. */
  accepts: AcceptDecision[];
  /** The same for the LAPICs that did not take it. */
  dropped: AcceptDecision[];
  /** For ICR writes: how the write reached KVM (ipiVirtualization.ts). */
  exit?: IcrExit;
}


/** kvm_icr_to_lapic_irq(). */
export function icrToIrq(apic: Lapic, icrLow: number, icrHigh: number): LapicIrq {
  return decodeIcr(icrLow, icrHigh, apic.x2apicMode);
}

/** kvm_set_msi_irq(): address_hi supplies dest bits 31:8 only with 32-bit x2APIC IDs. */
export function msiToIrq(vm: Vm, addressLo: number, addressHi: number, data: number): LapicIrq {
  const irq = decodeMsi({ addressLo, addressHi, data }, vm.x2apicFormat);
  irq.level = true; // irq->level = 1: an MSI always asserts
  return irq;
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

/** __apic_accept_irq(): what the LAPIC did with the interrupt, as a decision. */
export function acceptIrq(v: Vcpu, irq: LapicIrq, mode = irq.deliveryMode): AcceptDecision {
  return acceptDecision(v.id, irq, mode, accept(v, irq, mode), v.apic.hwEnabled, v.apic.swEnabled);
}

/** __apic_accept_irq() itself: the LAPIC's state changes and trace event; the code says what it did. */
function accept(v: Vcpu, irq: LapicIrq, mode: number): AcceptCode {
  v.vm.touch(v);
  const apic = v.apic;
  let code: AcceptCode;
  switch (mode) {
    case DM_LOWEST:
    case DM_FIXED:
      if (mode === DM_LOWEST) v.arbPrio++;
      if (irq.trigLevel && !irq.level) {
        code = 'LEVEL_DEASSERT';
        break;
      }
      if (!(v.hwEnabled && apic.swEnabled)) {
        code = 'APIC_DISABLED';
        break;
      }
      code = 'ACCEPTED';
      apic.setVector(APIC_TMR, irq.vector, irq.trigLevel);
      apic.setVector(APIC_IRR, irq.vector, true);
      break;
    case DM_REMRD:
      code = 'ACCEPTED';
      v.pvUnhalted = true;
      break;
    case DM_SMI:
      if (!v.vm.config.smm) {
        code = 'NO_SMM';
        break;
      }
      code = 'ACCEPTED';
      v.smiPending = 1;
      break;
    case DM_NMI:
      // process_nmi(): two may wait, one while the guest still blocks NMIs.
      code = v.nmiPending >= (v.nmiMasked ? 1 : 2) ? 'NMI_ALREADY_PENDING' : 'ACCEPTED';
      v.nmiPending = Math.min(v.nmiPending + 1, v.nmiMasked ? 1 : 2);
      break;
    case DM_INIT:
      if (irq.trigLevel && !irq.level) {
        code = 'INIT_DEASSERT';
        break;
      }
      code = 'ACCEPTED';
      apic.pendingInit = true;
      apic.pendingSipi = false; // pending_events = INIT: a pending SIPI is discarded
      break;
    case DM_STARTUP:
      code = 'ACCEPTED';
      apic.sipiVector = irq.vector;
      apic.pendingSipi = true;
      break;
    default:
      code = 'EXTINT_IGNORED'; // ExtINT comes through LVT0 / the PIC, not here
  }
  v.vm.trace(new AcceptIrqTrace(v.id, irq.vector, mode, irq.trigLevel));
  return code;
}

/** The accept decision for `code`; an APIC_DISABLED drop names the enable bits the LAPIC had. */
function acceptDecision(vcpu: VcpuId, irq: LapicIrq, mode: number, code: AcceptCode, hwEnabled: boolean, swEnabled: boolean): AcceptDecision {
  const decision: AcceptDecision = {
    kind: 'accept',
    code,
    kvm: '__apic_accept_irq',
    vcpus: [vcpu],
    accepted: ACCEPT_CODES[code],
    mode: DELIVERY_MODE_NAMES[mode],
    vector: irq.vector,
    trigLevel: irq.trigLevel,
  };
  if (code === 'APIC_DISABLED') {
    decision.hwEnabled = hwEnabled;
    decision.swEnabled = swEnabled;
  }
  return decision;
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

/** What the fast path found: the slots to deliver to, or the code of why it declined. */
type RouteFacts = Partial<Pick<RouteDecision, 'maxApicId' | 'physSlots' | 'emptySlots' | 'logicalMode' | 'cluster' | 'mask' | 'logicalSlots' | 'pickedSlot' | 'candidates' | 'mapWhy'>>;
export type FastLookup = { targets: (Vcpu | undefined)[]; code: RouteCode; facts: RouteFacts } | { slow: RouteCode; facts: RouteFacts };

/** kvm_apic_map_get_dest_lapic(): the slots the fast path delivers to, or why it declines. */
export function mapGetDestLapic(vm: Vm, src: Lapic | null, irq: LapicIrq): FastLookup {
  if (irq.shorthand === SHORT_SELF && src) return { targets: [src.vcpu], code: 'SELF', facts: {} };
  if (irq.shorthand) return { slow: 'SHORTHAND_ALL', facts: {} };
  const map = vm.apicMap;
  if (!map) return { slow: 'NO_MAP', facts: { mapWhy: vm.mapWhy } };
  if (isBroadcastDest(vm, src, irq)) return { slow: 'BROADCAST', facts: {} };
  const maxApicId = map.maxApicId;

  if (!irq.logical) {
    if (irq.destId > maxApicId) return { targets: [], code: 'PHYS_ABOVE_MAX', facts: { maxApicId } };
    const t = map.physMap[irq.destId];
    return { targets: [t], code: 'PHYS_SLOT', facts: { maxApicId, physSlots: [irq.destId], emptySlots: t ? [] : [irq.destId] } };
  }

  let slots: (Vcpu | undefined)[];
  let mask: number;
  const facts: RouteFacts = { logicalMode: map.logicalMode };
  if (map.logicalMode === 'X2APIC') {
    const offset = (irq.destId >>> 16) * 16;
    facts.cluster = irq.destId >>> 16;
    if (offset > maxApicId) return { targets: [], code: 'LOGICAL_CLUSTER_ABOVE_MAX', facts: { ...facts, maxApicId } };
    const size = Math.min(maxApicId - offset + 1, 16);
    slots = map.physMap.slice(offset, offset + size);
    mask = irq.destId & (0xffff >>> (16 - size));
    const bits = bitsOf(mask);
    facts.physSlots = bits.map((b) => offset + b);
    facts.emptySlots = bits.filter((b) => !slots[b]).map((b) => offset + b);
  } else {
    const d = logicalDest(map, irq.destId);
    if (!d) return { slow: 'MAP_DISABLED', facts: { ...facts, mapWhy: vm.mapWhy } };
    slots = d.slots;
    mask = d.mask;
    if (map.logicalMode === 'XAPIC_CLUSTER') facts.cluster = (irq.destId >>> 4) & 0xf;
    facts.logicalSlots = bitsOf(mask);
  }
  facts.mask = mask;
  if (map.logicalMode === 'SW_DISABLED') {
    if (map.legacy) return { slow: 'LEGACY_NO_LOGICAL_MODE', facts };
    return { targets: [], code: 'NO_LOGICAL_IDS', facts };
  }

  if (isLowestPrio(irq)) {
    if (vm.config.vectorHashing) {
      if (!mask) return { targets: [], code: 'LOWEST_EMPTY_MASK', facts };
      const candidates = popcount(mask);
      const idx = nthSetBit(mask, irq.vector % candidates);
      const picked = { ...facts, pickedSlot: idx, candidates };
      if (!slots[idx]) return { targets: [], code: 'LOWEST_VECTOR_HASH_EMPTY', facts: picked };
      return { targets: [slots[idx]], code: 'LOWEST_VECTOR_HASH', facts: picked };
    }
    let lowest = -1;
    for (let i = 0; i < 16; i++) {
      if (!(mask & (1 << i)) || !slots[i]) continue;
      if (lowest < 0 || slots[i]!.arbPrio < slots[lowest]!.arbPrio) lowest = i;
    }
    if (lowest < 0) return { targets: [], code: 'LOWEST_EMPTY_MASK', facts };
    return { targets: [slots[lowest]], code: 'LOWEST_ARBITRATION', facts: { ...facts, pickedSlot: lowest, candidates: popcount(mask) } };
  }
  const targets: (Vcpu | undefined)[] = [];
  for (let i = 0; i < 16; i++) if (mask & (1 << i)) targets.push(slots[i]);
  return { targets, code: 'LOGICAL_MASK', facts };
}

/**
 * Who an interrupt reaches: the route kvm_irq_delivery_to_apic() takes (the map's slots on the
 * fast path; every vCPU matched one by one on the slow path, or the one lowest priority picks),
 * the vCPUs it selects, and the irq as delivered (a physical-broadcast LowestPrio becomes
 * Fixed). routeDecision() says it in a decision.
 */
interface TargetSearch {
  code: RouteCode;
  src: Lapic | null;
  /** The irq as sent. */
  irqIn: LapicIrq;
  /** The irq as delivered. */
  irq: LapicIrq;
  targets: Vcpu[];
  /** How many vCPUs KVM looked at. */
  examined: number;
  facts: Partial<RouteDecision>;
}

/** Delivery, as findTargets() calls it for each target. */
interface TargetVisitor {
  target(v: Vcpu, irq: LapicIrq): void;
}

/**
 * Find the targets. The search itself changes nothing; `visitor` (delivery) is called with each
 * target in delivery order as soon as it is chosen: on the slow path inside the vCPU loop, as
 * kvm_irq_delivery_to_apic() accepts there (which also keeps a broadcast to 1,000s of vCPUs to
 * one pass over them).
 */
function findTargets(vm: Vm, src: Lapic | null, irqIn: LapicIrq, visitor?: TargetVisitor): TargetSearch {
  const fast = mapGetDestLapic(vm, src, irqIn);
  if ('targets' in fast) {
    const examined = fast.code === 'SELF' ? 1 : fast.targets.length;
    const found = { code: fast.code, src, irqIn, irq: irqIn, targets: occupants(fast.targets), examined, facts: fast.facts };
    if (visitor) for (const v of found.targets) visitor.target(v, irqIn);
    return found;
  }

  // Only the mode changes: an MSI's redirection hint still makes it lowest-priority below.
  const lowestBecameFixed = !irqIn.logical && irqIn.destId === 0xff && isLowestPrio(irqIn);
  const irq = lowestBecameFixed ? { ...irqIn, deliveryMode: DM_FIXED } : irqIn;
  const lowest = isLowestPrio(irq);
  // Accepting never changes what later vCPUs match (IDs, LDR, DFR, modes), so the order of
  // events is the same as matching everyone first.
  const acceptNow = lowest ? undefined : visitor;
  let examined = 0;
  const matched: Vcpu[] = [];
  for (const v of vm.vcpus) {
    if (!v.hwEnabled) continue;
    examined++;
    if (!matchDest(vm, v.apic, src, irq)) continue;
    matched.push(v);
    if (acceptNow) acceptNow.target(v, irq);
  }
  const facts: Partial<RouteDecision> = { ...fast.facts };
  if (lowestBecameFixed) facts.lowestBecameFixed = true;
  const found = { code: fast.slow, src, irqIn, irq, targets: matched, examined, facts };
  if (!lowest) return found;
  facts.lowestBy = vm.config.vectorHashing ? 'vector-hash' : 'arbitration';
  const enabled = matched.filter((v) => v.apic.swEnabled);
  const pick = vm.config.vectorHashing ? enabled[irq.vector % enabled.length] : enabled.reduce<Vcpu | undefined>((lo, v) => (!lo || v.arbPrio < lo.arbPrio ? v : lo), undefined);
  found.targets = pick ? [pick] : [];
  if (pick) visitor?.target(pick, irq);
  return found;
}

/** The occupied slots, in order: the slots themselves when none is empty (as for most unicasts). */
function occupants(slots: (Vcpu | undefined)[]): Vcpu[] {
  for (const t of slots) if (!t) return slots.filter((s): s is Vcpu => s !== undefined);
  return slots as Vcpu[];
}

/** The route decision for what findTargets() found: why this path and these vCPUs. */
function routeDecision(found: TargetSearch): RouteDecision {
  const { code, src, irqIn } = found;
  return {
    kind: 'route',
    code,
    kvm: ROUTE_CODES[code] === 'fast' ? 'kvm_apic_map_get_dest_lapic' : 'kvm_irq_delivery_to_apic',
    path: ROUTE_CODES[code],
    source: src ? src.vcpu.id : null,
    vcpus: found.targets.map((v) => v.id),
    destId: irqIn.destId,
    logical: irqIn.logical,
    shorthand: SHORTHAND_NAMES[irqIn.shorthand],
    mode: DELIVERY_MODE_NAMES[found.irq.deliveryMode],
    vector: irqIn.vector,
    examined: found.examined,
    ...found.facts,
  };
}

/** Who an interrupt would reach now, and why, without sending it (the store's preview). */
export function previewRoute(vm: Vm, src: Lapic | null, irq: LapicIrq): RouteDecision {
  return routeDecision(findTargets(vm, src, irq));
}

/**
 * kvm_irq_delivery_to_apic(): each selected LAPIC accepts or drops it (__apic_accept_irq). The
 * count is -1 when the slow path selected nobody (KVM_SIGNAL_MSI's EPERM), else how many accepted.
 */
export function deliverToApic(vm: Vm, src: Lapic | null, irqIn: LapicIrq): DeliveryOutcome {
  const out = new Outcome();
  out.found(findTargets(vm, src, irqIn, out));
  return out;
}

/** The accept codes by number: an Outcome keeps one small number per target. */
const ACCEPT_CODE_LIST = Object.keys(ACCEPT_CODES) as AcceptCode[];
const ACCEPT_CODE_NUMBERS = Object.fromEntries(ACCEPT_CODE_LIST.map((c, i) => [c, i])) as Record<AcceptCode, number>;
/** Bits beside the code's number: the enable bits of a LAPIC that dropped it as APIC_DISABLED. */
const HW_ENABLED_THEN = 0x40, SW_ENABLED_THEN = 0x80;
const ACCEPTED = ACCEPT_CODE_NUMBERS.ACCEPTED;

/**
 * What kvm_irq_delivery_to_apic() did. Its records (the route, each LAPIC's accept decision, the
 * deliveries) are made when first read: a broadcast selects thousands of LAPICs, and callers that
 * only count or look at the path (the benchmarks, a VMM loop) never read them. What the records
 * say is fixed at delivery: the search, each target's accept code, and the enable bits of a LAPIC
 * that dropped the interrupt as disabled, since they may change before anyone reads.
 */
class Outcome implements DeliveryOutcome, TargetVisitor {
  count = 0;
  path: 'fast' | 'slow' = 'fast';
  examined = 0;
  exit?: IcrExit;
  private search!: TargetSearch;
  /** Each target's accept code as a number, with the enable bits then for APIC_DISABLED, in delivery order. */
  private readonly taken: number[] = [];
  private routeRecord?: RouteDecision;
  private acceptRecords?: AcceptDecision[];
  private deliveredRecords?: Delivery[];

  /** __apic_accept_irq() on a target, as the search chooses it. */
  target(v: Vcpu, irq: LapicIrq): void {
    const code = accept(v, irq, irq.deliveryMode);
    if (code === 'ACCEPTED') {
      // What thousands of LAPICs do with a broadcast: no lookups for it.
      this.taken.push(ACCEPTED);
      this.count++;
      return;
    }
    let n = ACCEPT_CODE_NUMBERS[code];
    if (code === 'APIC_DISABLED') n |= (v.apic.hwEnabled ? HW_ENABLED_THEN : 0) | (v.apic.swEnabled ? SW_ENABLED_THEN : 0);
    this.taken.push(n);
    if (ACCEPT_CODES[code]) this.count++;
  }

  /** The search is over: its path, and -1 when the slow path selected nobody. */
  found(search: TargetSearch): void {
    this.search = search;
    this.path = ROUTE_CODES[search.code];
    this.examined = search.examined;
    if (this.path === 'slow' && search.targets.length === 0) this.count = -1;
  }

  private code(i: number): AcceptCode {
    return ACCEPT_CODE_LIST[this.taken[i] & ~(HW_ENABLED_THEN | SW_ENABLED_THEN)];
  }

  get route(): RouteDecision {
    return (this.routeRecord ??= routeDecision(this.search));
  }

  /** Target i's accept decision, from what was fixed at delivery. */
  private acceptRecord(i: number): AcceptDecision {
    const { targets, irq } = this.search;
    const bits = this.taken[i];
    return acceptDecision(targets[i].id, irq, irq.deliveryMode, this.code(i), (bits & HW_ENABLED_THEN) !== 0, (bits & SW_ENABLED_THEN) !== 0);
  }

  get accepts(): AcceptDecision[] {
    return (this.acceptRecords ??= this.search.targets.map((_, i) => this.acceptRecord(i)));
  }

  /** Made without the accepted ones' records: a result lists only these, and a broadcast accepts on thousands. */
  get dropped(): AcceptDecision[] {
    const out: AcceptDecision[] = [];
    for (let i = 0; i < this.search.targets.length; i++) if (!ACCEPT_CODES[this.code(i)]) out.push(this.acceptRecord(i));
    return out;
  }

  get delivered(): Delivery[] {
    if (this.deliveredRecords) return this.deliveredRecords;
    const { targets, irq } = this.search;
    const mode = DELIVERY_MODE_NAMES[irq.deliveryMode];
    const out: Delivery[] = [];
    for (let i = 0; i < targets.length; i++) if (ACCEPT_CODES[this.code(i)]) out.push({ vcpu: targets[i].id, mode, vector: irq.vector });
    return (this.deliveredRecords = out);
  }
}

function bitsOf(mask: number): number[] {
  const out: number[] = [];
  for (let i = 0; mask >>> i; i++) if (mask & (1 << i)) out.push(i);
  return out;
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
