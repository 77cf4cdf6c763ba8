/**
 * Replay one scenario on two backends in lockstep and list every observable difference: step
 * results (fault, error, value, regs, mpState, count) and, after each step, each vCPU's APIC base,
 * KVM_GET_LAPIC image, pending NMI/SMI and latched INIT; at the end, every vCPU's MP state.
 *
 * Not compared: `delivered` and `path` (the kernel shows deliveries only through the state they
 * change, which is compared), TMCCT, in images and RDMSR 0x839 (the timer runs on the kernel,
 * not in the model), and the value of an MMIO read of an unreadable register (KVM writes none).
 */
import { APIC_TMCCT, SLOT_NAMES, slotKey } from '../core/apicdef';
import { UnsupportedStep, type ScenarioBackend, type VcpuObservation } from './backend';
import { hex } from './numbers';
import { field, resultFields, type StepResult } from './result';
import type { Scenario, Step } from './schema';

export interface Difference {
  /** "step 3 (wrmsr)", "after step 3 (wrmsr)" or "final". */
  where: string;
  field: string;
  model: string;
  kernel: string;
}

export interface Comparison {
  /** Steps compared. */
  steps: number;
  vcpusObserved: number;
  differences: Difference[];
  /** With `unsupported: 'stop'`: the first step a backend could not run, where the comparison ended. */
  stoppedAt?: { step: number; reason: string };
}

const COMPARED_FIELDS = ['ok', 'fault', 'error', 'value', 'mpState', 'count'] as const;
const show = (v: unknown): string => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

function wordName(index: number): string {
  const off = index * 4;
  const slot = off & ~0xf;
  const name = SLOT_NAMES.get(slot) ?? 'reserved';
  return off === slot ? `${slotKey(slot)} ${name}` : `0x${off.toString(16).padStart(3, '0')} (${name} +${off - slot})`;
}

/** A read of TMCCT: its value depends on time, which passes on the kernel but not in the model. */
const readsTmcct = (step: Step) => step.op === 'rdmsr' && step.msr === 0x839n;

function compareResults(where: string, step: Step, a: StepResult, b: StepResult, out: Difference[]): void {
  const fa = resultFields(a);
  const fb = resultFields(b);
  for (const f of COMPARED_FIELDS) {
    if (f === 'value' && (readsTmcct(step) || fa.unreadable)) continue; // time passes; KVM wrote no value
    if (show(fa[f]) !== show(fb[f])) out.push({ where, field: f, model: show(fa[f]), kernel: show(fb[f]) });
  }
  const ra = field(a, 'regs');
  const rb = field(b, 'regs');
  if (ra && rb) {
    for (const k of Object.keys(ra)) {
      if (parseInt(k, 16) === APIC_TMCCT) continue;
      if (ra[k] !== rb[k]) out.push({ where, field: `regs ${k} ${SLOT_NAMES.get(parseInt(k, 16)) ?? ''}`.trim(), model: ra[k], kernel: rb[k] });
    }
  }
}

function compareObservations(where: string, a: VcpuObservation[], b: VcpuObservation[], out: Difference[]): void {
  const ids = (o: VcpuObservation[]) => o.map((x) => x.vcpu).join(',');
  if (ids(a) !== ids(b)) {
    out.push({ where, field: 'vCPUs', model: ids(a), kernel: ids(b) });
    return;
  }
  a.forEach((x, n) => {
    const y = b[n];
    const vw = `vCPU ${x.vcpu}`;
    if (x.apicBase !== y.apicBase) out.push({ where, field: `${vw} apicBase`, model: hex(x.apicBase), kernel: hex(y.apicBase) });
    for (const f of ['nmiPending', 'smiPending', 'latchedInit'] as const) {
      if (x[f] !== y[f]) out.push({ where, field: `${vw} ${f}`, model: String(x[f]), kernel: String(y[f]) });
    }
    for (let i = 0; i < x.regs.length; i++) {
      if (i * 4 === APIC_TMCCT) continue;
      if (x.regs[i] !== y.regs[i]) out.push({ where, field: `${vw} ${wordName(i)}`, model: hex(x.regs[i]), kernel: hex(y.regs[i]) });
    }
  });
}

/**
 * Run `scenario` on both backends; both are closed afterwards. `observeEachStep: false` compares
 * the observed state only at the start and the end (for scenarios with hundreds of vCPUs).
 */
export function compareBackends(
  scenario: Scenario,
  model: ScenarioBackend,
  kernel: ScenarioBackend,
  { observeEachStep = true, unsupported = 'throw' }: { observeEachStep?: boolean; unsupported?: 'throw' | 'stop' } = {},
): Comparison {
  const differences: Difference[] = [];
  let vcpusObserved = 0;
  let steps = 0;
  try {
    compareObservations('initial state', model.observe(), kernel.observe(), differences);
    for (const [i, step] of scenario.steps.entries()) {
      const where = `step ${i} (${step.op})`;
      let theirs: StepResult;
      const ours = model.applyStep(step, i);
      try {
        theirs = kernel.applyStep(step, i);
      } catch (e) {
        if (unsupported === 'stop' && e instanceof UnsupportedStep) return { steps, vcpusObserved, differences, stoppedAt: { step: i, reason: e.message } };
        throw e;
      }
      steps++;
      compareResults(where, step, ours, theirs, differences);
      if (!observeEachStep) continue;
      const a = model.observe();
      vcpusObserved += a.length;
      compareObservations(`after ${where}`, a, kernel.observe(), differences);
    }
    const ma = model.readMpStates();
    const kb = kernel.readMpStates();
    ma.forEach((m, n) => {
      if (m.mpState !== kb[n]?.mpState) differences.push({ where: 'final', field: `vCPU ${m.vcpu} mpState`, model: m.mpState, kernel: kb[n]?.mpState ?? '(none)' });
    });
    compareObservations('final (after KVM_GET_MP_STATE)', model.observe(), kernel.observe(), differences);
  } finally {
    model.close();
    kernel.close();
  }
  return { steps, vcpusObserved, differences };
}

/** A readable report, one difference per line. */
export function formatComparison(c: Comparison, header: string[]): string {
  const lines = [...header];
  if (c.stoppedAt) lines.push(`stopped at ${c.stoppedAt.reason}; ${c.steps} steps before it were compared.`);
  if (c.differences.length === 0) lines.push(`model and kernel agree on ${c.stoppedAt ? 'those' : 'all'} ${c.steps} steps and everything observable.`);
  else {
    lines.push(`${c.differences.length} difference(s):`);
    for (const d of c.differences) lines.push(`  ${d.where}: ${d.field}: model ${d.model}, kernel ${d.kernel}`);
  }
  return lines.join('\n') + '\n';
}
