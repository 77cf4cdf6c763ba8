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
import { logicalDest, type ApicMap } from './apicMap';
import type { IcrExit } from './ipiVirtualization';
import type { Lapic } from './lapic';
import { ACCEPT_CODES, ROUTE_CODES, type AcceptCode, type AcceptDecision, type RouteCode, type RouteDecision } from './decisions';
import { LazyTraceEvent, type TraceBatch, type TraceEvent, type VcpuId } from './types';
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

import {
  decodeIcr, decodeMsi, DELIVERY_MODE_NAMES, DM_FIXED, DM_INIT, DM_LOWEST, DM_NMI, DM_REMRD, DM_SMI, DM_STARTUP,
  SHORT_ALLBUT, SHORT_ALLINC, SHORT_NONE, SHORT_SELF, type DeliveryModeName, type Irq, SHORTHAND_NAMES,
} from './codec';
import { AcceptIrqTrace, ApicIpiTrace } from './traceFormat';

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
  /** The vCPUs the route selected (delivered to or not). */
  readonly targets: readonly Vcpu[];
  delivered: Delivery[];
  /** How many vCPUs KVM examined to find the targets. */
  examined: number;
  /** Why this path and these vCPUs. */
  route: RouteDecision;
  /** What each selected LAPIC did with it, in delivery order. */
  accepts: AcceptDecision[];
  /** The same for the LAPICs that did not take it. */
  dropped: AcceptDecision[];
  /** For ICR writes: how the write reached KVM (ipiVirtualization.ts), and the words for it (traced as ipi_virtualization). */
  exit?: IcrExit;
  exitNote?: () => string;
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
const isBroadcastFor = (x2apicMode: boolean, mda: number) => mda === (x2apicMode ? X2APIC_BROADCAST : APIC_BROADCAST);

/** kvm_apic_match_physical_addr(), with the hotplug hack for IDs above 0xff. */
export function matchPhysicalAddr(apic: Lapic, mda: number): boolean {
  // The mode read once: the slow path runs this on every vCPU.
  const x2apic = apic.x2apicMode;
  if (isBroadcastFor(x2apic, mda)) return true;
  if (x2apic || mda > 0xff) return mda === apic.x2apicId;
  return mda === apic.xapicId;
}

