/**
 * The apic-result/1 document: per-step results and the final state, serialised exactly as
 * scenario-format.md ("Result") fixes them.
 */
import { APIC_DFR, APIC_IRR, APIC_ISR, APIC_LDR, APIC_PROCPRI, APIC_TASKPRI, APIC_TMR, SLOT_OFFSETS, slotKey } from '../core/apicdef';
import type { Vm } from '../core/vm';
import { hex } from './numbers';

export interface StepResult {
  i: number;
  op: string;
  ok: boolean;
  [field: string]: unknown;
}

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
}

export interface FinalMap {
  present: boolean;
  logicalMode?: string;
  maxApicId?: number;
  phys?: Record<string, number>;
  /** Extensions: the xAPIC logical tables (flat: 8 slots; cluster: non-empty clusters of 4). */
  flat?: (number | null)[];
  cluster?: Record<string, (number | null)[]>;
  /** Why the map is absent or its logical part disabled. */
  reasons?: string[];
}

export interface FinalState {
  vcpus: FinalVcpu[];
  map: FinalMap;
  inhibits: string[];
  /** Extension: what set each inhibit that is set. */
  inhibitCauses: Record<string, string>;
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
  const vcpus = vm.vcpus.map((v): FinalVcpu => {
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
      mpState: v.mpState,
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
    };
  });
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
  if (vm.mapReasons.length) map.reasons = [...vm.mapReasons];
  const inhibits = vm.inhibits.list();
  return {
    vcpus,
    map,
    inhibits,
    apicvActive: vm.apicvActive,
    apicAccessPage: vm.apicAccessPage,
    inhibitCauses: Object.fromEntries(inhibits.filter((r) => vm.inhibitCauses.has(r)).map((r) => [r, vm.inhibitCauses.get(r)!])),
    caps: { x2apicFormat: vm.x2apicFormat, broadcastQuirkDisabled: vm.broadcastQuirkDisabled },
  };
}

/** A KVM_GET_LAPIC image as the 64 slots "0x000".."0x3f0". */
export function regsObject(image: Uint32Array): Record<string, string> {
  return Object.fromEntries(SLOT_OFFSETS.map((off) => [slotKey(off), hex(image[off >> 2])]));
}
