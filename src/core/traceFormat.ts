/**
 * KVM's local APIC trace lines, character for character, and `trace-cmd report` text of a run's
 * trace events (the "copy trace" of the event log, and what src/import reads back).
 *
 * Models the TP_printk formats of arch/x86/kvm/trace.h and the values their callers pass:
 *   kvm_apic             "apic_%s %s = 0x%llx"             kvm_lapic_reg_read (offset as accessed, the
 *                                                           32-bit value), kvm_lapic_reg_write,
 *                                                           kvm_x2apic_icr_write (the 64-bit ICR);
 *                                                           names from kvm_trace_symbol_apic, other
 *                                                           offsets as __print_symbolic does: "0x%lx"
 *   kvm_apic_ipi         "dst %x vec %u (%s|%s|%s|%s|%s)"  kvm_apic_send_ipi (icr_low, dest_id)
 *   kvm_apic_accept_irq  "apicid %x vec %u (%s|%s)"        __apic_accept_irq, on entry, for every
 *                                                           delivery mode (vcpu_id, delivery_mode,
 *                                                           trig_mode, vector)
 *   kvm_msi_set_irq      "dst %llx vec %u (%s|%s|%s%s)"    kvm_set_msi_irq (address_lo, | address_hi
 *                                                           << 32 with 32-bit x2APIC IDs; data)
 *   kvm_msr              "msr_%s %x = 0x%llx%s"            kvm_emulate_wrmsr / rdmsr, after the access
 * with kvm_deliver_mode and kvm_apic_dst_shorthand from codec.ts.
 *
 * Inaccuracies: the formats are current kernels'. Before 5.18 kvm_apic printed a u32 ("0x%x");
 * before 2020 kvm_apic_accept_irq kept trig_mode in a u8, so a level-triggered IPI (trig_mode
 * 0x8000) printed "edge"; older kernels traced it only for accepted Fixed interrupts, with a
 * " (coalesced)" suffix. traceToText invents the timestamps, thread ids and CPUs, and renders the
 * lab's own events (map rebuilds, inhibits, notes) as lines too.
 */
import { decodeIcrLow, decodeMsi, KVM_DELIVERY_MODE_NAMES, KVM_SHORTHAND_NAMES, x2apicIcr } from './codec';
import type { TraceEvent, VcpuId } from './types';

/** trace.h kvm_trace_symbol_apic: the register names kvm_apic prints, by offset. */
export const KVM_TRACE_SYMBOL_APIC: ReadonlyMap<number, string> = new Map([
  [0x20, 'APIC_ID'], [0x30, 'APIC_LVR'], [0x80, 'APIC_TASKPRI'], [0x90, 'APIC_ARBPRI'], [0xa0, 'APIC_PROCPRI'],
  [0xb0, 'APIC_EOI'], [0xc0, 'APIC_RRR'], [0xd0, 'APIC_LDR'], [0xe0, 'APIC_DFR'], [0xf0, 'APIC_SPIV'],
  [0x100, 'APIC_ISR'], [0x180, 'APIC_TMR'], [0x200, 'APIC_IRR'], [0x280, 'APIC_ESR'], [0x300, 'APIC_ICR'],
  [0x310, 'APIC_ICR2'], [0x320, 'APIC_LVTT'], [0x330, 'APIC_LVTTHMR'], [0x340, 'APIC_LVTPC'], [0x350, 'APIC_LVT0'],
  [0x360, 'APIC_LVT1'], [0x370, 'APIC_LVTERR'], [0x380, 'APIC_TMICT'], [0x390, 'APIC_TMCCT'], [0x3e0, 'APIC_TDCR'],
  [0x3f0, 'APIC_SELF_IPI'], [0x400, 'APIC_EFEAT'], [0x410, 'APIC_ECTRL'],
]);

const hex = (v: number | bigint): string => BigInt.asUintN(64, BigInt(v)).toString(16);

/** kvm_apic: `trace_kvm_apic_read(offset, result)` / `trace_kvm_apic_write(reg, val)`. */
export function formatApicAccess(isWrite: boolean, reg: number, value: number | bigint): string {
  return `apic_${isWrite ? 'write' : 'read'} ${KVM_TRACE_SYMBOL_APIC.get(reg) ?? '0x' + hex(reg)} = 0x${hex(value)}`;
}

/** kvm_apic_ipi: `trace_kvm_apic_ipi(icr_low, dest_id)`. */
export function formatApicIpi(icrLow: number, destId: number): string {
  const f = decodeIcrLow(icrLow);
  return `dst ${hex(destId >>> 0)} vec ${f.vector} (${KVM_DELIVERY_MODE_NAMES[f.deliveryMode]}|${f.logical ? 'logical' : 'physical'}|${f.level ? 'assert' : 'de-assert'}|${f.trigLevel ? 'level' : 'edge'}|${KVM_SHORTHAND_NAMES[f.shorthand]})`;
}

