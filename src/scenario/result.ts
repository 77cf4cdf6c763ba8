/**
 * The apic-result/1 document: per-step results and the final state, serialised exactly as
 * scenario-format.md ("Result") fixes them.
 */
import { APIC_DFR, APIC_IRR, APIC_ISR, APIC_LDR, APIC_PROCPRI, APIC_TASKPRI, APIC_TMICT, APIC_TMR, SLOT_OFFSETS, slotKey } from '../core/apicdef';
import type { AcceptDecision, EventDecision, InhibitCause, MapDecision, RefusalDecision, RouteDecision } from '../core/decisions';
import type { Delivery } from '../core/delivery';
import type { IcrExit } from '../core/ipiVirtualization';
import type { Errno, TraceEvent } from '../core/types';
import { reportedMpState } from '../core/mpState';
import type { Vcpu } from '../core/vcpu';
import type { Vm } from '../core/vm';
import { explain, explainInhibitCause } from '../explain/explain';
import type { OpName } from './schema';
import { hex } from './numbers';

/** Fields every step result has. */
export interface StepCommon {
  i: number;
  ok: boolean;
  /** A guest fault, or the ioctl's errno (ok is then false). */
  fault?: '#GP';
  error?: Errno;
  /** Why it faulted or was refused, in words (rendered from `refusal`). */
  reason?: string;
  /** Why it faulted or was refused: the rule that fired. */
  refusal?: RefusalDecision;
  /** With --trace: the step's KVM trace events. */
  trace?: TraceEvent[];
}

/** Fields of a step that sent an IPI or an MSI. */
export interface DeliveryFields {
  path?: 'fast' | 'slow';
  delivered?: Delivery[];
  /** The selected LAPICs that did not take it, and why. */
  dropped?: AcceptDecision[];
  /** The route in words (rendered from `route`). */
  why?: string;
  examined?: number;
  /** How the ICR write reached KVM. */
  exit?: IcrExit;
  /** Why this path and these vCPUs. */
  route?: RouteDecision;
  /** On the real kernel: `delivered` was inferred from state changes. */
  deliveredInferred?: boolean;
}

/** Fields of a step that entered the guest or read the MP state: INIT/SIPI processed, NMI injected, HLT woken. */
export interface EventFields {
  events?: EventDecision[];
}

/** The op-specific fields of each op's result. */
export interface OpResultFields {
  wrmsr: DeliveryFields & EventFields;
  rdmsr: EventFields & { value?: string };
  mmio_write: DeliveryFields & EventFields & { unclaimed?: true };
  /** `unreadable`: KVM left the guest's register as the emulator's buffer had it (no value). */
  mmio_read: EventFields & { value?: string; unclaimed?: true; unreadable?: true };
  get_lapic: { regs?: Record<string, string> };
  set_lapic: EventFields;
  enable_cap: object;
  create_vcpu: object;
  ack: EventFields & { vector?: number | null };
  run: EventFields & { mpState?: string; vmexit?: { reason: string; code: number; qualification: number } };
  get_mp_state: EventFields & { mpState?: string };
  set_mp_state: { mpState?: string };
  msi: DeliveryFields & { count?: number };
  vmxon: object;
  vmxoff: object;
  enter_guest: object;
  leave_guest: object;
  enter_smm: object;
  rsm: object;
  clgi: object;
  stgi: object;
  /** The VM clock after it (ns). */
  advance: EventFields & { nowNs?: number };
  local_irq: EventFields;
  nmi_watchdog: EventFields;
  /** What the hypercall returned in RAX: how many LAPICs accepted, or a negative error (-22, -95). */
  pv_send_ipi: DeliveryFields & EventFields & { ret?: number };
}

/** One result shape per op, told apart by `op`. */
export type StepResult = { [K in OpName]: StepCommon & { op: K } & OpResultFields[K] }[OpName];
/** The result of one op. */
export type StepResultOf<K extends OpName> = StepCommon & { op: K } & OpResultFields[K];

