/** Small shared types of the emulation core. */
import type { Decision } from './decisions';

/** KVM's vcpu_id: also the vCPU's x2APIC ID. */
export type VcpuId = number;

/** An errno name returned by a refused ioctl. */
export type Errno = 'EINVAL' | 'EEXIST' | 'EPERM' | 'ENXIO' | 'EBUSY';

/** What a guest access or host ioctl did: faulted, was refused, or succeeded. */
export type Outcome = { ok: true } | { ok: false; fault: '#GP' } | { ok: false; error: Errno };

export const OK: Outcome = { ok: true };
export const GP: Outcome = { ok: false, fault: '#GP' };
export const einval: Outcome = { ok: false, error: 'EINVAL' };

/** KVM_MP_STATE_* names (uapi), by value. */
export const MP_STATES = [
  'RUNNABLE',
  'UNINITIALIZED',
  'INIT_RECEIVED',
  'HALTED',
  'SIPI_RECEIVED',
  'STOPPED',
  'CHECK_STOP',
  'OPERATING',
  'LOAD',
  'AP_RESET_HOLD',
  'SUSPENDED',
] as const;
export type MpState = (typeof MP_STATES)[number];

/** lapic.h enum lapic_mode, from APICBASE bits 11 (EN) and 10 (EXTD). */
export type LapicMode = 'disabled' | 'invalid' | 'xapic' | 'x2apic';

/** One entry of the trace a step leaves, named after the KVM tracepoint or function it mirrors. */
export interface TraceEvent {
  event: string;
  vcpu?: VcpuId;
  detail: string;
  /** Why, for events that record a decision (an inhibit change). */
  decision?: Decision;
}

/**
 * A trace event whose words are formatted only when read: interrupt-heavy loops leave thousands
 * of events that are usually never looked at. Serialises like a plain TraceEvent. (The hot
 * tracepoints keep their fields instead of a closure: traceFormat.ts.)
 */
export class LazyTraceEvent implements TraceEvent {
  constructor(
    readonly event: string,
    readonly vcpu: VcpuId | undefined,
    private readonly format: () => string,
    readonly decision?: Decision,
  ) {}
  get detail(): string {
    return this.format();
  }
  toJSON(): TraceEvent {
    const e: TraceEvent = this.vcpu === undefined ? { event: this.event, detail: this.detail } : { event: this.event, vcpu: this.vcpu, detail: this.detail };
    if (this.decision) e.decision = this.decision;
    return e;
  }
}

/**
 * A trace record that stands for several events, made when read (traceEvents): an IPI's delivery
 * (its kvm_apic_ipi line, one kvm_apic_accept_irq per LAPIC reached, the ICR exit note). A
 * broadcast reaches thousands of LAPICs, and most traces are never read.
 */
export interface TraceBatch {
  /** Append its events, in the order they happened. */
  expandInto(into: TraceEvent[]): void;
}

/** What a VM's trace holds (Vm.takeTrace): events, and batches of them. */
export type TraceRecord = TraceEvent | TraceBatch;

/** The trace events of `records`, in order, each batch's in its place. */
export function traceEvents(records: readonly TraceRecord[]): TraceEvent[] {
  let out: TraceEvent[] | null = null;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if ('expandInto' in r) {
      out ??= records.slice(0, i) as TraceEvent[];
      r.expandInto(out);
    } else out?.push(r);
  }
  return out ?? (records as TraceEvent[]);
}