/** kvm_apic_accept_irq: `trace_kvm_apic_accept_irq(vcpu->vcpu_id, delivery_mode, trig_mode, vector)`. */
export function formatAcceptIrq(apicid: number, vector: number, deliveryMode: number, trigLevel: boolean): string {
  return `apicid ${hex(apicid >>> 0)} vec ${vector & 0xff} (${KVM_DELIVERY_MODE_NAMES[deliveryMode & 7]}|${trigLevel ? 'level' : 'edge'})`;
}

/** The 64-bit address kvm_set_msi_irq traces: address_hi joins only with 32-bit x2APIC IDs. */
export function msiTraceAddress(addressLo: number, addressHi: number, x2apicFormat: boolean): bigint {
  return BigInt(addressLo >>> 0) | (x2apicFormat ? BigInt(addressHi >>> 0) << 32n : 0n);
}

/** kvm_msi_set_irq: `trace_kvm_msi_set_irq(address, data)`. */
export function formatMsiSetIrq(address: bigint, data: number): string {
  const m = decodeMsi({ addressLo: Number(address & 0xffffffffn), addressHi: Number((address >> 32n) & 0xffffffffn), data }, true);
  return `dst ${hex(m.destId)} vec ${m.vector} (${KVM_DELIVERY_MODE_NAMES[m.deliveryMode]}|${m.logical ? 'logical' : 'physical'}|${m.trigLevel ? 'level' : 'edge'}${m.msiRedirHint ? '|rh' : ''})`;
}

/** kvm_msr: `trace_kvm_msr_write(ecx, data)` and friends. */
export function formatMsr(isWrite: boolean, msr: number, value: bigint, gp = false): string {
  return `msr_${isWrite ? 'write' : 'read'} ${hex(msr >>> 0)} = 0x${hex(value)}${gp ? ' (#GP)' : ''}`;
}

// ---- the hot tracepoints' records ----------------------------------------------------------
//
// As the kernel's ring buffer keeps them: the TP_STRUCT__entry fields, made into words by
// TP_printk only when the trace is read. Most are never read: a closure per event
// (LazyTraceEvent) took about a third of a unicast IPI's time. An IPI's kvm_apic_ipi and
// kvm_apic_accept_irq records are made later still, from its delivery's one trace record, when
// the trace is read (traceEvents(), TraceBatch in types.ts). Each serialises like a plain TraceEvent.
// Their fields are declared without a value and set in the constructor: a class field initialiser
// would run as a second function for every record. Each has a `shareKey`, its class and fields in a
// line: two records with the same key print the same, so the store's log (SharedParts) compares
// keys instead of formatting the words of every event of a long log.

/** A trace record as plain data: what JSON and the app's copies hold. */
function plainEvent(e: TraceEvent): TraceEvent {
  return e.vcpu === undefined ? { event: e.event, detail: e.detail } : { event: e.event, vcpu: e.vcpu, detail: e.detail };
}

/** kvm_msr, traced by kvm_emulate_wrmsr / rdmsr after a guest access. */
export class MsrTrace implements TraceEvent {
  declare readonly event: 'kvm_msr';
  declare readonly vcpu: VcpuId;
  private declare readonly isWrite: boolean;
  private declare readonly msr: number;
  private declare readonly value: bigint;
  private declare readonly gp: boolean;
  constructor(vcpu: VcpuId, isWrite: boolean, msr: number, value: bigint, gp: boolean) {
    this.event = 'kvm_msr';
    this.vcpu = vcpu;
    this.isWrite = isWrite;
    this.msr = msr;
    this.value = value;
    this.gp = gp;
  }
  get detail(): string {
    return formatMsr(this.isWrite, this.msr, this.value, this.gp);
  }
  /** Its fields (see shareKey above). */
  get shareKey(): string {
    return `kvm_msr ${this.vcpu} ${this.isWrite} ${this.msr} ${this.value} ${this.gp}`;
  }
  toJSON(): TraceEvent {
    return plainEvent(this);
  }
}

/** kvm_apic: a register read or write; the u64 value as two u32 halves (high: the x2APIC ICR's destination). */
export class ApicAccessTrace implements TraceEvent {
  declare readonly event: 'kvm_apic';
  declare readonly vcpu: VcpuId;
  private declare readonly isWrite: boolean;
  private declare readonly reg: number;
  private declare readonly valueLow: number;
  private declare readonly valueHigh: number;
  constructor(vcpu: VcpuId, isWrite: boolean, reg: number, valueLow: number, valueHigh = 0) {
    this.event = 'kvm_apic';
    this.vcpu = vcpu;
    this.isWrite = isWrite;
    this.reg = reg;
    this.valueLow = valueLow;
    this.valueHigh = valueHigh;
  }
  get detail(): string {
    return formatApicAccess(this.isWrite, this.reg, this.valueHigh ? x2apicIcr(this.valueLow, this.valueHigh) : this.valueLow >>> 0);
  }
  /** Its fields (see shareKey above). */
  get shareKey(): string {
    return `kvm_apic ${this.vcpu} ${this.isWrite} ${this.reg} ${this.valueLow} ${this.valueHigh}`;
  }
  toJSON(): TraceEvent {
    return plainEvent(this);
  }
}