/** A step's result: ok, or refused with the decision that refused it (and its words in `reason`). */
export function stepResult<K extends OpName>(i: number, op: K, fields: OpResultFields[K] = {} as OpResultFields[K], refusal?: RefusalDecision | null): StepResultOf<K> {
  if (!refusal) return { i, op, ok: true, ...fields } as StepResultOf<K>;
  const fault = refusal.fault ? { fault: refusal.fault } : { error: refusal.error };
  return { i, op, ok: false, ...fault, reason: explain(refusal), refusal, ...fields } as StepResultOf<K>;
}

/** A result as a plain record, for code that compares results field by field. */
export function resultFields(r: StepResult): Readonly<Record<string, unknown>> {
  return r as unknown as Record<string, unknown>;
}

/** A field of any op's result, or undefined: for code that shows results of every op alike. */
export function field<K extends keyof AnyStepFields>(r: StepResult, k: K): AnyStepFields[K] | undefined {
  return (r as AnyStepFields)[k];
}
type AnyStepFields = StepCommon & DeliveryFields & EventFields & { ret?: number; value?: string; unclaimed?: true; unreadable?: true; regs?: Record<string, string>; vector?: number | null; mpState?: string; count?: number; vmexit?: { reason: string; code: number; qualification: number } };

export interface FinalVcpu {
  vcpu: number;
  apicBase: string;
  mode: string;
  swEnabled: boolean;
  xapicId: number;
  x2apicId: number;
  ldr: string;
  dfr: string;
  tpr: string;
  ppr: string;
  irr: number[];
  isr: number[];
  tmr: number[];
  mpState: string;
  /** Extension: this vCPU's apicv_active, which follows the VM's inhibits at its next entry. */
  apicvActive: boolean;
  pendingInit: boolean;
  pendingSipi: boolean;
  sipiVector: number;
  nmiPending: number;
  smiPending: number;
  guestMode: boolean;
  vmxon: boolean;
  smm: boolean;
  /** Extensions: AMD's GIF, and CS / RIP as the last SIPI (or RESET) left them. */
  gif: boolean;
  cs: string;
  rip: string;
  /** Extension: the APIC timer. */
  timer: FinalTimer;
}

/** The APIC timer as KVM holds it (lapic_timer), on the VM clock. */
export interface FinalTimer {
  mode: 'one-shot' | 'periodic' | 'tsc-deadline';
  tmict: number;
  /** TMCCT as a read now would give it. */
  tmcct: number;
  divide: number;
  /** lapic_timer.period (ns). */
  periodNs: number;
  /** When the hrtimer fires next (ns on the VM clock), or null. */
  nextExpiryNs: number | null;
  /** An expiry waits to be delivered when the vCPU next runs. */
  pending: boolean;
  /** lapic_timer.tscdeadline (guest TSC), as a hex string. */
  tscDeadline: string;
}

export interface FinalMap {
  present: boolean;
  logicalMode?: string;
  maxApicId?: number;
  phys?: Record<string, number>;
  /** Extensions: the xAPIC logical tables (flat: 8 slots; cluster: non-empty clusters of 4). */
  flat?: (number | null)[];
  cluster?: Record<string, (number | null)[]>;
  /** Why the map is absent or its logical part disabled, and the hotplug hack's choices, in words. */
  reasons?: string[];
  /** The same as decisions (the last rebuild's findings). */
  why?: MapDecision[];
}

export interface FinalState {
  /** Extension: the VM clock (ns), moved by `advance`. */
  clockNs: number;
  vcpus: FinalVcpu[];
  map: FinalMap;
  inhibits: string[];
  /** Extension: what set each inhibit that is set, in words. */
  inhibitCauses: Record<string, string>;
  /** Extension: what set each inhibit that is set, as the decision that set it. */
  inhibitWhy: Record<string, InhibitCause>;
  /** Extension: the VM's KVM_CAP_X2APIC_API flags. */
  caps: { x2apicFormat: boolean; broadcastQuirkDisabled: boolean };
  apicvActive: boolean;
  /** The APIC-access page memslot (extension): none, mapped, or deleted for good. */
  apicAccessPage: string;
}

export interface ScenarioResult {
  format: 'apic-result/1';
  steps: StepResult[];
  final: FinalState;
  [field: string]: unknown;
}

