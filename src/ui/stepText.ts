/**
 * One line per step, in the style of KVM's tracepoints, and the searchable text of a log entry.
 * Pure functions. Why a step did what it did comes from its result's decisions, in words from
 * src/explain; nothing here reads result or trace text.
 */
import type { Decision, EventDecision } from '../core/decisions';
import { explain } from '../explain/explain';
import { guestTime, timerLogWords } from '../explain/panels';
import { field, type StepResult } from '../scenario/result';
import type { LogEntry } from '../store/labStore';

const h = (v: bigint | number) => '0x' + v.toString(16);

/** What the step did, as one line: `wrmsr vcpu 1 msr 0x1b = 0xfee00c00`. */
export function stepLine({ step }: LogEntry): string {
  const who = 'vcpu' in step ? ` vcpu ${step.vcpu}` : '';
  switch (step.op) {
    case 'wrmsr':
      return `wrmsr${who} ${h(step.msr)} = ${h(step.value)}${step.host ? ' (host)' : ''}`;
    case 'rdmsr':
      return `rdmsr${who} ${h(step.msr)}${step.host ? ' (host)' : ''}`;
    case 'mmio_write':
      return `mmio_write${who} ${step.gpa !== undefined ? 'gpa ' + h(step.gpa) : '+' + h(step.offset!)} = ${h(step.value)}`;
    case 'mmio_read':
      return `mmio_read${who} ${step.gpa !== undefined ? 'gpa ' + h(step.gpa) : '+' + h(step.offset!)}`;
    case 'msi':
      return `msi address ${h(step.addressLo)}${step.addressHi ? '/' + h(step.addressHi) : ''} data ${h(step.data)}`;
    case 'enable_cap':
      return `enable_cap X2APIC_API ${h(step.flags)}`;
    case 'set_mp_state':
      return `set_mp_state${who} ${step.state}`;
    case 'enter_guest':
      return `enter_guest${who}${step.activity === 'wait-for-sipi' ? ' wait-for-SIPI' : ''}`;
    case 'advance':
      return step.until ? `advance until ${step.until}` : `advance +${guestTime(Number(step.ns ?? 0n))}`;
    case 'local_irq':
      return `local_irq${who} ${step.lvt}`;
    case 'pv_send_ipi':
      return `pv_send_ipi${who} min ${step.min} bitmap ${h(step.bitmapLow)}${step.bitmapHigh ? '/' + h(step.bitmapHigh) : ''} icr ${h(step.icr)}${step.op64 === false ? ' (32-bit)' : ''}`;
    default:
      return `${step.op}${who}`;
  }
}

/** "#GP" or the errno of a refused step. */
export function failureName(r: StepResult): string {
  const ret = field(r, 'ret');
  return String(r.fault ?? r.error ?? (ret !== undefined ? `returns ${ret}` : 'refused'));
}

/** Why a refused step was refused, in words (the refusal decision; `reason` if a result has none). */
export function refusalWords(r: StepResult, form: 'short' | 'long' = 'long'): string {
  return r.refusal ? explain(r.refusal, form) : (r.reason ?? '');
}

/**
 * Event decisions a step's line names (timer expiries and injections, local sources): what an
 * `advance`, `local_irq` or `nmi_watchdog` step did is nothing but these, and a `run` or guest
 * access that delivered a pending timer expiry says so on its line.
 */
const LINE_EVENTS: ReadonlySet<EventDecision['code']> = new Set(['TIMER_EXPIRED', 'TIMER_INJECTED', 'LOCAL_DELIVERED', 'LOCAL_MASKED', 'LVTPC_SELF_MASKED', 'NMI_WATCHDOG_IDLE']);
/** At most this many of them on one line (a big VM's timers can expire together). */
const LINE_EVENTS_MAX = 2;

/** The time after an `advance` step (its nowNs), if the result is one. */
function nowNs(r: StepResult): number | undefined {
  return r.op === 'advance' ? r.nowNs : undefined;
}

/** The outcome: ok / #GP / EINVAL, plus a value, an MP state or the deliveries. */
export function resultLine({ result: r }: Pick<LogEntry, 'result'>): string {
  if (!r.ok) {
    const why = refusalWords(r, 'short');
    return `${failureName(r)}${why ? ` (${why})` : ''}`;
  }
  const parts: string[] = [];
  const value = field(r, 'value');
  const mpState = field(r, 'mpState');
  const vmexit = field(r, 'vmexit');
  const vector = field(r, 'vector');
  const path = field(r, 'path');
  if (value !== undefined) parts.push(value);
  if (field(r, 'unclaimed')) parts.push('unclaimed');
  if (field(r, 'unreadable')) parts.push('no data (KVM writes none for an unreadable register)');
  if (mpState) parts.push(mpState);
  if (vmexit) parts.push(`VM-exit ${vmexit.reason}`);
  if (vector !== undefined) parts.push(vector === null ? 'no interrupt' : `vector ${vector}`);
  const ret = field(r, 'ret');
  if (ret !== undefined) parts.push(`returns ${ret}`);
  if (path) {
    const d = field(r, 'delivered') ?? [];
    parts.push(`${r.op === 'pv_send_ipi' ? 'phys_map' : `${path} path`} -> ${d.length ? d.map((x) => 'vCPU ' + x.vcpu).join(', ') : 'nobody'}`);
  }
  const now = nowNs(r);
  if (now !== undefined) parts.push(timerLogWords.now(now));
  // A timer injection is also a LOCAL_DELIVERED through LVTT: name the injection only.
  const events = (field(r, 'events') ?? []).filter((d) => LINE_EVENTS.has(d.code) && !(d.code === 'LOCAL_DELIVERED' && d.lvt === 'TIMER'));
  for (const d of events.slice(0, LINE_EVENTS_MAX)) parts.push(explain(d, 'short'));
  if (events.length > LINE_EVENTS_MAX) parts.push(`+${events.length - LINE_EVENTS_MAX} more`);
  return parts.length ? parts.join(', ') : 'ok';
}

/** Every decision a step's result carries, in reading order: refusal, route, drops, INIT/SIPI events. */
export function decisionsOf(r: StepResult): Decision[] {
  const route = field(r, 'route');
  return [...(r.refusal ? [r.refusal] : []), ...(route ? [route] : []), ...(field(r, 'dropped') ?? []), ...(field(r, 'events') ?? [])];
}

/** Everything a filter can match: the step, its result, the words of its decisions and its trace events. */
export function searchText(e: LogEntry): string {
  const trace = e.result.trace ?? [];
  const why = decisionsOf(e.result).map((d) => explain(d, 'long'));
  return [stepLine(e), resultLine(e), ...why, ...trace.map((t) => `${t.event}: ${t.detail}`)].join('\n').toLowerCase();
}