/** kvm_apic_ipi, traced by kvm_apic_send_ipi. */
export class ApicIpiTrace implements TraceEvent {
  declare readonly event: 'kvm_apic_ipi';
  declare readonly vcpu: VcpuId;
  private declare readonly icrLow: number;
  private declare readonly destId: number;
  constructor(vcpu: VcpuId, icrLow: number, destId: number) {
    this.event = 'kvm_apic_ipi';
    this.vcpu = vcpu;
    this.icrLow = icrLow;
    this.destId = destId;
  }
  get detail(): string {
    return formatApicIpi(this.icrLow, this.destId);
  }
  /** Its fields (see shareKey above). */
  get shareKey(): string {
    return `kvm_apic_ipi ${this.vcpu} ${this.icrLow} ${this.destId}`;
  }
  toJSON(): TraceEvent {
    return plainEvent(this);
  }
}

/** kvm_apic_accept_irq, traced by __apic_accept_irq on entry; `vcpu` is the target (the sender's thread runs it). */
export class AcceptIrqTrace implements TraceEvent {
  declare readonly event: 'kvm_apic_accept_irq';
  declare readonly vcpu: VcpuId;
  private declare readonly vector: number;
  private declare readonly deliveryMode: number;
  private declare readonly trigLevel: boolean;
  constructor(vcpu: VcpuId, vector: number, deliveryMode: number, trigLevel: boolean) {
    this.event = 'kvm_apic_accept_irq';
    this.vcpu = vcpu;
    this.vector = vector;
    this.deliveryMode = deliveryMode;
    this.trigLevel = trigLevel;
  }
  get detail(): string {
    return formatAcceptIrq(this.vcpu, this.vector, this.deliveryMode, this.trigLevel);
  }
  /** Its fields (see shareKey above). */
  get shareKey(): string {
    return `kvm_apic_accept_irq ${this.vcpu} ${this.vector} ${this.deliveryMode} ${this.trigLevel}`;
  }
  toJSON(): TraceEvent {
    return plainEvent(this);
  }
}

export interface TraceTextOptions {
  /** The VMM's pid; vCPU n runs as thread "CPU n/KVM" with pid + 1 + n. Default 1233. */
  pid?: number;
  /** Seconds on the first line's clock. Default 100. */
  start?: number;
  /** Only events of these tracepoints (default: every event). */
  events?: readonly string[];
}

/** The tracepoints whose lines the lab prints in KVM's own format (and src/import reads). */
export const KVM_FORMAT_EVENTS = ['kvm_msr', 'kvm_apic', 'kvm_apic_ipi', 'kvm_apic_accept_irq', 'kvm_msi_set_irq'] as const;

/**
 * `trace-cmd report` lines for the trace events of each step, in order. Each line is on the
 * thread of the vCPU that acts (kvm_apic_accept_irq names its target, but runs on the sender's
 * thread; KVM_SIGNAL_MSI runs on the VMM's); clocks and ids are made up but consistent.
 */
export function traceToText(steps: readonly (readonly TraceEvent[])[], opts: TraceTextOptions = {}): string {
  const pid = opts.pid ?? 1233;
  let micros = Math.round((opts.start ?? 100) * 1e6);
  const only = opts.events ? new Set(opts.events) : null;
  const lines: string[] = [];
  for (const events of steps) {
    let thread: number | undefined; // the acting vCPU; undefined: the VMM
    const emit = (vcpu: number | undefined, e: TraceEvent, detail: string): void => {
      if (only && !only.has(e.event)) return;
      const task = vcpu === undefined ? `qemu-system-x86-${pid}` : `CPU ${vcpu}/KVM-${pid + 1 + vcpu}`;
      const cpu = String((vcpu ?? 0) % 1000).padStart(3, '0');
      micros++;
      const clock = `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
      lines.push(`${task.padStart(16)} [${cpu}] ${clock}: ${`${e.event}:`.padEnd(21)} ${detail}`);
    };
    for (const e of events) {
      if (e.event === 'kvm_msi_set_irq') thread = undefined;
      else if (e.event !== 'kvm_apic_accept_irq' && e.vcpu !== undefined) thread = e.vcpu;
      emit(thread, e, e.detail);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