/** The final state of every vCPU, the map and the inhibits. */
export function finalState(vm: Vm): FinalState {
  const { clockNs, ...rest } = finalVmState(vm);
  return { clockNs, vcpus: vm.vcpus.map(finalVcpu), map: finalMap(vm), ...rest };
}

/** One vCPU's part of the final state. */
export function finalVcpu(v: Vcpu): FinalVcpu {
  const a = v.apic;
  return {
    vcpu: v.id,
    apicBase: hex(v.apicBase),
    mode: v.mode,
    swEnabled: a.swEnabled,
    xapicId: a.xapicId,
    x2apicId: a.x2apicId,
    ldr: hex(a.getReg(APIC_LDR)),
    dfr: hex(a.getReg(APIC_DFR)),
    tpr: hex(a.getReg(APIC_TASKPRI)),
    ppr: hex(a.getReg(APIC_PROCPRI)),
    irr: a.vectors(APIC_IRR),
    isr: a.vectors(APIC_ISR),
    tmr: a.vectors(APIC_TMR),
    mpState: reportedMpState(v),
    apicvActive: v.apicvActive,
    pendingInit: a.pendingInit,
    pendingSipi: a.pendingSipi,
    sipiVector: a.sipiVector,
    nmiPending: v.nmiPending,
    smiPending: v.smiPending,
    guestMode: v.guestMode,
    vmxon: v.vmxon,
    smm: v.smm,
    gif: v.gif,
    cs: hex(v.csSelector),
    rip: hex(v.rip),
    timer: {
      mode: a.timer.modeName,
      tmict: a.getReg(APIC_TMICT),
      tmcct: a.timer.currentCount(),
      divide: a.timer.divideCount,
      periodNs: a.timer.period,
      nextExpiryNs: a.timer.armedAt,
      pending: a.timer.pending > 0,
      tscDeadline: hex(a.timer.tscDeadline),
    },
  };
}

/** The optimized map's part of the final state. */
export function finalMap(vm: Vm): FinalMap {
  const m = vm.apicMap;
  const map: FinalMap = m
    ? {
        present: true,
        logicalMode: m.logicalMode,
        maxApicId: m.maxApicId,
        phys: Object.fromEntries([...m.phys.entries()].sort((a, b) => a[0] - b[0]).map(([id, v]) => [String(id), v.id])),
      }
    : { present: false };
  const slotIds = (slots: readonly ({ id: number } | undefined)[]) => slots.map((v) => v?.id ?? null);
  if (m?.logicalMode === 'XAPIC_FLAT') map.flat = slotIds(m.flat);
  if (m?.logicalMode === 'XAPIC_CLUSTER') {
    map.cluster = Object.fromEntries(m.cluster.map((c, i) => [String(i), slotIds(c)] as const).filter(([, c]) => c.some((x) => x !== null)));
  }
  if (vm.mapWhy.length) {
    map.reasons = vm.mapWhy.map((d) => explain(d, 'short', { x2apicFormat: vm.x2apicFormat }));
    map.why = [...vm.mapWhy];
  }
  return map;
}

/** The final state without its vCPUs and map: the clock, the inhibits, the VM's flags. */
export function finalVmState(vm: Vm): Omit<FinalState, 'vcpus' | 'map'> {
  const inhibits = vm.inhibits.list();
  const causes = inhibits.filter((r) => vm.inhibitCauses.has(r)).map((r) => [r, vm.inhibitCauses.get(r)!] as const);
  return {
    clockNs: vm.clockNs,
    inhibits,
    apicvActive: vm.apicvActive,
    apicAccessPage: vm.apicAccessPage,
    inhibitCauses: Object.fromEntries(causes.map(([r, c]) => [r, explainInhibitCause(r, c, 'short', { x2apicFormat: vm.x2apicFormat })])),
    inhibitWhy: Object.fromEntries(causes),
    caps: { x2apicFormat: vm.x2apicFormat, broadcastQuirkDisabled: vm.broadcastQuirkDisabled },
  };
}

/** A KVM_GET_LAPIC image as the 64 slots "0x000".."0x3f0". */
export function regsObject(image: Uint32Array): Record<string, string> {
  return Object.fromEntries(SLOT_OFFSETS.map((off) => [slotKey(off), hex(image[off >> 2])]));
}
