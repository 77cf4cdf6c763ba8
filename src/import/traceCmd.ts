/**
 * Import a `trace-cmd report` (or ftrace `trace` file) of KVM's APIC tracepoints as an
 * apic-scenario/1 document, plus a report of what was used, what was skipped and why.
 *
 * Pure: text in, { scenario, report } out; no I/O. The scenario's expectFinal is what the trace
 * proves about the state it ends in (finalState.ts). Print formats (arch/x86/kvm/trace.h; the lab
 * prints its own with src/core/traceFormat.ts, and the names and bits come from src/core/codec.ts):
 *   kvm_msr              "msr_%s %x = 0x%llx%s"            (read|write, ecx, data, " (#GP)")
 *   kvm_apic             "apic_%s %s = 0x%llx"             (read|write, kvm_trace_symbol_apic name or 0x.., value;
 *                                                            u32 "0x%x" before 5.18)
 *   kvm_apic_ipi         "dst %x vec %u (%s|%s|%s|%s|%s)"   (mode|physical,logical|assert,de-assert|edge,level|shorthand)
 *   kvm_apic_accept_irq  "apicid %x vec %u (%s|%s)"         (vcpu_id, vector, mode|edge,level; older kernels
 *                                                            appended " (coalesced)")
 *   kvm_msi_set_irq      "dst %llx vec %u (%s|%s|%s%s)"     (dst = addr[19:12] | addr_hi[31:8]; older kernels:
 *                                                            "dst %u vec %x", see options.msiFormat)
 *   kvm_eoi, kvm_pv_eoi  "apicid %x vector %d"              (the vcpu_id of the vCPU doing the EOI)
 *   kvm_entry            "vcpu %u, rip 0x%lx"; kvm_exit "vcpu %u reason ..." (older kernels: no vcpu)
 *   kvm_inj_virq         "irq %u" (older) / "IRQ 0x%x[ [reinjected]]" (newer)
 *   kvm_apicv_inhibit_changed "%s reason=%u, inhibits=0x%lx"
 *   kvm_hypercall        "nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx" (RAX, RBX, RCX, RDX, RSI as the guest
 *                                                            left them: traced before the 32-bit cut of a
 *                                                            guest not in 64-bit mode; nr 0xa is
 *                                                            KVM_HC_SEND_IPI, see options.hypercall64)
 *
 * The order of events inside one access matters and is KVM's:
 *   - xAPIC MMIO write: kvm_apic(write) first (kvm_lapic_reg_write traces on entry), then for ICR
 *     kvm_apic_ipi and one kvm_apic_accept_irq per __apic_accept_irq call.
 *   - x2APIC WRMSR: the same kvm_apic line(s) (or, for ICR on newer kernels, kvm_apic_ipi +
 *     accept_irq + kvm_apic(write APIC_ICR)) and then kvm_msr, which kvm_emulate_wrmsr traces
 *     *after* the write. The kvm_apic lines are then part of the MSR access, not MMIO.
 *   - reads: kvm_lapic_reg_read traces kvm_apic(read) before kvm_msr(read).
 *   - PV IPI (KVM_HC_SEND_IPI): kvm_hypercall first (____kvm_emulate_hypercall), then one
 *     kvm_apic_accept_irq per LAPIC __pv_send_ipi reaches (kvm_apic_set_irq), in the order of the
 *     bitmap walk: low bitmap bits from min up, then the high bitmap. No kvm_apic_ipi.
 */

import { APIC_BASE_MSR, APIC_ICR, APIC_ICR2, APIC_SELF_IPI, APIC_TMCCT, MSR_IA32_APICBASE } from '../core/apicdef';
import { decodeIcrLow, DELIVERY_MODE_NAMES, DM_FIXED, DM_INIT, DM_LOWEST, encodeMsi, KVM_DELIVERY_MODE_NAMES } from '../core/codec';
import { KVM_HC_SEND_IPI, pvIcrRefused } from '../core/pvIpi';
import { KVM_TRACE_SYMBOL_APIC } from '../core/traceFormat';
import { inferFinal, type FinalClaim, type FinalLeftOut } from './finalState';

/** Longest line accepted; real tracepoint lines are a few hundred characters. */
export const MAX_LINE_LENGTH = 4096;
/** Most steps one import produces (the rest is reported, not imported). */
export const MAX_STEPS = 50_000;
/** Report lists are capped at this many entries each (counts stay exact). */
export const MAX_REPORT_ENTRIES = 2_000;
/** vCPU ids KVM accepts (KVM_MAX_VCPU_IDS of a MAXSMP kernel, as the lab models): ids are below it. */
export const MAX_VCPU_ID = 16384;
const MAX_VCPUS = 4096;

export class TraceImportError extends Error {
  /** The options.threads key that is wrong, when that is the error. */
  constructor(message: string, readonly pid?: string) {
    super(message);
  }
}

export interface TraceImportOptions {
  /** Thread id (pid in the trace) → vCPU id, overriding inference; null leaves the thread's events out. */
  threads?: Record<string, number | null>;
  /**
   * How kvm_msi_set_irq prints: "current" = "dst %llx vec %u" (with the extended destination
   * bits), "legacy" = "dst %u vec %x" of older kernels. Default "current".
   */
  msiFormat?: 'current' | 'legacy';
  /** Cap on produced steps (default and maximum MAX_STEPS). */
  maxSteps?: number;
  /**
   * Whether the guest made its hypercalls in 64-bit mode (is_64_bit_hypercall), which kvm_hypercall
   * does not show: true (default) = a 64-bit guest, the PV IPI steps omit op64; false = a 32-bit
   * guest: KVM cuts nr and every argument to 32 bits, and the steps get op64: false.
   */
  hypercall64?: boolean;
}

export interface ReportStep {
  /** Index of the step in scenario.steps. */
  step: number;
  /** Trace line (1-based) of the event that defines the step. */
  line: number;
  event: string;
  op: string;
  vcpu?: number;
  /** Other trace lines folded into this step (kvm_apic halves of an MSR access, the IPI line...). */
  alsoLines: number[];
}

export interface ReportCheck {
  step: number;
  /** The kvm_apic_accept_irq lines turned into the step's expected `delivered`. */
  lines: number[];
  delivered: { vcpu: number; mode: string; vector: number }[];
}

export interface ReportSkip {
  line: number;
  event: string;
  reason: string;
}

export interface ReportLine {
  line: number;
  reason: string;
  /** The line, cut to 160 characters. */
  text: string;
}

export interface ReportVcpu {
  vcpu: number;
  /** Threads (pid and task name) whose events were given to this vCPU. */
  threads: { pid: number; comm: string }[];
  /** How the id was found. */
  how: string;
  /** First trace line that showed it. */
  line: number;
}

export interface ReportThread {
  pid: number;
  comm: string;
  firstLine: number;
  apicEvents: number;
  reason: string;
}

export interface TraceImportReport {
  /** What the text looked like: trace-cmd report, ftrace trace file, or neither. */
  source: 'trace-cmd' | 'ftrace' | 'unknown';
  totalLines: number;
  /** Lines that parsed as `<comm>-<pid> [<cpu>] <ts>: <event>: <fields>`. */
  eventLines: number;
  steps: ReportStep[];
  /** accept_irq lines that became expectations (checks, not inputs). */
  checks: ReportCheck[];
  skipped: ReportSkip[];
  skippedCount: number;
  notUnderstood: ReportLine[];
  notUnderstoodCount: number;
  /** Events of other tracepoints (kvm_exit, sched_switch...), by name: used only as context. */
  otherEvents: Record<string, number>;
  vcpus: ReportVcpu[];
  /** Threads with APIC events whose vCPU could not be inferred (their events are skipped). */
  unresolvedThreads: ReportThread[];
  warnings: { line?: number; message: string }[];
  notes: string[];
  /** What the trace proves about the end state: each entry of scenario.expectFinal, with the line that proves it. */
  final: FinalClaim[];
  /** Values the trace showed but that a later event may have changed: left out of expectFinal, and why. */
  finalLeftOut: FinalLeftOut[];
}

export interface TraceImportResult {
  scenario: {
    format: 'apic-scenario/1';
    title: string;
    description: string;
    vm: { vcpus: number[]; apicv?: false };
    steps: Record<string, unknown>[];
    /** What the trace proves about the final state (report.final says which line proves each entry). */
    expectFinal?: Record<string, unknown>;
    source: Record<string, unknown>;
  };
  report: TraceImportReport;
}

// ---------------------------------------------------------------------------------------------
// Tables from trace.h

/** kvm_trace_symbol_apic: the names __print_symbolic prints, and their offsets (apicdef.h). */
export const APIC_TRACE_NAMES: Readonly<Record<string, number>> = Object.fromEntries([...KVM_TRACE_SYMBOL_APIC].map(([offset, name]) => [name, offset]));

/** kvm_deliver_mode names → the delivery mode and the lab's name for it (result `delivered[].mode`). */
const DELIVERY_MODES: Readonly<Record<string, { dm: number; name: string }>> = Object.fromEntries(
  KVM_DELIVERY_MODE_NAMES.map((kvmName, dm) => [kvmName, { dm, name: DELIVERY_MODE_NAMES[dm] }]),
);

/** x2APIC MSRs are APIC_BASE_MSR + (MMIO offset >> 4). */
const MSR_X2APIC_ICR = APIC_BASE_MSR + (APIC_ICR >> 4);
const MSR_X2APIC_TMCCT = APIC_BASE_MSR + (APIC_TMCCT >> 4);
const MSR_X2APIC_SELF_IPI = APIC_BASE_MSR + (APIC_SELF_IPI >> 4);
/** Hyper-V synthetic APIC MSRs (HV_X64_MSR_EOI/ICR/TPR): PV accesses to the same registers. */
const HV_APIC_MSRS: Readonly<Record<number, number[]>> = { 0x40000070: [0xb0], 0x40000071: [APIC_ICR, APIC_ICR2], 0x40000072: [0x80] };

/** Events that show which vCPU a thread runs (the event runs on that vCPU's own thread). */
const VCPU_EVIDENCE: Readonly<Record<string, RegExp>> = {
  kvm_entry: /^vcpu (\d+)\b/,
  kvm_exit: /^vcpu (\d+) /,
  kvm_eoi: /^apicid ([0-9a-f]+) vector/, // vcpu->vcpu_id, printed %x
  kvm_pv_eoi: /^apicid ([0-9a-f]+) vector/,
  kvm_avic_incomplete_ipi: /^vcpu=(\d+),/,
  kvm_avic_unaccelerated_access: /^vcpu=(\d+),/,
};
const HEX_EVIDENCE = new Set(['kvm_eoi', 'kvm_pv_eoi']);