/** kvm_apic_match_logical_addr(). */
export function matchLogicalAddr(apic: Lapic, mda: number): boolean {
  if (isBroadcastFor(apic.x2apicMode, mda)) return true;
  const ldr = apic.ldrWord;
  if (apic.x2apicMode) return ldr >>> 16 === mda >>> 16 && (ldr & mda & 0xffff) !== 0;
  const id = ldr >>> 24;
  switch (apic.dfrWord) {
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
  if (!src && mda === APIC_BROADCAST && !vm.broadcastQuirkDisabled && target.x2apicMode) mda = X2APIC_BROADCAST;
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

/** __apic_accept_irq() on one LAPIC (an LVT source): its trace event, and what it did as a decision. */
export function acceptIrq(v: Vcpu, irq: LapicIrq, mode = irq.deliveryMode): AcceptDecision {
  v.vm.trace(new AcceptIrqTrace(v.id, irq.vector, mode, irq.trigLevel));
  return acceptDecision(v.id, irq, mode, accept(v, irq, mode), v.apic.hwEnabled, v.apic.swEnabled);
}

/**
 * __apic_accept_irq() itself: the LAPIC's state changes; the code says what it did. Its trace
 * event is the caller's: a delivery's are in its one trace record (Outcome). Fixed and LowestPrio
 * set IRR here; the other modes latch an event (acceptEvent). Kept small: a broadcast runs it on
 * thousands of LAPICs, and only a small function is compiled into the delivery loop.
 */
function accept(v: Vcpu, irq: LapicIrq, mode: number): AcceptCode {
  v.vm.touch(v);
  if (mode !== DM_FIXED && mode !== DM_LOWEST) return acceptEvent(v, irq, mode);
  if (mode === DM_LOWEST) v.arbPrio++;
  if (irq.trigLevel && !irq.level) return 'LEVEL_DEASSERT';
  const apic = v.apic;
  if (!(v.hwEnabled && apic.swEnabled)) return 'APIC_DISABLED';
  apic.setVector(APIC_TMR, irq.vector, irq.trigLevel);
  apic.setVector(APIC_IRR, irq.vector, true);
  return 'ACCEPTED';
}

/** __apic_accept_irq() for the modes other than Fixed and LowestPrio. */
function acceptEvent(v: Vcpu, irq: LapicIrq, mode: number): AcceptCode {
  const apic = v.apic;
  switch (mode) {
    case DM_REMRD:
      v.pvUnhalted = true;
      return 'ACCEPTED';
    case DM_SMI:
      if (!v.vm.config.smm) return 'NO_SMM';
      v.smiPending = 1;
      return 'ACCEPTED';
    case DM_NMI: {
      // process_nmi(): two may wait, one while the guest still blocks NMIs.
      const code = v.nmiPending >= (v.nmiMasked ? 1 : 2) ? 'NMI_ALREADY_PENDING' : 'ACCEPTED';
      v.nmiPending = Math.min(v.nmiPending + 1, v.nmiMasked ? 1 : 2);
      return code;
    }
    case DM_INIT:
      if (irq.trigLevel && !irq.level) return 'INIT_DEASSERT';
      apic.pendingInit = true;
      apic.pendingSipi = false; // pending_events = INIT: a pending SIPI is discarded
      return 'ACCEPTED';
    case DM_STARTUP:
      apic.sipiVector = irq.vector;
      apic.pendingSipi = true;
      return 'ACCEPTED';
    default:
      return 'EXTINT_IGNORED'; // ExtINT comes through LVT0 / the PIC, not here
  }
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

/** What the fast path's lookup saw, for the route decision. */
type RouteFacts = Partial<Pick<RouteDecision, 'maxApicId' | 'physSlots' | 'emptySlots' | 'logicalMode' | 'cluster' | 'mask' | 'logicalSlots' | 'pickedSlot' | 'candidates' | 'mapWhy'>>;

/**
 * kvm_apic_map_get_dest_lapic(): the slots the fast path delivers to (some may be empty), or null
 * when it declines. Either way it notes in `s` the route code and what it saw (s.facts; a physical
 * lookup's are left null, to be made when the route is read: see physicalFacts()).
 */
export function mapGetDestLapic(vm: Vm, src: Lapic | null, irq: LapicIrq, s = new Outcome(src, irq, -1, true)): (Vcpu | undefined)[] | null {
  if (irq.shorthand === SHORT_SELF && src) return delivers(s, 'SELF', [src.vcpu], {});
  if (irq.shorthand) return declines(s, 'SHORTHAND_ALL', {});
  const map = vm.apicMap;
  if (!map) return declines(s, 'NO_MAP', { mapWhy: vm.mapWhy });
  if (isBroadcastDest(vm, src, irq)) return declines(s, 'BROADCAST', {});
  if (irq.logical) return mapGetLogicalDest(vm, irq, map, s);
  if (irq.destId > map.maxApicId) return delivers(s, 'PHYS_ABOVE_MAX', [], null);
  return delivers(s, 'PHYS_SLOT', [map.physMap[irq.destId]], null);
}

/** kvm_apic_map_get_dest_lapic() for a logical destination: the slots kvm_apic_map_get_logical_dest() selects, then lowest priority's pick. */
function mapGetLogicalDest(vm: Vm, irq: LapicIrq, map: ApicMap, s: Outcome): (Vcpu | undefined)[] | null {
  const maxApicId = map.maxApicId;
  let slots: (Vcpu | undefined)[];
  let mask: number;
  const facts: RouteFacts = { logicalMode: map.logicalMode };
  if (map.logicalMode === 'X2APIC') {
    const offset = (irq.destId >>> 16) * 16;
    facts.cluster = irq.destId >>> 16;
    if (offset > maxApicId) return delivers(s, 'LOGICAL_CLUSTER_ABOVE_MAX', [], { ...facts, maxApicId });
    const size = Math.min(maxApicId - offset + 1, 16);
    slots = map.physMap.slice(offset, offset + size);
    mask = irq.destId & (0xffff >>> (16 - size));
    const bits = bitsOf(mask);
    facts.physSlots = bits.map((b) => offset + b);
    facts.emptySlots = bits.filter((b) => !slots[b]).map((b) => offset + b);
  } else {
    const d = logicalDest(map, irq.destId);
    if (!d) return declines(s, 'MAP_DISABLED', { ...facts, mapWhy: vm.mapWhy });
    slots = d.slots;
    mask = d.mask;
    if (map.logicalMode === 'XAPIC_CLUSTER') facts.cluster = (irq.destId >>> 4) & 0xf;
    facts.logicalSlots = bitsOf(mask);
  }
  facts.mask = mask;
  if (map.logicalMode === 'SW_DISABLED') {
    if (map.legacy) return declines(s, 'LEGACY_NO_LOGICAL_MODE', facts);
    return delivers(s, 'NO_LOGICAL_IDS', [], facts);
  }

  if (isLowestPrio(irq)) {
    if (vm.config.vectorHashing) {
      if (!mask) return delivers(s, 'LOWEST_EMPTY_MASK', [], facts);
      const candidates = popcount(mask);
      const idx = nthSetBit(mask, irq.vector % candidates);
      const picked = { ...facts, pickedSlot: idx, candidates };
      if (!slots[idx]) return delivers(s, 'LOWEST_VECTOR_HASH_EMPTY', [], picked);
      return delivers(s, 'LOWEST_VECTOR_HASH', [slots[idx]], picked);
    }
    let lowest = -1;
    for (let i = 0; i < 16; i++) {
      if (!(mask & (1 << i)) || !slots[i]) continue;
      if (lowest < 0 || slots[i]!.arbPrio < slots[lowest]!.arbPrio) lowest = i;
    }
    if (lowest < 0) return delivers(s, 'LOWEST_EMPTY_MASK', [], facts);
    return delivers(s, 'LOWEST_ARBITRATION', [slots[lowest]], { ...facts, pickedSlot: lowest, candidates: popcount(mask) });
  }
  const targets: (Vcpu | undefined)[] = [];
  for (let i = 0; i < 16; i++) if (mask & (1 << i)) targets.push(slots[i]);
  return delivers(s, 'LOGICAL_MASK', targets, facts);
}

/** The fast path delivers to `slots`: note why. */
function delivers(s: Outcome, code: RouteCode, slots: (Vcpu | undefined)[], facts: RouteFacts | null): (Vcpu | undefined)[] {
  s.code = code;
  s.facts = facts;
  return slots;
}

/** The fast path declines: note why, and that the slow path decides. */
function declines(s: Outcome, code: RouteCode, facts: RouteFacts): null {
  s.code = code;
  s.path = 'slow';
  s.facts = facts;
  return null;
}

const NO_TARGETS: Vcpu[] = [];

/** The accept codes by number: an Outcome keeps a small number for each target that did not accept. */
const ACCEPT_CODE_LIST = Object.keys(ACCEPT_CODES) as AcceptCode[];
const ACCEPT_CODE_NUMBERS = Object.fromEntries(ACCEPT_CODE_LIST.map((c, i) => [c, i])) as Record<AcceptCode, number>;
/** Bits beside the code's number: the enable bits of a LAPIC that dropped it as APIC_DISABLED. */
const HW_ENABLED_THEN = 0x40, SW_ENABLED_THEN = 0x80;
const ACCEPTED = ACCEPT_CODE_NUMBERS.ACCEPTED;

/**
 * One kvm_irq_delivery_to_apic(): who the interrupt reaches, and what each target did with it.
 * findTargets() fills in the route it takes (the map's slots on the fast path; every vCPU matched
 * one by one on the slow path, or the one lowest priority picks), the vCPUs it selects and the irq
 * as delivered (a physical-broadcast LowestPrio becomes Fixed), delivering to each target as it is
 * chosen (a preview only looks). routeDecision() says the route in a decision.
 *
 * Its records (the route, each LAPIC's accept decision, the deliveries, the trace events) are
 * made when first read: a broadcast selects thousands of LAPICs, and callers that only count or
 * look at the path (the benchmarks, a VMM loop) never read them. What the records say is fixed at
 * delivery: the search, each target's accept code, and the enable bits of a LAPIC that dropped
 * the interrupt as disabled, since they may change before anyone reads.
 */
class Outcome implements DeliveryOutcome, TraceBatch {
  // Every field is declared without a value (`declare`) and set in the constructor, in one order:
  // one Outcome is made per IPI, and class field initialisers would run as a second function.
  declare readonly src: Lapic | null;
  /** The irq as sent. */
  declare readonly irqIn: LapicIrq;
  /** An IPI's ICR low half, for its kvm_apic_ipi trace line (-1: an MSI). */
  private declare readonly icrLow: number;
  /** Only find the targets (the store's preview): nothing is delivered. */
  private declare readonly preview: boolean;
  // What findTargets() finds:
  declare code: RouteCode;
  declare path: 'fast' | 'slow';
  /** The irq as delivered. */
  declare irq: LapicIrq;
  declare targets: Vcpu[];
  /** How many vCPUs KVM looked at. */
  declare examined: number;
  /** What the route decision says beside the targets (null: a physical lookup's, see physicalFacts()). */
  declare facts: Partial<RouteDecision> | null;
  /** max_apic_id of the map the fast path read (-1 if it read none): a physical lookup's route names it. */
  declare maxApicId: number;
  // What the delivery did:
  /** How many LAPICs accepted (-1: the slow path selected nobody). */
  declare count: number;
  declare exit?: IcrExit;
  declare exitNote?: () => string;
  /**
   * The targets that did not simply accept, as pairs: the index among the targets, the code as a
   * number (with the enable bits then, for APIC_DISABLED). Made for the first one: on most
   * deliveries every target accepts, and a broadcast then keeps nothing per LAPIC.
   */
  private declare others?: number[];
  /** The records, once read (not set in the constructor: most outcomes are never read). */
  private declare codeNumbers?: number[];
  private declare routeRecord?: RouteDecision;
  private declare acceptRecords?: AcceptDecision[];
  private declare deliveredRecords?: Delivery[];

  constructor(src: Lapic | null, irqIn: LapicIrq, icrLow: number, preview: boolean) {
    this.src = src;
    this.irqIn = irqIn;
    this.icrLow = icrLow;
    this.preview = preview;
    this.code = 'SELF'; // until findTargets() says
    this.path = 'fast';
    this.irq = irqIn;
    this.targets = NO_TARGETS;
    this.examined = 0;
    this.facts = null;
    this.maxApicId = -1;
    this.count = 0;
    this.exit = undefined;
    this.exitNote = undefined;
    this.others = undefined;
  }

  /** __apic_accept_irq() on target i, as the search chooses it. */
  target(v: Vcpu, irq: LapicIrq, i: number): void {
    if (this.preview) return;
    const code = accept(v, irq, irq.deliveryMode);
    if (code === 'ACCEPTED') this.count++;
    else this.notAccepted(v, i, code);
  }

  /** Target i did something other than accept: keep its code (and, for APIC_DISABLED, the enable bits it had). */
  private notAccepted(v: Vcpu, i: number, code: AcceptCode): void {
    let n = ACCEPT_CODE_NUMBERS[code];
    if (code === 'APIC_DISABLED') n |= (v.apic.hwEnabled ? HW_ENABLED_THEN : 0) | (v.apic.swEnabled ? SW_ENABLED_THEN : 0);
    (this.others ??= []).push(i, n);
    if (ACCEPT_CODES[code]) this.count++;
  }

  /**
   * Its trace events: for an IPI kvm_apic_ipi (icr_low, dest_id), then kvm_apic_accept_irq, traced
   * by __apic_accept_irq on each target (all take the irq as delivered), then the ICR exit note.
   */
  expandInto(into: TraceEvent[]): void {
    const sender = this.src?.vcpu.id;
    if (this.icrLow >= 0) into.push(new ApicIpiTrace(sender!, this.icrLow, this.irqIn.destId));
    const { vector, deliveryMode, trigLevel } = this.irq;
    for (const v of this.targets) into.push(new AcceptIrqTrace(v.id, vector, deliveryMode, trigLevel));
    if (this.exitNote) into.push(new LazyTraceEvent('ipi_virtualization', sender, this.exitNote));
  }

  /** Target i's code number, with the enable bits then for APIC_DISABLED. */
  private codeNumber(i: number): number {
    if (!this.codeNumbers) {
      const n = new Array<number>(this.targets.length).fill(ACCEPTED);
      const o = this.others ?? [];
      for (let k = 0; k < o.length; k += 2) n[o[k]] = o[k + 1];
      this.codeNumbers = n;
    }
    return this.codeNumbers[i];
  }

  private acceptCode(i: number): AcceptCode {
    return ACCEPT_CODE_LIST[this.codeNumber(i) & ~(HW_ENABLED_THEN | SW_ENABLED_THEN)];
  }

  get route(): RouteDecision {
    return (this.routeRecord ??= routeDecision(this));
  }

  /** Target i's accept decision, from what was fixed at delivery. */
  private acceptRecord(i: number): AcceptDecision {
    const { targets, irq } = this;
    const bits = this.codeNumber(i);
    return acceptDecision(targets[i].id, irq, irq.deliveryMode, this.acceptCode(i), (bits & HW_ENABLED_THEN) !== 0, (bits & SW_ENABLED_THEN) !== 0);
  }

  get accepts(): AcceptDecision[] {
    return (this.acceptRecords ??= this.targets.map((_, i) => this.acceptRecord(i)));
  }

  /** Made without the accepted ones' records: a result lists only these, and a broadcast accepts on thousands. */
  get dropped(): AcceptDecision[] {
    const out: AcceptDecision[] = [];
    if (!this.others) return out;
    for (let i = 0; i < this.targets.length; i++) if (!ACCEPT_CODES[this.acceptCode(i)]) out.push(this.acceptRecord(i));
    return out;
  }

  get delivered(): Delivery[] {
    if (this.deliveredRecords) return this.deliveredRecords;
    const { targets, irq } = this;
    const mode = DELIVERY_MODE_NAMES[irq.deliveryMode];
    const out: Delivery[] = [];
    for (let i = 0; i < targets.length; i++) if (ACCEPT_CODES[this.acceptCode(i)]) out.push({ vcpu: targets[i].id, mode, vector: irq.vector });
    return (this.deliveredRecords = out);
  }
}

/**
 * Find the targets, delivering to each (s.target) as soon as it is chosen: on the slow path inside
 * the vCPU loop, as kvm_irq_delivery_to_apic() accepts there (which also keeps a broadcast to
 * 1,000s of vCPUs to one pass over them).
 */
function findTargets(vm: Vm, s: Outcome): void {
  const slots = mapGetDestLapic(vm, s.src, s.irqIn, s);
  if (!slots) return slowPath(vm, s);
  const targets = occupants(slots);
  s.targets = targets;
  s.examined = s.code === 'SELF' ? 1 : slots.length;
  s.maxApicId = vm.apicMap?.maxApicId ?? -1;
  for (let i = 0; i < targets.length; i++) s.target(targets[i], s.irqIn, i);
}

/** The slow path: every vCPU is matched; lowest priority then picks one of them. */
function slowPath(vm: Vm, s: Outcome): void {
  const irqIn = s.irqIn;
  // Only the mode changes: an MSI's redirection hint still makes it lowest-priority below.
  const lowestBecameFixed = !irqIn.logical && irqIn.destId === 0xff && isLowestPrio(irqIn);
  const irq = lowestBecameFixed ? { ...irqIn, deliveryMode: DM_FIXED } : irqIn;
  const lowest = isLowestPrio(irq);
  const facts: Partial<RouteDecision> = { ...s.facts };
  if (lowestBecameFixed) facts.lowestBecameFixed = true;
  s.irq = irq;
  s.facts = facts;
  const matched = matchEveryVcpu(vm, s, irq, !lowest);
  if (!lowest) return;
  facts.lowestBy = vm.config.vectorHashing ? 'vector-hash' : 'arbitration';
  const enabled = matched.filter((v) => v.apic.swEnabled);
  const pick = vm.config.vectorHashing ? enabled[irq.vector % enabled.length] : enabled.reduce<Vcpu | undefined>((lo, v) => (!lo || v.arbPrio < lo.arbPrio ? v : lo), undefined);
  s.targets = pick ? [pick] : [];
  if (pick) s.target(pick, irq, 0);
}

/**
 * The slow path's loop over every vCPU: each hardware-enabled one is examined and matched
 * (s.examined, s.targets); with `deliver`, each match gets the interrupt at once, as
 * kvm_irq_delivery_to_apic() does. Accepting never changes what later vCPUs match (IDs, LDR, DFR,
 * modes), so the order of events is the same as matching everyone first. A function of its own:
 * the JIT compiles this loop, which a broadcast runs thousands of times, apart from the rest.
 * A physical destination that is no broadcast skips the walk for its few candidates (below).
 */
function matchEveryVcpu(vm: Vm, s: Outcome, irq: LapicIrq, deliver: boolean): Vcpu[] {
  const { src } = s;
  if (irq.shorthand === SHORT_NONE && !irq.logical && irq.destId !== APIC_BROADCAST && irq.destId !== X2APIC_BROADCAST) {
    return matchCandidates(vm, s, irq, deliver, vm.xapicIds.candidates(irq.destId, vm.vcpu(irq.destId)));
  }
  const vcpus = vm.vcpus;
  let examined = 0;
  // Room for every vCPU, cut to the matches: a broadcast matches them all, and growing the array
  // push by push took a tenth of its time.
  const matched = new Array<Vcpu>(vcpus.length);
  let n = 0;
  for (let i = 0; i < vcpus.length; i++) {
    const v = vcpus[i];
    if (!v.hwEnabled) continue;
    examined++;
    if (!matchDest(vm, v.apic, src, irq)) continue;
    matched[n] = v;
    if (deliver) s.target(v, irq, n);
    n++;
  }
  matched.length = n;
  s.examined = examined;
  s.targets = matched;
  return matched;
}

/**
 * The walk above for a physical destination that is no broadcast, over the only vCPUs that can
 * match it (xapicIdIndex.ts: those whose xAPIC ID or vcpu_id it is, in vcpu_idx order), each asked
 * the same question. The walk would have examined every hardware-enabled vCPU, and says so.
 */
function matchCandidates(vm: Vm, s: Outcome, irq: LapicIrq, deliver: boolean, candidates: readonly Vcpu[]): Vcpu[] {
  const matched: Vcpu[] = [];
  for (const v of candidates) {
    if (!v.hwEnabled || !matchDest(vm, v.apic, s.src, irq)) continue;
    if (deliver) s.target(v, irq, matched.length);
    matched.push(v);
  }
  s.examined = vm.enabledCount;
  s.targets = matched;
  return matched;
}

/** The occupied slots, in order: the slots themselves when none is empty (as for most unicasts). */
function occupants(slots: (Vcpu | undefined)[]): Vcpu[] {
  for (let i = 0; i < slots.length; i++) if (!slots[i]) return slots.filter((s): s is Vcpu => s !== undefined);
  return slots as Vcpu[];
}

/** The route decision for what findTargets() found: why this path and these vCPUs. */
function routeDecision(found: Outcome): RouteDecision {
  const { code, src, irqIn } = found;
  return {
    kind: 'route',
    code,
    kvm: PV_ROUTES.has(code) ? 'kvm_pv_send_ipi' : ROUTE_CODES[code] === 'fast' ? 'kvm_apic_map_get_dest_lapic' : 'kvm_irq_delivery_to_apic',
    path: ROUTE_CODES[code],
    source: src ? src.vcpu.id : null,
    vcpus: found.targets.map((v) => v.id),
    destId: irqIn.destId,
    logical: irqIn.logical,
    shorthand: SHORTHAND_NAMES[irqIn.shorthand],
    mode: DELIVERY_MODE_NAMES[found.irq.deliveryMode],
    vector: irqIn.vector,
    examined: found.examined,
    ...(found.facts ?? physicalFacts(found)),
  };
}

/** What a physical lookup saw: max_apic_id, and the phys_map slot it read unless the ID was above it. */
function physicalFacts(found: Outcome): RouteFacts {
  const maxApicId = found.maxApicId;
  if (found.code === 'PHYS_ABOVE_MAX') return { maxApicId };
  const id = found.irqIn.destId;
  return { maxApicId, physSlots: [id], emptySlots: found.targets.length ? [] : [id] };
}

const PV_ROUTES: ReadonlySet<RouteCode> = new Set(['PV_BITMAP', 'PV_NO_MAP']);

/**
 * kvm_pv_send_ipi() after its ICR check (pvIpi.ts): through the optimized map only, as
 * __pv_send_ipi() walks it for each bitmap, kvm_apic_set_irq() on the vCPU in phys_map[min + i]
 * for each set bit i up to max_apic_id. With no map nobody gets it (the hypercall then returns
 * -EOPNOTSUPP; there is no slow path to fall back on). Returns the outcome (count: how many
 * accepted, the hypercall's return when there is a map).
 */
export function deliverPvBitmaps(vm: Vm, src: Lapic, irq: LapicIrq, bitmaps: [bigint, bigint], min: number, bits: 32 | 64): DeliveryOutcome {
  const out = new Outcome(src, irq, -1, false);
  vm.trace(out);
  // The APIC IDs the bitmaps name; min += cluster_size is u32 arithmetic, so the high bitmap's base wraps past 0xffffffff.
  const ids: number[] = [];
  const bases = [min, (min + bits) >>> 0];
  for (let half = 0; half < 2; half++) {
    for (let i = 0; i < 64; i++) if ((bitmaps[half] >> BigInt(i)) & 1n) ids.push(bases[half] + i);
  }
  const pv: Partial<RouteDecision> = { pvBitmaps: ['0x' + bitmaps[0].toString(16), '0x' + bitmaps[1].toString(16)], pvMin: min, pvBits: bits, pvIds: ids };
  const map = vm.apicMap;
  if (!map) {
    out.code = 'PV_NO_MAP';
    out.facts = { ...pv, mapWhy: vm.mapWhy };
    return out;
  }
  out.code = 'PV_BITMAP';
  const targets: Vcpu[] = [];
  const physSlots: number[] = [];
  const emptySlots: number[] = [];
  const ignored: number[] = [];
  for (const id of ids) {
    // __pv_send_ipi(): nothing above max_apic_id is looked at (a base above it returns 0, the bit loop stops at it).
    if (id > map.maxApicId) {
      ignored.push(id);
      continue;
    }
    physSlots.push(id);
    const v = map.physMap[id];
    if (!v) emptySlots.push(id);
    else {
      targets.push(v);
      out.target(v, irq, targets.length - 1);
    }
  }
  out.targets = targets;
  out.examined = physSlots.length;
  out.maxApicId = map.maxApicId;
  out.facts = { ...pv, maxApicId: map.maxApicId, physSlots, emptySlots, ...(ignored.length ? { pvIgnoredIds: ignored } : {}) };
  return out;
}

/** Who an interrupt would reach now, and why, without sending it (the store's preview). */
export function previewRoute(vm: Vm, src: Lapic | null, irq: LapicIrq): RouteDecision {
  const s = new Outcome(src, irq, -1, true);
  findTargets(vm, s);
  return routeDecision(s);
}

/**
 * kvm_irq_delivery_to_apic(): each selected LAPIC accepts or drops it (__apic_accept_irq). The
 * count is -1 when the slow path selected nobody (KVM_SIGNAL_MSI's EPERM), else how many accepted.
 * For an IPI, `icrLow` is the ICR's low half: kvm_apic_send_ipi() traces it (kvm_apic_ipi) first.
 */
export function deliverToApic(vm: Vm, src: Lapic | null, irqIn: LapicIrq, icrLow = -1): DeliveryOutcome {
  const out = new Outcome(src, irqIn, icrLow, false);
  // Its trace events, in their place: nothing else is traced until the last accept.
  vm.trace(out);
  findTargets(vm, out);
  if (out.path === 'slow' && out.targets.length === 0) out.count = -1;
  return out;
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
