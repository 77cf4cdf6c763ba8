/**
 * One line per step, in the style of KVM's tracepoints, and the searchable text of a log entry.
 * Pure functions.
 */
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
    default:
      return `${step.op}${who}`;
  }
}

/** The outcome: ok / #GP / EINVAL, plus a value, an MP state or the deliveries. */
export function resultLine({ result: r }: Pick<LogEntry, 'result'>): string {
  if (!r.ok) return `${String(r.fault ?? r.error)}${r.reason ? ` (${String(r.reason)})` : ''}`;
  const parts: string[] = [];
  if (r.value !== undefined) parts.push(String(r.value));
  if (r.unclaimed) parts.push('unclaimed');
  if (r.mpState) parts.push(String(r.mpState));
  if (r.vmexit) parts.push(`VM-exit ${(r.vmexit as { reason: string }).reason}`);
  if (r.vector !== undefined) parts.push(r.vector === null ? 'no interrupt' : `vector ${String(r.vector)}`);
  if (r.path) {
    const d = (r.delivered as { vcpu: number }[]) ?? [];
    parts.push(`${String(r.path)} path -> ${d.length ? d.map((x) => 'vCPU ' + x.vcpu).join(', ') : 'nobody'}`);
  }
  return parts.length ? parts.join(', ') : 'ok';
}

/** Everything a filter can match: the step, its result and its trace events. */
export function searchText(e: LogEntry): string {
  const trace = (e.result.trace as { event: string; detail: string }[] | undefined) ?? [];
  return [stepLine(e), resultLine(e), ...trace.map((t) => `${t.event}: ${t.detail}`)].join('\n').toLowerCase();
}