/** KVM's hypercall numbers an x86 guest makes (include/uapi/linux/kvm_para.h), named in the report. */
const KVM_HC_NAMES: Readonly<Record<number, string>> = {
  1: 'KVM_HC_VAPIC_POLL_IRQ', 2: 'KVM_HC_MMU_OP', 3: 'KVM_HC_FEATURES', 5: 'KVM_HC_KICK_CPU', 9: 'KVM_HC_CLOCK_PAIRING',
  [KVM_HC_SEND_IPI]: 'KVM_HC_SEND_IPI', 11: 'KVM_HC_SCHED_YIELD', 12: 'KVM_HC_MAP_GPA_RANGE',
};
const KVM_HC_KICK_CPU = 5;
const U32 = 0xffffffffn;

/** kvm_hypercall's registers, or what is wrong with the line. */
function parseHypercall(body: string): { nr: bigint; a: [bigint, bigint, bigint, bigint] } | string {
  const m = /^nr 0x([0-9a-fA-F]+) a0 0x([0-9a-fA-F]+) a1 0x([0-9a-fA-F]+) a2 0x([0-9a-fA-F]+) a3 0x([0-9a-fA-F]+)$/.exec(body);
  if (!m) return 'kvm_hypercall fields not in the form "nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx"';
  const v = m.slice(1, 6).map((d, i) => hexBits(d, 64, i === 0 ? 'nr' : `a${i - 1}`));
  const bad = v.find((x) => typeof x === 'string');
  if (bad !== undefined) return `kvm_hypercall: ${bad}`;
  const [nr, a0, a1, a2, a3] = v as bigint[];
  return { nr, a: [a0, a1, a2, a3] };
}

/** Events on a vCPU thread that end an access: what follows belongs to another access. */
const BOUNDARY_EVENTS = new Set([
  'kvm_entry', 'kvm_exit', 'kvm_userspace_exit', 'kvm_inj_virq', 'kvm_inj_exception', 'kvm_page_fault',
  'kvm_emulate_insn', 'kvm_pio', 'kvm_hypercall', 'kvm_cpuid', 'kvm_cr', 'kvm_fpu', 'kvm_vcpu_wakeup',
  'kvm_halt_poll_ns', 'kvm_nested_vmenter', 'kvm_nested_vmexit', 'kvm_nested_vmexit_inject',
  'kvm_nested_intr_vmexit', 'kvm_smm_transition', 'kvm_enter_smm', 'sched_switch',
]);

// ---------------------------------------------------------------------------------------------
// Lines

/**
 * `[<buffer>: ]<comm>-<pid> [(<tgid>)] [<cpu>] [<flags>] <ts>: <event>: <fields>`, or the latency
 * format of `trace-cmd report -l`: `[<buffer>: ]<comm>-<pid> <cpu><flags> <ts>: ...` (comm cut to 8
 * characters, the flags glued to the CPU number). `trace-cmd report` of an instance buffer
 * (`trace-cmd extract -B NAME`) starts every line with `NAME: `.
 */
const LINE_RE = /^\s*(?:([\w.-]+):\s+)?(.*?)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?(?:\[(\d+)\]\s+(?:([A-Za-z.0-9]{4,6})\s+)?|(\d+)([dDXb.][A-Za-z.0-9]{3,5})\s+)(\d+\.\d+)(?:\s*us)?:\s+([A-Za-z_]\w*):\s*(.*?)\s*$/;

interface Rec {
  line: number;
  comm: string;
  pid: number;
  /** Hard or soft interrupt (or NMI) context, from the ftrace flags; false when unknown. */
  inIrq: boolean;
  event: string;
  body: string;
  text: string;
}

function clip(s: string): string {
  return s.length > 160 ? s.slice(0, 157) + '...' : s;
}

function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

/** Parse hex digits (no 0x) that must fit in `bits`; a message when they do not. */
function hexBits(digits: string, bits: number, what: string): bigint | string {
  const v = BigInt('0x' + digits);
  if (v >= 1n << BigInt(bits)) return `${what} 0x${digits.length > 40 ? digits.slice(0, 40) + '...' : digits} does not fit in ${bits} bits`;
  return v;
}

function decBits(digits: string, bits: number, what: string): bigint | string {
  const v = BigInt(digits);
  if (v >= 1n << BigInt(bits)) return `${what} ${digits.length > 40 ? digits.slice(0, 40) + '...' : digits} does not fit in ${bits} bits`;
  return v;
}

/** The destination and shorthand a kvm_apic_ipi line shows ("dst %x vec %u (...|shorthand)"). */
function ipiRoute(rec: Rec): { dst: number; shorthand: string } | undefined {
  const m = /^dst ([0-9a-fA-F]{1,8}) vec \d+ \(\w+\|\w+\|[\w-]+\|\w+\|([\w-]+)\)$/.exec(rec.body);
  return m ? { dst: parseInt(m[1], 16), shorthand: m[2] } : undefined;
}

/** "line 3", "lines 3 and 4", "lines 3, 4 and 9", at most six numbers. */
function lineList(lines: number[]): string {
  if (lines.length === 1) return `line ${lines[0]}`;
  if (lines.length > 6) return `lines ${lines.slice(0, 5).join(', ')} and ${lines.length - 5} more`;
  return `lines ${lines.slice(0, -1).join(', ')} and ${lines[lines.length - 1]}`;
}

/**
 * Whether KVM may recalculate its optimized APIC map after this step (kvm_recalculate_apic_map):
 * a write of the APIC ID, LDR, DFR, SPIV (the software enable) or IA32_APIC_BASE, KVM_SET_LAPIC,
 * KVM_CREATE_VCPU. Writes that fault are counted too (conservative).
 */
function mayRebuildMap(step: Record<string, unknown>): boolean {
  if (step.op === 'set_lapic' || step.op === 'create_vcpu') return true;
  if (step.op === 'mmio_write') return [0x20, 0xd0, 0xe0, 0xf0].includes(parseInt(String(step.offset), 16));
  if (step.op !== 'wrmsr') return false;
  const msr = parseInt(String(step.msr), 16);
  return msr === MSR_IA32_APICBASE || [0x802, 0x80d, 0x80e, 0x80f].includes(msr);
}

// ---------------------------------------------------------------------------------------------
// Parsed events

type Item =
  | { kind: 'apic'; rec: Rec; write: boolean; reg: number | null; regText: string; value: bigint }
  | { kind: 'ipi'; rec: Rec }
  | { kind: 'accept'; rec: Rec; vcpu: number; mode: string; dm: number; vector: number; level: boolean }
  | { kind: 'eoi'; rec: Rec };

interface Slot {
  /** Ordering key: the first trace line of the access. */
  order: number;
  line: number;
  event: string;
  step: Record<string, unknown>;
  vcpu?: number;
  also: number[];
  accepts: Extract<Item, { kind: 'accept' }>[];
  /** The ICR low word when the step sends an IPI (to recognise level de-asserts). */
  icrLow?: number;
  sends: boolean;
  /** The trace shows the send itself (kvm_apic_ipi, kvm_msi_set_irq): no accept means no target. */
  noTargetCheck?: boolean;
  /** Not a traced access: a state the trace proves (KVM_CAP_X2APIC_API, x2APIC mode, a map rebuild) set up by the importer. */
  inferred?: boolean;
  /** Where a send went, from its traced kvm_apic_ipi or kvm_msi_set_irq line; a PV IPI's is `{ dst: min, shorthand: 'pv' }`. */
  route?: { dst: number; shorthand: string };
}

class Reporter {
  report: TraceImportReport;
  /** Lines after which the trace may miss anything (lost events, lines not understood): see finalState.ts. */
  breaks: { line: number; why: string }[] = [];
  constructor() {
    this.report = {
      source: 'unknown', totalLines: 0, eventLines: 0, steps: [], checks: [],
      skipped: [], skippedCount: 0, notUnderstood: [], notUnderstoodCount: 0, otherEvents: {},
      vcpus: [], unresolvedThreads: [], warnings: [], notes: [], final: [], finalLeftOut: [],
    };
  }
  skip(rec: Rec, reason: string): void {
    this.report.skippedCount++;
    if (this.report.skipped.length < MAX_REPORT_ENTRIES) this.report.skipped.push({ line: rec.line, event: rec.event, reason });
  }
  bad(line: number, reason: string, text: string): void {
    this.report.notUnderstoodCount++;
    this.breaks.push({ line, why: 'a line not understood, which may be an event that changed the state' });
    if (this.report.notUnderstood.length < MAX_REPORT_ENTRIES) this.report.notUnderstood.push({ line, reason, text: clip(text) });
  }
  warn(message: string, line?: number): void {
    if (this.report.warnings.length < MAX_REPORT_ENTRIES) this.report.warnings.push(line === undefined ? { message } : { line, message });
  }
}

/** Import a trace; see the module comment. Throws TraceImportError only when `text` is not a string. */
export function importTrace(text: string, options: TraceImportOptions = {}): TraceImportResult {
  if (typeof text !== 'string') throw new TraceImportError('importTrace: the trace must be a string (the text of `trace-cmd report` or of tracefs `trace`)');
  for (const [pid, v] of Object.entries(options.threads ?? {})) {
    if (v !== null && !(Number.isInteger(v) && v >= 0 && v < MAX_VCPU_ID)) {
      throw new TraceImportError(`importTrace: options.threads["${pid}"] is ${String(v)}: a vCPU id is a whole number from 0 to ${MAX_VCPU_ID - 1} (null leaves the thread out)`, pid);
    }
  }
  if (options.hypercall64 !== undefined && typeof options.hypercall64 !== 'boolean') {
    throw new TraceImportError(`importTrace: options.hypercall64 is ${String(options.hypercall64)}: it must be true (a 64-bit guest, the default) or false (a 32-bit guest)`);
  }
  const maxSteps = Math.max(0, Math.min(options.maxSteps ?? MAX_STEPS, MAX_STEPS));
  const hypercall64 = options.hypercall64 ?? true;
  /** The hypercall number KVM acts on: a guest not in 64-bit mode has its registers cut to 32 bits. */
  const hypercallNr = (nr: bigint): bigint => (hypercall64 ? nr : nr & U32);
  const R = new Reporter();
  const rep = R.report;

  // ---- pass 1: split and parse lines --------------------------------------------------------
  const lines = text.length === 0 ? [] : text.split(/\r\n|\n|\r/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  rep.totalLines = lines.length;
  const recs: Rec[] = [];
  let sawTraceCmdHeader = false;
  let sawFtraceHeader = false;
  let sawFlags = false;
  let sawLatency = false;
  const buffers = new Set<string>();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.length > MAX_LINE_LENGTH) {
      R.bad(line, `line is ${raw.length} characters long, over the ${MAX_LINE_LENGTH}-character limit for a trace line: rejected without parsing`, raw.slice(0, 160));
      return;
    }
    const t = raw.trim();
    if (t === '') return;
    if (t.startsWith('#')) {
      if (/^#\s*tracer:/.test(t)) sawFtraceHeader = true;
      return;
    }
    if (/^version = \d+/.test(t) || /^cpus=\d+$/.test(t) || /^CPU \d+ is empty$/.test(t) || /^trace-cmd:/.test(t)) {
      sawTraceCmdHeader = true;
      return;
    }
    const lost = /^CPU:?\s*(\d+)\s*\[LOST (\d+) EVENTS\]$/.exec(t);
    if (lost) {
      R.warn(`the kernel lost ${lost[2]} events on CPU ${lost[1]} here: the trace is incomplete, so steps or checks may be missing or misattributed`, line);
      R.breaks.push({ line, why: `the kernel lost ${lost[2]} events here` });
      return;
    }
    if (/^##### CPU \d+ buffer started ####$/.test(t)) return;
    const m = LINE_RE.exec(raw);
    if (!m) {
      R.bad(line, 'not a trace event line (`<task>-<pid> [<cpu>] <timestamp>: <event>: <fields>`)', raw);
      return;
    }
    const flags = m[5] ?? m[7];
    if (flags) sawFlags = true;
    if (m[7]) sawLatency = true;
    if (m[1]) buffers.add(m[1]);
    recs.push({
      line, comm: m[2].trim(), pid: Number(m[3]),
      inIrq: !!flags && flags.length >= 3 && 'hHsSzZ'.includes(flags[2]),
      event: m[9], body: m[10], text: raw,
    });
  });
  rep.eventLines = recs.length;
  if (buffers.size) rep.notes.push(`Lines carry the instance buffer name${buffers.size > 1 ? 's' : ''} ${[...buffers].map((b) => `"${b}"`).join(', ')} (trace-cmd report of \`trace-cmd extract -B\`); it is not part of the task name.`);
  if (sawLatency) rep.notes.push('Latency format (`trace-cmd report -l`): task names are cut to 8 characters, so a vCPU thread "CPU <n>/KVM" is recognised from "CPU <n>/" when the cut keeps the slash (ids below 1000).');
  rep.source = sawFtraceHeader || (sawFlags && !sawTraceCmdHeader) ? 'ftrace' : sawTraceCmdHeader || recs.length ? 'trace-cmd' : 'unknown';

  // ---- pass 2: which vCPU runs each thread --------------------------------------------------
  interface ThreadInfo { pid: number; comm: string; firstLine: number; apicEvents: number; evidence: Map<number, number>; fromName?: number }
  const threads = new Map<number, ThreadInfo>();
  const thread = (r: Rec): ThreadInfo => {
    let t = threads.get(r.pid);
    if (!t) threads.set(r.pid, (t = { pid: r.pid, comm: r.comm, firstLine: r.line, apicEvents: 0, evidence: new Map() }));
    if (t.comm === '<...>' && r.comm !== '<...>') t.comm = r.comm;
    return t;
  };
  for (const r of recs) {
    const t = thread(r);
    const ev = VCPU_EVIDENCE[r.event];
    if (ev && !r.inIrq) {
      const m = ev.exec(r.body);
      if (m) {
        const id = HEX_EVIDENCE.has(r.event) ? hexBits(m[1], 32, 'vCPU id') : decBits(m[1], 32, 'vCPU id');
        if (typeof id === 'string') R.bad(r.line, `${r.event}: ${id}`, r.text);
        else if (!t.evidence.has(Number(id))) t.evidence.set(Number(id), r.line);
      }
    }
    if (['kvm_msr', 'kvm_apic', 'kvm_apic_ipi', 'kvm_inj_virq'].includes(r.event)) t.apicEvents++;
    else if (r.event === 'kvm_hypercall') {
      const hc = parseHypercall(r.body);
      if (typeof hc !== 'string' && hypercallNr(hc.nr) === BigInt(KVM_HC_SEND_IPI)) t.apicEvents++;
    }
  }
  const vcpuOfPid = new Map<number, number>();
  const vcpuInfo = new Map<number, ReportVcpu>();
  const unresolved = (t: ThreadInfo, reason: string): void => {
    if (t.apicEvents) rep.unresolvedThreads.push({ pid: t.pid, comm: t.comm, firstLine: t.firstLine, apicEvents: t.apicEvents, reason });
  };
  const claim = (id: number, t: ThreadInfo, how: string, line: number): void => {
    if (id >= MAX_VCPU_ID) {
      R.warn(`thread ${t.comm}-${t.pid} runs vCPU ${id}, above the largest vCPU id KVM accepts (${MAX_VCPU_ID - 1}): its events are skipped`, line);
      unresolved(t, `${how}, above the largest vCPU id KVM accepts (${MAX_VCPU_ID - 1}); pass options.threads (pid → vCPU id) to import its events`);
      return;
    }
    vcpuOfPid.set(t.pid, id);
    let v = vcpuInfo.get(id);
    if (!v) vcpuInfo.set(id, (v = { vcpu: id, threads: [], how, line }));
    else if (v.threads.length) R.warn(`vCPU ${id} is run by more than one thread (${[...v.threads, t].map((x) => `${x.comm}-${x.pid}`).join(', ')}); their events are all given to vCPU ${id}`, line);
    v.threads.push({ pid: t.pid, comm: t.comm });
  };
  for (const t of threads.values()) {
    const forced = options.threads?.[String(t.pid)];
    // QEMU's "CPU <n>/KVM", or what is left of it in `trace-cmd report -l` (8 characters).
    const nameMatch = /^CPU (\d+)\/KVM$/.exec(t.comm) ?? (t.comm.length === 8 ? /^CPU (\d+)\/K?V?$/.exec(t.comm) : null);
    const fromName = nameMatch && nameMatch[1].length <= 6 ? Number(nameMatch[1]) : undefined;
    if (forced === null) {
      unresolved(t, `left out: options.threads maps thread ${t.pid} to null`);
      continue;
    }
    if (forced !== undefined) {
      claim(forced, t, `given by options.threads for thread ${t.pid}`, t.firstLine);
      continue;
    }
    if (t.evidence.size > 1) {
      const ids = [...t.evidence.entries()].map(([id, line]) => `${id} on line ${line}`).join(', ');
      R.warn(`thread ${t.comm}-${t.pid} shows several vCPU ids (${ids}): its APIC events are skipped; pass options.threads to choose`, t.firstLine);
      unresolved(t, `its events name several vCPUs (${ids}); pass options.threads (pid → vCPU id) to choose one`);
      continue;
    }
    if (t.evidence.size === 1) {
      const [[id, line]] = [...t.evidence.entries()];
      if (fromName !== undefined && fromName !== id) {
        R.warn(`thread "${t.comm}" (pid ${t.pid}) runs vCPU ${id} (line ${line}), not ${fromName}: QEMU numbers threads by CPU index, KVM by vcpu_id (the APIC ID)`, line);
      }
      const ev = recs.find((r) => r.line === line)!.event;
      claim(id, t, `${ev} on line ${line} names vCPU ${id}`, line);
      continue;
    }
    if (fromName !== undefined) {
      claim(fromName, t, `task name "${t.comm}" (QEMU's vCPU thread); assumes vcpu_id = QEMU CPU index, true unless the topology leaves holes in the APIC IDs`, t.firstLine);
      continue;
    }
    unresolved(t, 'not named "CPU <n>/KVM" and no kvm_entry/kvm_exit/kvm_eoi line of its own names a vCPU; pass options.threads (pid → vCPU id) to import its events');
  }

  // ---- pass 2b: where a thread's vCPU is in x2APIC mode, its lone kvm_apic lines are host MSR accesses
  // A guest x2APIC access is a kvm_apic line followed by kvm_msr; KVM_SET_MSRS / KVM_GET_MSRS run
  // the same kvm_lapic_reg_write/read (so kvm_apic is traced) but not kvm_emulate_wrmsr (no kvm_msr).
  // The mode is known per stretch of a thread: a guest WRMSR of IA32_APIC_BASE starts a new stretch
  // in the mode it writes (a vCPU changes mode mid-trace); otherwise a stretch is x2APIC when one of
  // its lines can only be x2APIC (a 64-bit ICR value, SELF_IPI, an APIC_ID/LDR value in x2APIC
  // format, a guest x2APIC MSR access, an IA32_APIC_BASE read with EXTD) and xAPIC when one can
  // only be xAPIC (ICR2, DFR, an `id << 24` ID, an IA32_APIC_BASE read without EXTD).
  interface Stretch { pid: number; from: number; to: number; x2?: string; xapic?: string }
  /** Every line of a thread → the stretch it is in. */
  const stretchOf = new Map<number, Stretch>();
  /** x2APIC stretches (no xAPIC evidence): their lone kvm_apic lines are host MSR accesses. */
  const x2Line = (line: number): string | undefined => {
    const st = stretchOf.get(line);
    return st?.x2 && !st.xapic ? st.x2 : undefined;
  };
  {
    const open = new Map<number, Stretch>();
    const stretches: Stretch[] = [];
    const cur = (r: Rec, fresh = false): Stretch => {
      let st = open.get(r.pid);
      if (!st || fresh) {
        if (st) st.to = r.line - 1;
        stretches.push((st = { pid: r.pid, from: fresh ? r.line : threads.get(r.pid)!.firstLine, to: Infinity }));
        open.set(r.pid, st);
      }
      return st;
    };
    for (const r of recs) {
      let x2: string | undefined;
      let xa: string | undefined;
      let st: Stretch | undefined;
      if (r.event === 'kvm_msr') {
        const m = /^msr_(read|write) ([0-9a-fA-F]+) = 0x([0-9a-fA-F]{1,16})$/.exec(r.body);
        const msr = m ? parseInt(m[2], 16) : NaN;
        if (msr === MSR_IA32_APICBASE) {
          const extd = (BigInt('0x' + m![3]) & 0xc00n) === 0xc00n;
          const why = `line ${r.line} ${m![1] === 'write' ? 'writes' : 'reads'} IA32_APIC_BASE = 0x${m![3]}, EXTD ${extd ? 'set' : 'clear'}`;
          if (m![1] === 'write') st = cur(r, true);
          if (extd) x2 = why;
          else xa = why;
        } else if (msr >= 0x800 && msr <= 0x8ff) x2 = `line ${r.line} is a guest x2APIC MSR access`;
      } else if (r.event === 'kvm_apic') {
        const m = /^apic_(read|write) (APIC_\w+|0x[0-9a-fA-F]+) = 0x([0-9a-fA-F]{1,16})$/.exec(r.body);
        if (m) {
          const reg = m[2].startsWith('0x') ? parseInt(m[2], 16) : APIC_TRACE_NAMES[m[2]];
          const v = BigInt('0x' + m[3]);
          if (reg === APIC_ICR && v >> 32n) x2 = `line ${r.line} writes a 64-bit ICR value`;
          else if (reg === 0x3f0) x2 = `line ${r.line} accesses SELF_IPI`;
          else if ((reg === 0x20 || reg === 0xd0) && m[1] === 'read' && v !== 0n) {
            if (v & 0xffffffn) x2 = `line ${r.line} reads ${m[2]} = ${hex(v)}, an x2APIC-format value`;
            else xa = `line ${r.line} reads ${m[2]} = ${hex(v)}, an xAPIC-format value`;
          } else if (reg === APIC_ICR2 || reg === 0xe0) xa = `line ${r.line} accesses ${m[2]}, which x2APIC mode does not have`;
        }
      }
      st ??= cur(r);
      stretchOf.set(r.line, st);
      st.x2 ??= x2;
      st.xapic ??= xa;
    }
    const hasApicLines = new Set<Stretch>(recs.filter((r) => r.event === 'kvm_apic').map((r) => stretchOf.get(r.line)!));
    for (const st of stretches) {
      if (!st.x2 || !hasApicLines.has(st)) continue;
      const t = threads.get(st.pid)!;
      const where = st.from <= t.firstLine && st.to === Infinity ? '' : st.to === Infinity ? ` from line ${st.from}` : ` on lines ${st.from}-${st.to}`;
      if (st.xapic) {
        R.warn(`thread ${t.comm}-${st.pid} shows both x2APIC (${st.x2}) and xAPIC mode (${st.xapic})${where}: its kvm_apic lines without kvm_msr there are all imported as MMIO`, Math.max(st.from, t.firstLine));
        continue;
      }
      if (vcpuOfPid.has(st.pid)) {
        rep.notes.push(`Thread ${t.comm}-${st.pid} (vCPU ${vcpuOfPid.get(st.pid)}) is in x2APIC mode${where} (${st.x2}): its kvm_apic lines with no kvm_msr after them are host-initiated MSR accesses (KVM_SET_MSRS / KVM_GET_MSRS made by the VMM on that thread), imported as wrmsr/rdmsr with host: true and MSR 0x800 + (offset >> 4). This assumes kvm_msr was traced.`);
      }
    }
  }

  // ---- pass 2c: the EOI KVM traces when it injects an interrupt ------------------------------
  // On a backend that runs guests through the emulator (no kvm_entry/kvm_exit/kvm_inj_virq), KVM
  // traces `apic_write APIC_EOI = 0x0` + `kvm_eoi` on the target's thread when it injects, before
  // the guest runs. Such a pair is the first EOI of a vector the trace showed accepted for that
  // vCPU; a guest's own EOI write comes later (the vector is then consumed, or it reports -1).
  const injectionEoi = new Map<number, string>();
  if (!recs.some((r) => r.event === 'kvm_inj_virq' || r.event === 'kvm_entry' || r.event === 'kvm_exit')) {
    const pendingVec = new Map<number, Map<number, number>>();
    const byPid = new Map<number, number[]>();
    recs.forEach((r, i) => {
      let l = byPid.get(r.pid);
      if (!l) byPid.set(r.pid, (l = []));
      l.push(i);
    });
    const posInPid = new Map<number, number>();
    for (const l of byPid.values()) l.forEach((i, k) => posInPid.set(i, k));
    recs.forEach((r, i) => {
      if (r.event === 'kvm_apic_accept_irq') {
        const m = /^apicid ([0-9a-fA-F]{1,8}) vec (\d{1,3}) \(\w+\|(edge|level)\)$/.exec(r.body);
        if (!m) return;
        const v = parseInt(m[1], 16);
        let pv = pendingVec.get(v);
        if (!pv) pendingVec.set(v, (pv = new Map()));
        pv.set(Number(m[2]), (pv.get(Number(m[2])) ?? 0) + 1);
        return;
      }
      if (r.event !== 'kvm_apic' || !/^apic_write APIC_EOI = 0x0$/.test(r.body)) return;
      const vcpu = vcpuOfPid.get(r.pid);
      if (vcpu === undefined) return;
      const l = byPid.get(r.pid)!;
      const k = posInPid.get(i)!;
      const next = k + 1 < l.length ? recs[l[k + 1]] : undefined;
      const prev = k > 0 ? recs[l[k - 1]] : undefined;
      if (!next || next.event !== 'kvm_eoi' || (prev && (prev.event === 'kvm_mmio' || prev.event === 'kvm_emulate_insn'))) return;
      const m = /^apicid ([0-9a-fA-F]{1,8}) vector (\d{1,3})$/.exec(next.body);
      if (!m || parseInt(m[1], 16) !== vcpu) return;
      const vec = Number(m[2]);
      const pv = pendingVec.get(vcpu);
      if (!pv?.get(vec)) return;
      pv.set(vec, pv.get(vec)! - 1);
      const why = `KVM injecting vector ${vec} into vCPU ${vcpu} (accepted earlier in the trace): the kernel EOIs at injection on this backend, before any guest code runs; not a guest access. The injection itself is not replayed (the replay keeps the vector in IRR)`;
      injectionEoi.set(r.line, `${why}`);
      injectionEoi.set(next.line, `${why} (the kvm_eoi of the EOI on line ${r.line})`);
    });
  }

  // ---- pass 3: events → steps ---------------------------------------------------------------
  const slots: Slot[] = [];
  /** The first kvm_apic line imported as a host x2APIC MSR access. */
  let hostSeen: Rec | undefined;
  /** Stretches of threads with no evidence of the APIC mode → their first kvm_apic line imported as MMIO. */
  const modeUnknown = new Map<Stretch, Rec>();
  const pending = new Map<number, Item[]>();
  /** Thread → the send (an MSI, a PV IPI) whose kvm_apic_accept_irq lines follow it, until another event of the thread. */
  const sendOpen = new Map<number, Slot>();
  /** Thread → why the kvm_apic_accept_irq lines right after its last kvm_hypercall are skipped (a hypercall not imported). */
  const hypercallOpen = new Map<number, string>();
  /** The first PV IPI imported. */
  let pvSeen: Rec | undefined;
  const acceptTraced = recs.some((r) => r.event === 'kvm_apic_accept_irq');
  const msiFormat = options.msiFormat ?? 'current';
  let msiSeen = false;
  /** The line that shows the host has no APICv (inhibit DISABLED set), if any. */
  let apicvOff: number | undefined;
  /** The first MSI whose destination needs address_hi: KVM_CAP_X2APIC_API (32-bit IDs) was on. */
  let capProof: { line: number; dst: number } | undefined;

  const addSlot = (s: Omit<Slot, 'also' | 'accepts' | 'sends'> & Partial<Pick<Slot, 'also' | 'sends' | 'icrLow' | 'noTargetCheck' | 'inferred'>>): Slot => {
    const slot: Slot = { also: [], accepts: [], sends: false, ...s };
    slots.push(slot);
    return slot;
  };
  const vcpuFor = (rec: Rec): number | undefined => {
    const v = vcpuOfPid.get(rec.pid);
    if (v === undefined) R.skip(rec, `vCPU unknown: thread ${rec.comm}-${rec.pid} could not be tied to a vCPU (see unresolvedThreads)`);
    return v;
  };
  const skipAccept = (a: Extract<Item, { kind: 'accept' }>, why: string): void => R.skip(a.rec, why);

  /** Turn leftover items of a thread into MMIO steps, attaching IPIs and accepts to the ICR write before them. */
  const flush = (pid: number): void => {
    const items = pending.get(pid);
    if (!items?.length) return;
    pending.set(pid, []);
    flushItems(items, 'MMIO');
  };
  const flushItems = (items: Item[], ctx: string): void => {
    let current: Slot | null = null;
    /** Host x2APIC ICR write: KVM traces its IPI and accepts first, then kvm_apic(write APIC_ICR). */
    let pre: Item[] = [];
    const loose = (it: Item): void => {
      if (it.kind === 'ipi') R.skip(it.rec, 'an IPI with no traced cause on this thread (an APICv/AVIC-accelerated ICR write, or kvm_apic not traced): only its deliveries are known, and they are not replayed');
      else if (it.kind === 'accept') skipAccept(it, it.rec.inIrq ? 'accepted in interrupt context (timer, posted interrupt...): not caused by a traced step' : 'an accepted interrupt with no traced cause in the same burst (timer, I/O APIC, PIC, an untraced IPI): a check, not an input, so it is not replayed');
    };
    const dropPre = (): void => {
      for (const p of pre) loose(p);
      pre = [];
    };
    for (const it of items) {
      const host = x2Line(it.rec.line) !== undefined;
      if (it.kind === 'apic') {
        current = null;
        if (host) {
          const ipiFirst = pre.length > 0 && it.write && it.reg === APIC_ICR;
          if (!ipiFirst) dropPre();
          hostMsrSlot(it, pre);
          pre = [];
          continue;
        }
        dropPre();
        const slot = mmioSlot(it, ctx);
        if (slot && it.write && it.reg === APIC_ICR) current = slot;
        const st = stretchOf.get(it.rec.line)!;
        if (slot && !st.x2 && !st.xapic && !modeUnknown.has(st)) modeUnknown.set(st, it.rec);
      } else if (it.kind === 'ipi') {
        if (current) {
          current.also.push(it.rec.line);
          current.noTargetCheck = true;
          current.route = ipiRoute(it.rec);
          R.skip(it.rec, `the IPI sent by the ICR write on line ${current.line}; the lab recomputes it`);
        } else if (host) {
          dropPre();
          pre = [it];
        } else loose(it);
      } else if (it.kind === 'accept') {
        if (current && !it.rec.inIrq) current.accepts.push(it);
        else if (pre.length && !it.rec.inIrq) pre.push(it);
        else loose(it);
      } else {
        R.skip(it.rec, it.rec.event === 'kvm_pv_eoi' ? 'PV EOI is not modelled by the lab' : 'the EOI itself; the lab recomputes it from the APIC_EOI write');
      }
    }
    dropPre();
  };
  /** A kvm_apic line with no kvm_msr on an x2APIC vCPU's thread: KVM_SET_MSRS / KVM_GET_MSRS. */
  const hostMsrSlot = (it: Extract<Item, { kind: 'apic' }>, pre: Item[]): void => {
    const rec = it.rec;
    if (it.reg === null || it.reg > 0x3f0 || it.reg & 0xf) {
      for (const p of pre) R.skip(p.rec, `part of the host access on line ${rec.line}, which is not imported`);
      R.skip(rec, it.reg === null ? `register ${it.regText} is not one kvm_trace_symbol_apic names` : `offset ${hex(it.reg)} is not an x2APIC register the lab models`);
      return;
    }
    const vcpu = vcpuFor(rec);
    if (vcpu === undefined) {
      for (const p of pre) R.skip(p.rec, `part of the host access on line ${rec.line}, whose vCPU is unknown`);
      return;
    }
    const msr = 0x800 + (it.reg >> 4);
    const why = `kvm_apic with no kvm_msr on x2APIC vCPU ${vcpu}'s thread (${x2Line(rec.line)}): a host-initiated KVM_${it.write ? 'SET' : 'GET'}_MSRS by the VMM`;
    if (!it.write) {
      const step: Record<string, unknown> = { op: 'rdmsr', vcpu, msr: hex(msr), host: true, note: `trace line ${rec.line}: ${it.regText} read = x2APIC MSR ${hex(msr)}; ${why}` };
      if (msr === MSR_X2APIC_TMCCT) {
        step.expect = { ok: true };
        R.warn(`line ${rec.line}: the value read from TMCCT (${hex(it.value)}) is not checked: the lab's APIC timer does not run`, rec.line);
      } else step.expect = { ok: true, value: hex(it.value) };
      addSlot({ order: rec.line, line: rec.line, event: 'kvm_apic', vcpu, step });
      hostSeen ??= rec;
      return;
    }
    hostSeen ??= rec;
    const sends = msr === MSR_X2APIC_ICR || msr === MSR_X2APIC_SELF_IPI;
    const slot = addSlot({
      order: pre.length ? pre[0].rec.line : rec.line, line: rec.line, event: 'kvm_apic', vcpu, sends,
      icrLow: sends ? (msr === MSR_X2APIC_SELF_IPI ? Number(it.value & 0xffn) : Number(it.value & 0xffffffffn)) : undefined,
      step: { op: 'wrmsr', vcpu, msr: hex(msr), value: hex(it.value), host: true, note: `trace line ${rec.line}: ${it.regText} write = x2APIC MSR ${hex(msr)}; ${why}`, expect: { ok: true } },
    });
    for (const p of pre) {
      if (p.kind === 'ipi') {
        slot.also.push(p.rec.line);
        slot.noTargetCheck = true;
        slot.route = ipiRoute(p.rec);
        R.skip(p.rec, `the IPI sent by the host ICR write on line ${rec.line}; the lab recomputes it`);
      } else if (p.kind === 'accept') slot.accepts.push(p);
    }
  };
  const mmioSlot = (it: Extract<Item, { kind: 'apic' }>, ctx: string): Slot | null => {
    const rec = it.rec;
    if (it.reg === null) {
      R.skip(rec, `register ${it.regText} is not one kvm_trace_symbol_apic names`);
      return null;
    }
    if (it.reg > 0x3f0) {
      R.skip(rec, `${it.regText} (offset ${hex(it.reg)}) is an AMD extended APIC register; the lab models offsets 0x000-0x3f0`);
      return null;
    }
    if (it.reg & 0xf) {
      R.skip(rec, `offset ${hex(it.reg)} is not 16-byte aligned: a partial access the lab does not model`);
      return null;
    }
    if (it.value >= 1n << 32n) {
      R.skip(rec, `value ${hex(it.value)} does not fit in 32 bits, so this is not a 32-bit MMIO access (${ctx})`);
      return null;
    }
    const vcpu = vcpuFor(rec);
    if (vcpu === undefined) return null;
    const offset = '0x' + it.reg.toString(16).padStart(3, '0');
    if (it.write) {
      return addSlot({
        order: rec.line, line: rec.line, event: 'kvm_apic', vcpu,
        step: { op: 'mmio_write', vcpu, offset, value: hex(it.value), note: `trace line ${rec.line}: ${it.regText} write (MMIO)` },
        sends: it.reg === APIC_ICR, icrLow: it.reg === APIC_ICR ? Number(it.value) : undefined,
      });
    }
    const step: Record<string, unknown> = { op: 'mmio_read', vcpu, offset, note: `trace line ${rec.line}: ${it.regText} read (MMIO)` };
    if (it.reg === APIC_TMCCT) {
      R.warn(`line ${rec.line}: the value read from APIC_TMCCT (${hex(it.value)}) is not checked: the lab's APIC timer does not run`, rec.line);
      step.expect = { ok: true };
    } else step.expect = { ok: true, value: hex(it.value) };
    return addSlot({ order: rec.line, line: rec.line, event: 'kvm_apic', vcpu, step });
  };

  const closeWithMsr = (rec: Rec): void => {
    const m = /^msr_(read|write) ([0-9a-fA-F]+) = 0x([0-9a-fA-F]+)( \(#GP\))?$/.exec(rec.body);
    if (!m) {
      flush(rec.pid);
      R.bad(rec.line, 'kvm_msr fields not in the form "msr_read|msr_write <ecx> = 0x<data>[ (#GP)]"', rec.text);
      return;
    }
    const msrV = hexBits(m[2], 32, 'msr');
    const dataV = hexBits(m[3], 64, 'value');
    if (typeof msrV === 'string' || typeof dataV === 'string') {
      flush(rec.pid);
      R.bad(rec.line, `kvm_msr: ${typeof msrV === 'string' ? msrV : dataV}`, rec.text);
      return;
    }
    const write = m[1] === 'write';
    const gp = !!m[4];
    const msr = Number(msrV);
    const items = pending.get(rec.pid) ?? [];
    const companions = msr >= 0x800 && msr <= 0x8ff ? (msr === MSR_X2APIC_ICR ? [APIC_ICR, APIC_ICR2] : [(msr - 0x800) << 4]) : HV_APIC_MSRS[msr];
    let group: Item[] = [];
    if (companions) {
      let i = items.length - 1;
      for (; i >= 0; i--) {
        const it = items[i];
        if (it.kind === 'apic' && !(it.write === write && it.reg !== null && companions.includes(it.reg))) break;
      }
      group = items.slice(i + 1);
      pending.set(rec.pid, items.slice(0, i + 1));
    }
    flush(rec.pid);
    const order = group.length ? Math.min(rec.line, group[0].rec.line) : rec.line;

    if (HV_APIC_MSRS[msr]) {
      R.skip(rec, `Hyper-V synthetic APIC MSR ${hex(msr)} (PV EOI/ICR/TPR): not modelled by the lab`);
      for (const it of group) R.skip(it.rec, `part of the Hyper-V synthetic MSR access on line ${rec.line} (not modelled)`);
      return;
    }
    if (msr !== MSR_IA32_APICBASE && !(msr >= 0x800 && msr <= 0x8ff)) {
      R.skip(rec, `MSR ${hex(msr)} is not an APIC MSR the lab models (0x1b and 0x800-0x8ff)`);
      return;
    }
    const vcpu = vcpuFor(rec);
    if (vcpu === undefined) {
      for (const it of group) R.skip(it.rec, `part of the MSR access on line ${rec.line}, whose vCPU is unknown`);
      return;
    }
    const name = msr === MSR_IA32_APICBASE ? 'IA32_APIC_BASE' : `x2APIC MSR ${hex(msr)}`;
    const sends = write && !gp && (msr === MSR_X2APIC_ICR || msr === MSR_X2APIC_SELF_IPI);
    let step: Record<string, unknown>;
    if (write) {
      step = { op: 'wrmsr', vcpu, msr: hex(msr), value: hex(dataV), note: `trace line ${rec.line}: guest WRMSR ${name}${gp ? ' (#GP)' : ''}`, expect: gp ? { ok: false, fault: '#GP' } : { ok: true } };
    } else {
      step = { op: 'rdmsr', vcpu, msr: hex(msr), note: `trace line ${rec.line}: guest RDMSR ${name}${gp ? ' (#GP)' : ''}` };
      if (gp) step.expect = { ok: false, fault: '#GP' };
      else if (msr === MSR_X2APIC_TMCCT) {
        step.expect = { ok: true };
        R.warn(`line ${rec.line}: the value read from TMCCT (${hex(dataV)}) is not checked: the lab's APIC timer does not run`, rec.line);
      } else step.expect = { ok: true, value: hex(dataV) };
    }
    const slot = addSlot({ order, line: rec.line, event: 'kvm_msr', vcpu, step, sends, icrLow: sends ? Number(dataV & 0xffffffffn) : undefined });
    if (sends && msr === MSR_X2APIC_SELF_IPI) slot.icrLow = Number(dataV & 0xffn); // Fixed, edge, self
    let sawIpi = false;
    for (const it of group) {
      if (it.kind === 'apic') {
        slot.also.push(it.rec.line);
        R.skip(it.rec, `kvm_lapic_reg_${it.write ? 'write' : 'read'} inside the ${write ? 'WRMSR' : 'RDMSR'} on line ${rec.line}: the same access, not an MMIO one${it.write ? '' : ' (the lab recomputes the value; the RDMSR checks it)'}`);
      } else if (it.kind === 'ipi') {
        sawIpi = true;
        if (sends) {
          slot.noTargetCheck = true;
          slot.route = ipiRoute(it.rec);
        }
        slot.also.push(it.rec.line);
        R.skip(it.rec, sends ? `the IPI sent by the WRMSR on line ${rec.line}; the lab recomputes it` : `an IPI next to the MSR access on line ${rec.line}, which does not send one`);
      } else if (it.kind === 'accept') {
        if (sends && !it.rec.inIrq) slot.accepts.push(it);
        else skipAccept(it, sends ? 'accepted in interrupt context: not caused by the WRMSR' : `not caused by the MSR access on line ${rec.line} (it sends no IPI)`);
      } else R.skip(it.rec, it.rec.event === 'kvm_pv_eoi' ? 'PV EOI is not modelled by the lab' : `the EOI done by the WRMSR on line ${rec.line}; the lab recomputes it`);
    }
    // Accepts before the IPI line belong to something else (conservative).
    if (sawIpi) {
      const ipiLine = group.find((it) => it.kind === 'ipi')!.rec.line;
      const early = slot.accepts.filter((a) => a.rec.line < ipiLine);
      slot.accepts = slot.accepts.filter((a) => a.rec.line > ipiLine);
      for (const a of early) skipAccept(a, `accepted before the IPI of line ${ipiLine}: not caused by it`);
    }
  };

  for (const rec of recs) {
    const pid = rec.pid;
    const list = (): Item[] => {
      let l = pending.get(pid);
      if (!l) pending.set(pid, (l = []));
      return l;
    };
    if (rec.event !== 'kvm_apic_accept_irq' && rec.event !== 'kvm_apicv_accept_irq') {
      sendOpen.delete(pid);
      hypercallOpen.delete(pid);
    }
    const inj = injectionEoi.get(rec.line);
    if (inj) {
      flush(pid);
      R.skip(rec, inj);
      continue;
    }
    switch (rec.event) {
      case 'kvm_msr':
        closeWithMsr(rec);
        break;
      case 'kvm_apic': {
        const m = /^apic_(read|write) (APIC_\w+|0x[0-9a-fA-F]+) = 0x([0-9a-fA-F]+)$/.exec(rec.body);
        if (!m) {
          R.bad(rec.line, 'kvm_apic fields not in the form "apic_read|apic_write <register> = 0x<value>"', rec.text);
          break;
        }
        const v = hexBits(m[3], 64, 'value');
        if (typeof v === 'string') {
          R.bad(rec.line, `kvm_apic: ${v}`, rec.text);
          break;
        }
        let reg: number | null = null;
        if (m[2].startsWith('0x')) {
          const r = hexBits(m[2].slice(2), 32, 'register offset');
          if (typeof r === 'string') {
            R.bad(rec.line, `kvm_apic: ${r}`, rec.text);
            break;
          }
          reg = Number(r);
        } else reg = APIC_TRACE_NAMES[m[2]] ?? null;
        list().push({ kind: 'apic', rec, write: m[1] === 'write', reg, regText: m[2], value: v });
        break;
      }
      case 'kvm_apic_ipi':
        if (!/^dst [0-9a-fA-F]+ vec \d+ \(\w+\|(physical|logical)\|(assert|de-assert)\|(edge|level)\|(dst|self|all|all-but-self)\)$/.test(rec.body)) {
          R.bad(rec.line, 'kvm_apic_ipi fields not in the form "dst %x vec %u (mode|dest mode|level|trigger|shorthand)"', rec.text);
          break;
        }
        list().push({ kind: 'ipi', rec });
        break;
      case 'kvm_apic_accept_irq': {
        const m = /^apicid ([0-9a-fA-F]+) vec (\d+) \((\w+)\|(edge|level)\)( \(coalesced\))?$/.exec(rec.body);
        const mode = m ? DELIVERY_MODES[m[3]] : undefined;
        if (!m || !mode) {
          R.bad(rec.line, 'kvm_apic_accept_irq fields not in the form "apicid %x vec %u (mode|edge|level)[ (coalesced)]"', rec.text);
          break;
        }
        const id = hexBits(m[1], 32, 'apicid (vcpu_id)');
        const vec = decBits(m[2], 8, 'vector');
        if (typeof id === 'string' || typeof vec === 'string') {
          R.bad(rec.line, `kvm_apic_accept_irq: ${typeof id === 'string' ? id : vec}`, rec.text);
          break;
        }
        const item: Extract<Item, { kind: 'accept' }> = { kind: 'accept', rec, vcpu: Number(id), mode: mode.name, dm: mode.dm, vector: Number(vec), level: m[4] === 'level' };
        if (m[5]) {
          R.skip(rec, 'coalesced: the vector was already pending, so KVM did not accept it again');
          break;
        }
        const open = sendOpen.get(pid);
        const afterHypercall = hypercallOpen.get(pid);
        if (open) {
          if (!rec.inIrq) open.accepts.push(item);
          else skipAccept(item, `accepted in interrupt context: not caused by the ${open.event === 'kvm_hypercall' ? `PV IPI on line ${open.line}` : 'MSI'}`);
        } else if (afterHypercall !== undefined && !rec.inIrq) skipAccept(item, afterHypercall);
        else list().push(item);
        break;
      }
      case 'kvm_apicv_accept_irq':
        R.skip(rec, 'repeats the kvm_apic_accept_irq of the same interrupt (APICv/AVIC posting)');
        break;
      case 'kvm_eoi':
      case 'kvm_pv_eoi':
        list().push({ kind: 'eoi', rec });
        break;
      case 'kvm_msi_set_irq': {
        flush(pid);
        msiSeen = true;
        const slot = msiStep(rec);
        if (slot) sendOpen.set(pid, slot);
        break;
      }
      case 'kvm_hypercall':
        flush(pid);
        hypercallStep(rec);
        break;
      case 'kvm_inj_virq': {
        flush(pid);
        injStep(rec);
        break;
      }
      case 'kvm_apicv_inhibit_changed': {
        const m = /^(set|cleared) reason=(\d+), inhibits=0x([0-9a-fA-F]+)(.*)$/.exec(rec.body);
        if (!m) {
          R.bad(rec.line, 'kvm_apicv_inhibit_changed fields not in the form "set|cleared reason=%u, inhibits=0x%lx"', rec.text);
          break;
        }
        const what = `APICv inhibit ${m[1]} (reason ${m[2]}, inhibits now 0x${m[3]}${m[4].trim() ? ' ' + m[4].trim() : ''})`;
        if (m[2] === '0') {
          // APICV_INHIBIT_REASON_DISABLED (0 in every kernel with this event): KVM sets it when the
          // VM is created on a host without APICv/AVIC (module parameter off, or no hardware support).
          apicvOff = m[1] === 'set' ? rec.line : undefined;
          R.skip(rec, m[1] === 'set' ? `${what}: the host has no APICv/AVIC (module parameter off, or no hardware support), so the scenario's VM has vm.apicv false` : `${what}: APICv is allowed again`);
        } else R.skip(rec, `${what}: the lab computes inhibits from the replayed state; compare with final.inhibits`);
        break;
      }
      case 'kvm_ioapic_set_irq':
      case 'kvm_ioapic_delayed_eoi_inj':
      case 'kvm_pic_set_irq':
      case 'kvm_set_irq':
      case 'kvm_ack_irq':
        flush(pid);
        R.skip(rec, 'the I/O APIC and PIC are not modelled by the lab');
        break;
      case 'kvm_avic_incomplete_ipi':
        flush(pid);
        R.skip(rec, 'an IPI AVIC hardware started and KVM completes: the ICR write itself is not traced, so it cannot be replayed exactly');
        break;
      case 'kvm_mmio':
        // Traced around the same emulated access as kvm_apic; kvm_apic carries the register.
        rep.otherEvents[rec.event] = (rep.otherEvents[rec.event] ?? 0) + 1;
        break;
      default:
        if (BOUNDARY_EVENTS.has(rec.event) || VCPU_EVIDENCE[rec.event]) flush(pid);
        rep.otherEvents[rec.event] = (rep.otherEvents[rec.event] ?? 0) + 1;
    }
  }
  for (const pid of pending.keys()) flush(pid);
  if (hostSeen) {
    // The VMM makes host x2APIC accesses in this trace; where nothing shows a vCPU's mode, its lone
    // kvm_apic lines may be such accesses as well as MMIO (an APIC_ID read of 0 is both, for one).
    const h = hostSeen;
    for (const [st, rec] of modeUnknown) {
      R.warn(`thread ${rec.comm}-${rec.pid} (vCPU ${vcpuOfPid.get(rec.pid)}): nothing in the trace shows its APIC mode${st.to === Infinity ? '' : ` up to line ${st.to}`}, so its kvm_apic lines without kvm_msr (from line ${rec.line}) are imported as MMIO; host KVM_GET_MSRS / KVM_SET_MSRS of x2APIC registers leave the same lines (as on line ${h.line}, thread ${h.comm}-${h.pid}), so they may be host accesses to a vCPU in x2APIC mode set up by an untraced KVM_SET_MSRS of IA32_APIC_BASE`, rec.line);
    }
  }

  /**
   * KVM performs an x2APIC MSR access (guest WRMSR/RDMSR without #GP, or KVM_SET/GET_MSRS) only in
   * x2APIC mode. Where one comes with no traced enable before it (KVM_SET_MSRS of IA32_APIC_BASE is
   * never traced; or the trace began later), the scenario gets that enable as a host write just
   * before it, so that the replay, which starts at RESET, is in the mode the trace shows.
   */
  function inferX2apicEnables(): void {
    const base = new Map<number, bigint>();
    const out: Slot[] = [];
    for (const slot of slots) {
      const s = slot.step;
      const vcpu = slot.vcpu;
      const ok = (s.expect as { ok?: boolean } | undefined)?.ok === true;
      const msr = (s.op === 'wrmsr' || s.op === 'rdmsr') && ok && vcpu !== undefined ? parseInt(String(s.msr), 16) : NaN;
      if (msr === MSR_IA32_APICBASE) {
        const v = s.op === 'wrmsr' ? s.value : (s.expect as { value?: string }).value;
        if (v !== undefined) base.set(vcpu!, BigInt(String(v)));
      } else if (msr >= 0x800 && msr <= 0x8ff && ((base.get(vcpu!) ?? 0n) & 0xc00n) !== 0xc00n) {
        const traced = base.has(vcpu!);
        const value = (base.get(vcpu!) ?? (vcpu === 0 ? 0xfee00900n : 0xfee00800n)) | 0xc00n; // else RESET's
        base.set(vcpu!, value);
        const proof = `line ${slot.line} is a${s.host ? ' host' : ' guest'} x2APIC MSR access (${hex(msr)}) that KVM performed, which it does only in x2APIC mode`;
        R.warn(`vCPU ${vcpu} is in x2APIC mode on line ${slot.line} but the trace never shows it enabling x2APIC (WRMSR 0x1b with bits 10 and 11; a host KVM_SET_MSRS of 0x1b, as VMMs do, is never traced): the scenario enables it with a host write of IA32_APIC_BASE = ${hex(value)} just before (inferred: the base address and BSP bit are ${traced ? 'the last traced ones' : 'those of RESET'})`, slot.line);
        out.push({
          order: slot.order, line: slot.line, event: slot.event, vcpu, also: [], accepts: [], sends: false, inferred: true,
          step: { op: 'wrmsr', vcpu, msr: hex(MSR_IA32_APICBASE), value: hex(value), host: true, note: `inferred from trace line ${slot.line}: ${proof}; the trace shows no x2APIC enable before it, so the VMM set IA32_APIC_BASE with KVM_SET_MSRS (never traced) or the guest did before the trace began`, expect: { ok: true } },
        });
      }
      out.push(slot);
    }
    slots.splice(0, slots.length, ...out);
  }

  /**
   * KVM builds its optimized APIC map when a vCPU is created, before the vCPU is online, so the
   * newest vCPU is missing from the map until something rebuilds it (the replay creates vm.vcpus in
   * order, so its newest is the highest id). When the trace shows that vCPU accepting an interrupt
   * routed through the map (a destination, not a shorthand or broadcast; or a PV IPI) before any traced step that
   * may rebuild the map, something untraced rebuilt it: the scenario does so just before that send,
   * with a KVM_SET_LAPIC of the vCPU's own image, which changes none of its registers.
   */
  function inferMapRebuild(): void {
    const newest = ids[ids.length - 1];
    for (let k = 0; k < kept.length; k++) {
      const slot = kept[k];
      const check = checks.get(slot);
      const hit = check ? check.delivered.findIndex((d) => d.vcpu === newest) : -1;
      const r = slot.route;
      // A PV IPI (shorthand "pv") reads nothing but the map: every vCPU it reaches is in it.
      if (hit >= 0 && r && (r.shorthand === 'pv' || (r.shorthand === 'dst' && r.dst !== 0xff && r.dst !== 0xffffffff))) {
        const accept = check!.lines[hit];
        R.warn(`vCPU ${newest} accepts the interrupt sent on line ${slot.line} (line ${accept}), but nothing traced before rebuilds KVM's optimized APIC map, which leaves out the newest vCPU (the replay creates vCPU ${newest} last) until it is rebuilt: something untraced did (KVM_CREATE_VCPU of another vCPU, even a refused one; KVM_SET_LAPIC; KVM_SET_MSRS of IA32_APIC_BASE), or the trace began later. The scenario rebuilds the map just before line ${slot.line} with a KVM_SET_LAPIC of vCPU ${newest}'s own image`, accept);
        kept.splice(k, 0, {
          order: slot.order, line: accept, event: 'kvm_apic_accept_irq', vcpu: newest, also: [], accepts: [], sends: false, inferred: true,
          step: { op: 'set_lapic', vcpu: newest, regs: {}, merge: true, note: `inferred from trace line ${accept}: vCPU ${newest}, created last in the replay, accepts an interrupt routed through the optimized APIC map, so something untraced rebuilt the map since its creation (KVM_CREATE_VCPU of another vCPU, KVM_SET_LAPIC, KVM_SET_MSRS of IA32_APIC_BASE); KVM_SET_LAPIC of its own image rebuilds it and changes no register`, expect: { ok: true } },
        });
        if (kept.length > maxSteps) R.skip({ line: kept[kept.length - 1].line, event: kept.pop()!.event } as Rec, `over the limit of ${maxSteps} steps per import`);
        return;
      }
      if (mayRebuildMap(slot.step) || check?.delivered.some((d) => d.mode === 'INIT')) return; // an INIT resets the APIC, which rebuilds it
    }
  }

  /**
   * KVM_ENABLE_CAP is never traced, so where the VM enabled 32-bit IDs is unknown: the scenario does
   * it first. The flag changes routing only through the maps rebuilt after it, so say which traced
   * rebuilds come before the line that proves it.
   */
  function warnCapPlacement(): void {
    if (!capProof) return;
    const proof = capProof.line;
    const before = kept.filter((s) => !s.inferred && s.order < proof && mayRebuildMap(s.step)).map((s) => s.line);
    if (before.length) {
      R.warn(`KVM_ENABLE_CAP is never traced: line ${proof} proves that 32-bit IDs (KVM_CAP_X2APIC_API) were on by then, and the scenario enables them first; if the VM enabled them later, the optimized map rebuilt after ${lineList(before)} had no 32-bit IDs, so the sends before line ${proof} may reach other vCPUs in the replay than in the trace`, proof);
    }
  }

  function msiStep(rec: Rec): Slot | null {
    const m = /^dst ([0-9a-fA-F]+) vec ([0-9a-fA-F]+) \((\w+)\|(physical|logical)\|(edge|level)(\|rh)?\)$/.exec(rec.body);
    const mode = m ? DELIVERY_MODES[m[3]] : undefined;
    if (!m || !mode) {
      R.bad(rec.line, 'kvm_msi_set_irq fields not in the form "dst %llx vec %u (mode|physical|logical|edge|level[|rh])"', rec.text);
      return null;
    }
    let dst: bigint | string;
    let vec: bigint | string;
    if (msiFormat === 'legacy') {
      dst = /^\d+$/.test(m[1]) ? decBits(m[1], 8, 'destination') : `destination "${m[1]}" is not decimal (legacy "dst %u")`;
      vec = hexBits(m[2], 8, 'vector');
    } else {
      if (!/^\d+$/.test(m[2])) {
        R.bad(rec.line, `kvm_msi_set_irq: vector "${m[2]}" is not decimal: this looks like the legacy format "dst %u vec %x" of older kernels; import with { msiFormat: "legacy" }`, rec.text);
        return null;
      }
      dst = hexBits(m[1], 32, 'destination');
      vec = decBits(m[2], 8, 'vector');
    }
    if (typeof dst === 'string' || typeof vec === 'string') {
      R.bad(rec.line, `kvm_msi_set_irq: ${typeof dst === 'string' ? dst : vec}`, rec.text);
      return null;
    }
    const d = Number(dst);
    const logical = m[4] === 'logical';
    const level = m[5] === 'level';
    const rh = !!m[6];
    const { addressLo, addressHi, data } = encodeMsi({ vector: Number(vec), deliveryMode: mode.dm, logical, level, trigLevel: level, destId: d, msiRedirHint: rh });
    if (addressHi && !capProof) capProof = { line: rec.line, dst: d };
    return addSlot({
      order: rec.line, line: rec.line, event: 'kvm_msi_set_irq', sends: true, icrLow: data, noTargetCheck: true, route: { dst: d, shorthand: 'dst' },
      step: { op: 'msi', addressLo: hex(addressLo), addressHi: hex(addressHi), data: hex(data), note: `trace line ${rec.line}: MSI (address rebuilt from the traced fields; the extended-destination bits 11:5 and the data's assert bit are not traced)` },
    });
  }

  /**
   * kvm_hypercall: KVM_HC_SEND_IPI becomes a pv_send_ipi step on the thread's vCPU, and the
   * kvm_apic_accept_irq lines right after it (sendOpen) its expected `delivered`. Other hypercalls
   * are skipped, and so are the accepts right after them.
   */
  function hypercallStep(rec: Rec): void {
    const hc = parseHypercall(rec.body);
    if (typeof hc === 'string') {
      R.bad(rec.line, hc, rec.text);
      hypercallOpen.set(rec.pid, `follows the kvm_hypercall on line ${rec.line}, which was not understood: its cause is unknown, so it is not a check`);
      return;
    }
    const nr = hypercallNr(hc.nr);
    if (nr !== BigInt(KVM_HC_SEND_IPI)) {
      const name = nr < 64n ? KVM_HC_NAMES[Number(nr)] : undefined;
      let why = `kvm_hypercall nr ${hex(hc.nr)}${name ? ` (${name})` : ''} is not an APIC op`;
      if (nr === BigInt(KVM_HC_KICK_CPU)) why += `: it wakes the halted vCPU of APIC ID ${hex(hc.a[1] & U32)} (a1) with a RemoteRead (kvm_pv_kick_cpu_op), a hypercall the lab does not model`;
      else if (!name) why += ' (a number KVM does not know: it returns -KVM_ENOSYS)';
      if (hypercall64 && (hc.nr & U32) === BigInt(KVM_HC_SEND_IPI)) why += `; its low 32 bits are KVM_HC_SEND_IPI, which KVM takes only from a guest not in 64-bit mode: import with { hypercall64: false } if the guest was a 32-bit one`;
      R.skip(rec, why);
      if (nr === BigInt(KVM_HC_KICK_CPU)) hypercallOpen.set(rec.pid, `the RemoteRead of the KVM_HC_KICK_CPU hypercall on line ${rec.line}, which is not imported`);
      return;
    }
    const vcpu = vcpuFor(rec);
    if (vcpu === undefined) {
      hypercallOpen.set(rec.pid, `part of the PV IPI on line ${rec.line}, whose vCPU is unknown`);
      return;
    }
    const [a0, a1, a2, a3] = hc.a;
    // kvm_pv_send_ipi() reads the low 32 bits of a3 as the ICR and refuses a logical destination or a shorthand.
    const icrLow = Number(a3 & U32);
    const refused = pvIcrRefused(icrLow);
    const f = decodeIcrLow(icrLow);
    const mode = hypercall64
      ? 'the trace does not show whether the guest was in 64-bit mode: a 64-bit guest is assumed (import with { hypercall64: false } for a 32-bit one)'
      : 'a 32-bit guest ({ hypercall64: false }): KVM cuts every register to 32 bits, and the high bitmap starts 32 IDs above min';
    const step: Record<string, unknown> = {
      op: 'pv_send_ipi', vcpu, bitmapLow: hex(a0), bitmapHigh: hex(a1), min: hex(a2), icr: hex(a3), ...(hypercall64 ? {} : { op64: false }),
      note: `trace line ${rec.line}: PV IPI hypercall KVM_HC_SEND_IPI (kvm_hypercall nr ${hex(hc.nr)}): bitmaps ${hex(a0)} / ${hex(a1)} from APIC ID ${hex(a2)}, ICR ${hex(a3)}; ${mode}${refused ? `; the ICR has a ${f.logical ? 'logical destination' : 'shorthand'}, which KVM refuses (-KVM_EINVAL): nothing is sent` : ''}`,
    };
    pvSeen ??= rec;
    const slot = addSlot({
      order: rec.line, line: rec.line, event: 'kvm_hypercall', vcpu, step, sends: true, icrLow,
      // A refused PV IPI sends nothing at all (no `delivered` in the result): only a sent one is checked for no target.
      noTargetCheck: !refused,
      ...(refused ? {} : { route: { dst: Number(a2 & U32), shorthand: 'pv' } }),
    });
    sendOpen.set(rec.pid, slot);
  }

  function injStep(rec: Rec): void {
    const m = /^(?:irq (\d+)|IRQ 0x([0-9a-fA-F]+)( \[reinjected\])?)$/.exec(rec.body);
    if (!m) {
      if (/^Soft\/INTn/.test(rec.body)) R.skip(rec, 'a software interrupt (INTn) re-injection, not an APIC interrupt');
      else R.bad(rec.line, 'kvm_inj_virq fields not in the form "irq %u" or "IRQ 0x%x[ [reinjected]]"', rec.text);
      return;
    }
    if (m[3]) {
      R.skip(rec, 're-injection of a vector already taken from the APIC (no new IRR → ISR move)');
      return;
    }
    const vec = m[1] !== undefined ? decBits(m[1], 8, 'vector') : hexBits(m[2], 8, 'vector');
    if (typeof vec === 'string') {
      R.bad(rec.line, `kvm_inj_virq: ${vec}`, rec.text);
      return;
    }
    const vcpu = vcpuFor(rec);
    if (vcpu === undefined) return;
    addSlot({
      order: rec.line, line: rec.line, event: 'kvm_inj_virq', vcpu,
      step: { op: 'ack', vcpu, note: `trace line ${rec.line}: KVM injects vector ${Number(vec)} (kvm_inj_virq): the APIC moves it from IRR to ISR`, expect: { vector: Number(vec) } },
    });
  }

  // ---- assemble -------------------------------------------------------------------------------
  if (capProof) {
    // KVM puts address_hi bits 31:8 into the destination only with KVM_X2APIC_API_USE_32BIT_IDS.
    addSlot({
      order: -1, line: capProof.line, event: 'kvm_msi_set_irq', inferred: true,
      step: { op: 'enable_cap', cap: 'X2APIC_API', flags: 1, note: `inferred from trace line ${capProof.line}: the MSI's destination ${hex(capProof.dst)} is above 0xff, which kvm_msi_set_irq prints only when the VM enabled KVM_CAP_X2APIC_API with KVM_X2APIC_API_USE_32BIT_IDS`, expect: { ok: true } },
    });
    rep.notes.push(`KVM_CAP_X2APIC_API was enabled (flags 1, 32-bit IDs): line ${capProof.line} shows an MSI to destination ${hex(capProof.dst)}, above 0xff, which KVM builds from address_hi only with KVM_X2APIC_API_USE_32BIT_IDS. The scenario starts with that enable_cap; whether KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK (flags 2) was also set is not in the trace.`);
  }
  slots.sort((a, b) => a.order - b.order || a.line - b.line);
  inferX2apicEnables();
  let kept = slots.slice(0, maxSteps);
  if (slots.length > kept.length) {
    R.warn(`${slots.length - kept.length} more steps (from line ${slots[kept.length].line} on) were not imported: the limit is ${maxSteps} steps per import`);
    for (const s of slots.slice(kept.length)) R.skip({ line: s.line, event: s.event } as Rec, `over the limit of ${maxSteps} steps per import`);
  }

  // The VM: every vCPU a thread runs, plus every vCPU the trace shows receiving a checked interrupt.
  const usedVcpus = new Set<number>(vcpuInfo.keys());
  for (const slot of kept) {
    if (!slot.sends) continue;
    for (const a of slot.accepts) {
      if (a.vcpu >= MAX_VCPU_ID || usedVcpus.has(a.vcpu)) continue;
      usedVcpus.add(a.vcpu);
      vcpuInfo.set(a.vcpu, { vcpu: a.vcpu, threads: [], how: `receives an interrupt on line ${a.rec.line} (kvm_apic_accept_irq names its vcpu_id); no thread of its own in the trace`, line: a.rec.line });
    }
  }
  let ids = [...usedVcpus].sort((a, b) => a - b);
  if (ids.length > MAX_VCPUS) {
    R.warn(`the trace names ${ids.length} vCPUs; a VM has at most ${MAX_VCPUS}: only the lowest ${MAX_VCPUS} are kept and steps on the others are skipped`);
    ids = ids.slice(0, MAX_VCPUS);
    const keep = new Set(ids);
    kept = kept.filter((s) => {
      if (s.vcpu === undefined || keep.has(s.vcpu)) return true;
      R.skip({ line: s.line, event: s.event } as Rec, `vCPU ${s.vcpu} is beyond the ${MAX_VCPUS} vCPUs a VM can have`);
      return false;
    });
  }
  const idSet = new Set(ids);
  if (ids.length === 0) {
    ids = [0];
    rep.notes.push('No vCPU could be inferred from the trace, so the VM has the single vCPU 0.');
  }
  rep.vcpus = [...vcpuInfo.values()].filter((v) => idSet.has(v.vcpu)).sort((a, b) => a.vcpu - b.vcpu);

  // Checks: accepted interrupts, minus the ones KVM traces but ignores (level de-assert).
  const checks = new Map<Slot, { lines: number[]; delivered: ReportCheck['delivered'] }>();
  for (const slot of kept) {
    if (slot.sends && slot.accepts.length) {
      const sent = slot.icrLow === undefined ? undefined : decodeIcrLow(slot.icrLow);
      const deassert = sent !== undefined && sent.trigLevel && !sent.level;
      const delivered: ReportCheck['delivered'] = [];
      const lines: number[] = [];
      for (const a of slot.accepts) {
        if (!idSet.has(a.vcpu)) {
          R.skip(a.rec, `vCPU ${a.vcpu} cannot be in the VM (id above ${MAX_VCPU_ID - 1} or beyond ${MAX_VCPUS} vCPUs)`);
          continue;
        }
        if (sent) {
          const { vector: vec, deliveryMode: dm } = sent;
          if (a.vector !== vec || !(a.dm === dm || (dm === DM_LOWEST && a.dm === DM_FIXED))) {
            R.skip(a.rec, `vector ${a.vector} (${a.mode}) is not what the step on line ${slot.line} sends (vector ${vec}, mode ${dm}): not caused by it`);
            continue;
          }
        }
        if (deassert && (a.dm === DM_FIXED || a.dm === DM_LOWEST || a.dm === DM_INIT)) {
          R.skip(a.rec, 'a level-triggered de-assert: KVM traces it on arrival but __apic_accept_irq ignores it, so it is not in `delivered`');
          continue;
        }
        delivered.push({ vcpu: a.vcpu, mode: a.mode, vector: a.vector });
        lines.push(a.rec.line);
      }
      if (delivered.length) checks.set(slot, { lines, delivered });
    } else if (slot.sends && slot.noTargetCheck && acceptTraced) {
      // The send is traced and no kvm_apic_accept_irq follows it in its burst: it reached nobody.
      checks.set(slot, { lines: [], delivered: [] });
    }
  }
  inferMapRebuild();
  warnCapPlacement();

  const steps: Record<string, unknown>[] = [];
  kept.forEach((slot, i) => {
    const check = checks.get(slot);
    if (check) {
      slot.step.expect = { ...(slot.step.expect as object | undefined), delivered: check.delivered };
      rep.checks.push({ step: i, ...check });
    }
    steps.push(slot.step);
    rep.steps.push({ step: i, line: slot.line, event: slot.event, op: String(slot.step.op), ...(slot.vcpu !== undefined ? { vcpu: slot.vcpu } : {}), alsoLines: slot.also });
  });

  // What the trace proves about the end state (finalState.ts), checked by the replay as expectFinal.
  const fin = inferFinal({
    vcpus: ids, steps: kept.map((s) => ({ line: s.line, at: Math.max(0, s.order), also: s.also, step: s.step, inferred: s.inferred })),
    events: recs, vcpuOfPid, breaks: R.breaks, capLine: capProof?.line, apicNames: APIC_TRACE_NAMES,
  });
  rep.final = fin.final;
  rep.finalLeftOut = fin.leftOut;
  rep.notes.push(
    `expectFinal checks ${fin.final.length} value${fin.final.length === 1 ? '' : 's'} of the end state that the trace proves (report.final names the line of each); ${fin.leftOut.length ? `${fin.leftOut.length} value${fin.leftOut.length === 1 ? '' : 's'} the trace showed may have changed later and ${fin.leftOut.length === 1 ? 'is' : 'are'} left out (report.finalLeftOut says why). ` : ''}IRR and TMR are never checked (an accepted interrupt may have been injected without a trace, and the trace does not show what was pending before it began), nor are the map and the inhibits (they follow from the VM's configuration, which the trace does not show). A host KVM_SET_LAPIC or KVM_SET_MSRS after the last line would change the state without a trace.`,
  );

  if (apicvOff !== undefined) rep.notes.push(`Line ${apicvOff} sets the APICv inhibit DISABLED, which KVM sets on a host without APICv/AVIC: the scenario's VM has vm.apicv false, so the replay takes KVM's software paths as the traced host did.`);
  if (msiSeen) rep.notes.push(msiFormat === 'legacy'
    ? 'kvm_msi_set_irq was read in the legacy format "dst %u vec %x".'
    : 'kvm_msi_set_irq was read in the current format "dst %llx vec %u"; kernels before the extended destination ID support print "dst %u vec %x": import those with { msiFormat: "legacy" }.');
  rep.notes.push(
    'The replay starts every vCPU at RESET (APICBASE 0xfee00900 for vCPU 0, 0xfee00800 for the others, APIC software-disabled); the trace does not show the state before its first line, so checks of a trace taken mid-run may fail.',
    'Accesses that APICv/AVIC handles without a VM exit (xAPIC and x2APIC reads, TPR/EOI/SELF_IPI writes with virtual-interrupt delivery, ICR writes with IPI virtualization, interrupts posted by hardware) are simply absent from the trace: the trace cannot show them, so they are not replayed.',
    'Host-initiated accesses: KVM_SET_LAPIC, KVM_SET_MP_STATE and KVM_SET_MSRS of IA32_APIC_BASE are not traced, so they are not replayed. KVM_SET_MSRS / KVM_GET_MSRS of x2APIC MSRs are traced as kvm_apic without kvm_msr; where a thread is shown to run an x2APIC vCPU (judged between the guest\'s traced IA32_APIC_BASE writes) they become wrmsr/rdmsr with host: true, elsewhere they cannot be told from MMIO.',
    'kvm_apic_accept_irq lines are checks, not inputs: each one that follows a step sending interrupts (ICR write, SELF_IPI, MSI, PV IPI hypercall) on the same thread and in the same burst becomes part of that step\'s expected `delivered`. KVM traces it before checking that the target APIC is software-enabled, so a Fixed interrupt to a software-disabled APIC appears in the trace but not in the replay\'s `delivered`.',
    'The VM\'s vCPUs are the ids the trace shows (sorted); KVM\'s vCPU creation order, the vendor, the kernel release and module parameters (APICv, unless the inhibit DISABLED is traced) are not in the trace, so the scenario uses the lab\'s defaults.',
  );
  if (pvSeen) {
    rep.notes.push(`kvm_hypercall lines with nr 0xa (KVM_HC_SEND_IPI, the PV IPI a Linux guest on KVM sends most IPIs with; the first on line ${pvSeen.line}) became pv_send_ipi steps on their thread's vCPU, each checked against the kvm_apic_accept_irq lines right after it (the low bitmap from min up, then the high one). ${hypercall64
      ? 'The trace does not show whether the guest was in 64-bit mode, which decides how KVM reads the registers: a 64-bit guest is assumed (op64 omitted); import with { hypercall64: false } for a 32-bit guest.'
      : 'They are read as a 32-bit guest\'s ({ hypercall64: false }: op64 false, every register cut to 32 bits).'} The hypercall\'s return (RAX) is not traced, so \`ret\` is not checked, and the replay assumes KVM reached kvm_pv_send_ipi: one refused before it (the guest above CPL 0: -KVM_EPERM; KVM_FEATURE_PV_SEND_IPI hidden under KVM_CAP_ENFORCE_PV_FEATURE_CPUID: -KVM_ENOSYS) sends nothing, and its check then fails.`);
  }
  if (!recs.some((r) => r.event === 'kvm_apic') && recs.some((r) => r.event === 'kvm_msr')) {
    rep.notes.push('The trace has no kvm_apic events: xAPIC MMIO accesses, if any, are not in it (enable kvm:kvm_apic to see them).');
  }
  if (!acceptTraced && kept.some((s) => s.sends)) {
    rep.notes.push('The trace has no kvm_apic_accept_irq events, so no step checks which vCPUs got its interrupts (enable kvm:kvm_apic_accept_irq).');
  }
  if (rep.eventLines === 0) {
    rep.notes.push(rep.totalLines === 0 ? 'The trace is empty.' : 'No line of the text is a trace event: is it the output of `trace-cmd report` or tracefs `trace`?');
  }

  const description = [
    `Imported from ${rep.source === 'ftrace' ? 'an ftrace trace file' : 'a trace-cmd report'}: ${steps.length} step${steps.length === 1 ? '' : 's'} from ${rep.eventLines} event line${rep.eventLines === 1 ? '' : 's'} (${rep.totalLines} lines),`,
    `vCPUs ${ids.join(', ')}.`,
    `${rep.checks.length} step${rep.checks.length === 1 ? '' : 's'} check${rep.checks.length === 1 ? 's' : ''} the interrupts the trace shows accepted; ${rep.skippedCount} event${rep.skippedCount === 1 ? ' was' : 's were'} skipped and ${rep.notUnderstoodCount} line${rep.notUnderstoodCount === 1 ? ' was' : 's were'} not understood (see the import report).`,
    'Each step\'s note gives its trace line.',
  ].join(' ');

  return {
    scenario: {
      format: 'apic-scenario/1',
      title: `Imported KVM trace (${steps.length} step${steps.length === 1 ? '' : 's'})`,
      description,
      vm: { vcpus: ids, ...(apicvOff !== undefined ? { apicv: false as const } : {}) },
      steps: steps,
      ...(fin.expectFinal ? { expectFinal: fin.expectFinal } : {}),
      source: { importer: 'src/import/traceCmd.ts', kind: rep.source, lines: rep.totalLines },
    },
    report: rep,
  };
}
