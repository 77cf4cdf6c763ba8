/**
 * Replay one scenario on two backends in lockstep and list every observable difference: step
 * results (fault, error, value, regs, mpState, count) and, after each step, each vCPU's APIC base,
 * KVM_GET_LAPIC image, pending NMI/SMI and latched INIT; at the end, every vCPU's MP state.
 *
 * Not compared: `delivered` and `path` (the kernel shows deliveries only through the state they
 * change, which is compared), `nowNs` of `advance`, and the value of an MMIO read of an
 * unreadable register (KVM writes none).
 *
 * Time. The model's clock is virtual (moved only by `advance`); the kernel's is host time, which
 * also passes while steps run. Each backend that keeps time says what its clock reads: the model
 * its VM's `clockNs`, the kernel backend `elapsedNs()` (host time since its VM's time zero; its
 * `advance` waits until that reaches the scenario's clock). After every kernel step and every
 * observation the comparison samples the kernel's lead (its clock minus the model's), and keeps
 * per vCPU how far the kernel timer's target may lie from the model's (TimeJudge: the lead while
 * the step that armed it ran, rescaled by a TDCR change, kept by periodic reloads, the TSC origin's
 * error for a TSC deadline). So the tolerance is measured, never fixed (it is 0 between two models):
 * - TMCCT (x2APIC RDMSR 0x839, an MMIO load at page offset 0x390, `get_lapic` regs and every
 *   observed KVM_GET_LAPIC image) must be apic_get_tmcct() of a remaining time within that
 *   distance of the model's (one-shot: at most its period, 0 once past; periodic: round the
 *   period, so TMCCT after a reload lies within the period). Where the distance spans a whole
 *   period (a 200 us timer on a host lagging milliseconds) only "within the period" is judged.
 *   TSC-deadline mode and TMICT 0: exactly (both read 0).
 * - Everything else, expiries included (the timer's vector in IRR after a run, the TSC deadline
 *   read back, TMICT zeroed by a mode switch), exactly. Where a model expiry lies closer to a step
 *   boundary than the clocks may be apart (plus HRTIMER_LATENCY_NS for the host to run the
 *   hrtimer), the kernel's may have fired on the other side: the comparison notes a close call
 *   (`timing.closeCalls`) rather than blame the model for the differences that follow.
 */
import { APIC_LVTT, APIC_TDCR, APIC_TMCCT, APIC_TMICT, SLOT_NAMES, slotKey } from '../core/apicdef';
import { MIN_TIMER_PERIOD_NS } from '../core/timer';
import { UnsupportedStep, type ScenarioBackend, type VcpuObservation } from './backend';
import { ModelBackend } from './modelBackend';
import { hex } from './numbers';
import { field, resultFields, type StepResult } from './result';
import type { Scenario, Step } from './schema';

export interface Difference {
  /** "step 3 (wrmsr)", "after step 3 (wrmsr)" or "final". */
  where: string;
  /** The step it was found at or after; the final state counts as after the last step (none: the initial state). */
  step?: number;
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
  /** When both backends keep time: how far apart their clocks were, and how time-dependent values fared. */
  timing?: TimingReport;
  /** What the kernel backend's host did mid-step (ScenarioBackend.takeHostEvents), by step: differences from then on may be its timing. */
  hostEvents?: { step: number; what: string }[];
}

/** What the comparison saw of the two clocks. */
export interface TimingReport {
  /** The greatest and least lead of the kernel's clock over the model's, sampled after each kernel step and observation (ns). */
  maxLeadNs: number;
  minLeadNs: number;
  /** TMCCT values of a running timer judged within the tolerance. */
  tmcctJudged: number;
  /** TMCCT values of a periodic timer shorter than the tolerance: judged only to lie within the period. */
  tmcctWithinPeriodOnly: number;
  /** Step boundaries with a model timer expiry closer than the tolerance: the kernel's may have fired on the other side. */
  closeCalls: string[];
}

/** A backend with a clock: ns since its VM's time zero. */
export interface ClockedBackend {
  elapsedNs(): number;
  /** How far off its guest TSC at time zero may be (ns), when it maps TSC deadlines onto it. */
  tscZeroErrorNs?(): number;
}

/** The host's latency in running an expired hrtimer, allowed for when looking for close calls. */
export const HRTIMER_LATENCY_NS = 1_000_000;

export type TimerModeName = 'one-shot' | 'periodic' | 'tsc-deadline';

/** The timer's programming in a KVM_GET_LAPIC image. */
export interface TimerParams {
  mode: TimerModeName;
  /** apic->divide_count, from TDCR. */
  divide: number;
  tmict: number;
  /** lapic_timer.period: TMICT * divide ns, at least 200 us when periodic. */
  periodNs: number;
}

export function timerParams(regs: Uint32Array): TimerParams {
  const m = (regs[APIC_LVTT >> 2] >>> 17) & 3;
  const tdcr = regs[APIC_TDCR >> 2] & 0xf;
  const divide = 1 << ((((tdcr & 3) | ((tdcr & 8) >> 1)) + 1) & 7);
  const tmict = regs[APIC_TMICT >> 2];
  const mode: TimerModeName = m === 2 ? 'tsc-deadline' : m === 1 ? 'periodic' : 'one-shot';
  let periodNs = tmict * divide;
  if (mode === 'periodic' && periodNs && periodNs < MIN_TIMER_PERIOD_NS) periodNs = MIN_TIMER_PERIOD_NS;
  return { mode, divide, tmict, periodNs };
}

/** apic_get_tmcct() for `remainingNs` until target_expiration. */
export function tmcctAt(remainingNs: number, p: TimerParams): number {
  if (p.mode === 'tsc-deadline' || !p.tmict || !p.periodNs || remainingNs <= 0) return 0;
  return Math.floor((remainingNs % p.periodNs) / p.divide);
}

/** How a kernel's TMCCT compares with the model's, given how far apart the clocks may be. */
export interface TmcctJudgement {
  agrees: boolean;
  /** 'exact' (no running count, or no time apart), 'tolerance' (judged), 'period' (the clocks may be a period apart: only within the period). */
  how: 'exact' | 'tolerance' | 'period';
}

/**
 * Is `kernel` what apic_get_tmcct() gives for a remaining time in [r + lowNs, r + highNs], where r
 * is the model's remaining time to its target: `modelRemainingNs` when known (exact), else
 * inferred from the model's count `model` (within one count)?
 */
export function judgeTmcct(model: number, kernel: number, p: TimerParams, lowNs: number, highNs: number, modelRemainingNs: number | null = null): TmcctJudgement {
  if (p.mode === 'tsc-deadline' || !p.tmict || !p.periodNs || (lowNs === 0 && highNs === 0)) return { agrees: model === kernel, how: 'exact' };
  const within = kernel * p.divide < p.periodNs;
  const [lo, hi] = modelRemainingNs !== null && tmcctAt(modelRemainingNs, p) === model ? [modelRemainingNs, modelRemainingNs] : [model * p.divide, (model + 1) * p.divide - 1];
  // A running periodic timer reloads (its target moves a period on), so its remaining time wraps;
  // a one-shot, or a periodic timer whose target the model has left in the past (not running,
  // e.g. a one-shot that fired, switched to periodic), reads 0 past its target (apic_get_tmcct).
  const periodic = p.mode === 'periodic' && !(modelRemainingNs !== null && modelRemainingNs <= 0);
  const a = lo + Math.min(lowNs, highNs);
  const b = Math.min(hi + Math.max(lowNs, highNs), periodic ? Infinity : p.periodNs); // a one-shot never has more than its period left
  if (b - a >= p.periodNs) return { agrees: within, how: 'period' };
  if (!periodic && kernel === 0 && a <= 0) return { agrees: true, how: 'tolerance' };
  // Remaining times giving `kernel`: [j * period + kernel * divide, + divide) (one-shot: above 0).
  const j0 = Math.floor((a - kernel * p.divide) / p.periodNs);
  for (const j of [j0, j0 + 1]) {
    const from = j * p.periodNs + kernel * p.divide;
    const to = from + p.divide; // exclusive
    if (to > (periodic ? a : Math.max(a, 1)) && from <= b) return { agrees: within, how: 'tolerance' };
  }
  return { agrees: false, how: 'tolerance' };
}

/** The model's timers, for close calls and exact remaining times. */
interface ModelTimer {
  vcpu: number;
  armedAt: number | null;
  periodNs: number;
  periodic: boolean;
  tscDeadlineMode: boolean;
  /** target_expiration, and it minus now. */
  target: number;
  remainingNs: number;
  divide: number;
  tscDeadline: bigint;
}

/** Steps that may (re)start a vCPU's timer: writes to its registers, MSRs or image. */
const mayArm = (step: Step): step is Step & { op: 'wrmsr' | 'mmio_write' | 'set_lapic' } => step.op === 'wrmsr' || step.op === 'mmio_write' || step.op === 'set_lapic';

/** The TSC origin's error assumed when the kernel backend does not say (one KVM_GET_MSRS). */
const TSC_ZERO_ERROR_NS = 1_000_000;

/**
 * Samples the two clocks and judges time-dependent values; inert (exact comparison) unless both
 * keep time. The kernel's lead (its clock minus the model's) is sampled after each kernel step and
 * each observation; it only grows within a step other than `advance`, so whatever the kernel did
 * during a step happened at a lead between the samples before and after it.
 *
 * Per vCPU it keeps `offset`: an interval holding the kernel timer's target_expiration (host time
 * since its VM's time zero) minus the model's (model time). A step that starts the model's timer
 * afresh (TMICT, LVTT, KVM_SET_LAPIC) sets it to the step's lead interval; a TDCR change that
 * rescales what remains by q = new / old divide makes it q * offset + (1 - q) * lead; a TSC
 * deadline is on both clocks the same time since time zero, so its offset is only the error of the
 * kernel's TSC origin; periodic reloads (target += period on both) keep it. A value read at lead l
 * then has the kernel's remaining time = the model's + offset - l.
 */
class TimeJudge {
  private maxLead = 0;
  private minLead = 0;
  private lead = 0;
  private prevLead = 0;
  private readonly offset = new Map<number, [number, number]>();
  judged = 0;
  periodOnly = 0;
  readonly closeCalls: string[] = [];
  private readonly modelClock: (() => number) | null;
  private readonly kernelClock: (() => number) | null;

  constructor(private readonly model: ScenarioBackend, private readonly kernel: ScenarioBackend) {
    this.modelClock = clockOf(model);
    this.kernelClock = clockOf(kernel);
  }

  get timed(): boolean {
    return this.modelClock !== null && this.kernelClock !== null;
  }

  sample(): void {
    if (!this.modelClock || !this.kernelClock) return;
    this.prevLead = this.lead;
    this.lead = this.kernelClock() - this.modelClock();
    this.maxLead = Math.max(this.maxLead, this.lead);
    this.minLead = Math.min(this.minLead, this.lead);
  }

  private tscZeroError(): number {
    const e = (this.kernel as Partial<ClockedBackend>).tscZeroErrorNs;
    return typeof e === 'function' ? e.call(this.kernel) : TSC_ZERO_ERROR_NS;
  }

  /** After the kernel ran `step` (and the lead was sampled); `before`: the model's timers before it. */
  stepDone(step: Step, before: ModelTimer[] | null): void {
    if (!this.timed || !mayArm(step)) return;
    const b = before?.find((t) => t.vcpu === step.vcpu);
    const a = this.timers()?.find((t) => t.vcpu === step.vcpu);
    const during: [number, number] = [this.prevLead, this.lead];
    const old = this.offset.get(step.vcpu);
    let next: [number, number];
    if (!a || !b || !old) next = during;
    else if (a.tscDeadlineMode) {
      if (a.tscDeadline === b.tscDeadline && a.armedAt === b.armedAt) return;
      const e = this.tscZeroError();
      next = [-e, e];
    } else if (step.op !== 'set_lapic' && a.divide !== b.divide && b.periodNs && a.target !== b.target) {
      const q = a.divide / b.divide; // update_target_expiration()
      const corners = old.flatMap((o) => during.map((l) => q * o + (1 - q) * l));
      next = [Math.min(...corners), Math.max(...corners)];
    } else if (a.target !== b.target || a.armedAt !== b.armedAt) next = during;
    else next = [Math.min(old[0], during[0]), Math.max(old[1], during[1])]; // restarted at the same model time, or not at all
    this.offset.set(step.vcpu, next);
  }

  /** The kernel's remaining time minus the model's, for a read on `vcpu` now: [low, high] (ns). */
  private window(vcpu: number): [number, number] {
    if (!this.timed) return [0, 0];
    const [lo, hi] = this.offset.get(vcpu) ?? [this.minLead, this.maxLead];
    return [lo - this.lead, hi - this.prevLead];
  }

  /** Null when the kernel's TMCCT of `vcpu` agrees with the model's, else a note for the difference's field. */
  tmcct(vcpu: number, modelRegs: Uint32Array | undefined, model: number, kernel: number): string | null {
    if (!modelRegs) return model === kernel ? null : '';
    const p = timerParams(modelRegs);
    const [lo, hi] = this.window(vcpu);
    const j = judgeTmcct(model, kernel, p, lo, hi, this.timers()?.find((t) => t.vcpu === vcpu)?.remainingNs ?? null);
    if (j.how === 'tolerance') this.judged++;
    if (j.how === 'period') this.periodOnly++;
    if (j.agrees) return null;
    if (j.how === 'exact') return '';
    const us = (ns: number) => `${(ns / 1000).toFixed(1)} us`;
    return j.how === 'period'
      ? ` (not within the period of ${Math.ceil(p.periodNs / p.divide)} counts)`
      : ` (the kernel's timer should have ${us(-hi)} to ${us(-lo)} less to run than the model's, divide ${p.divide})`;
  }

  timers(): ModelTimer[] | null {
    const m = this.model;
    if (!this.timed || !(m instanceof ModelBackend)) return null;
    const now = m.vm.clockNs;
    return m.vm.vcpus.map((v) => {
      const t = v.apic.timer;
      return {
        vcpu: v.id, armedAt: t.armedAt, periodNs: t.period, periodic: t.modeName === 'periodic', tscDeadlineMode: t.modeName === 'tsc-deadline',
        target: t.target, remainingNs: t.target - now, divide: t.divideCount, tscDeadline: t.tscDeadline,
      };
    });
  }

  private readonly noted = new Set<string>();
  /** Each expiry is a close call once (a short periodic timer would be one at every step). */
  private once(key: string): boolean {
    if (this.noted.has(key)) return false;
    this.noted.add(key);
    return true;
  }

  /** After a step and its observation: does a model expiry lie closer to this boundary than the clocks may be apart? */
  checkCloseCalls(where: string, step: Step, before: ModelTimer[] | null): void {
    const after = this.timers();
    if (!after || !this.modelClock) return;
    const now = this.modelClock();
    const us = (ns: number) => `${(ns / 1000).toFixed(1)} us`;
    for (const t of after) {
      const [lo, hi] = this.window(t.vcpu);
      if (t.armedAt !== null && t.armedAt - now <= -lo && this.once(`due ${t.vcpu} ${t.armedAt}`)) {
        this.closeCalls.push(`${where}: vCPU ${t.vcpu}'s timer is due ${us(t.armedAt - now)} after the model's clock, and the kernel's may be up to ${us(-lo)} nearer: it may already have fired`);
      }
      const b = before?.find((x) => x.vcpu === t.vcpu);
      if (b?.armedAt == null || b.armedAt > now) continue;
      let last = b.armedAt;
      if (t.periodic && t.periodNs > 0) last += Math.floor((now - last) / t.periodNs) * t.periodNs;
      if (step.op === 'advance' && step.until && last === now) continue; // the kernel waits for its own expiry
      const late = hi + (this.kernel instanceof ModelBackend ? 0 : HRTIMER_LATENCY_NS);
      if (now - last < late && this.once(`fired ${t.vcpu} ${last}`)) {
        this.closeCalls.push(`${where}: vCPU ${t.vcpu}'s timer fired ${us(now - last)} before the model's clock, and the kernel's may fire up to ${us(late)} later`);
      }
    }
  }

  report(): TimingReport | undefined {
    if (!this.timed) return undefined;
    return { maxLeadNs: this.maxLead, minLeadNs: this.minLead, tmcctJudged: this.judged, tmcctWithinPeriodOnly: this.periodOnly, closeCalls: this.closeCalls };
  }
}

function clockOf(b: ScenarioBackend): (() => number) | null {
  if (b instanceof ModelBackend) return () => b.vm.clockNs;
  const elapsed = (b as Partial<ClockedBackend>).elapsedNs;
  return typeof elapsed === 'function' ? () => elapsed.call(b) : null;
}

const COMPARED_FIELDS = ['ok', 'fault', 'error', 'value', 'mpState', 'count', 'ret'] as const;
const show = (v: unknown): string => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v));

function wordName(index: number): string {
  const off = index * 4;
  const slot = off & ~0xf;
  const name = SLOT_NAMES.get(slot) ?? 'reserved';
  return off === slot ? `${slotKey(slot)} ${name}` : `0x${off.toString(16).padStart(3, '0')} (${name} +${off - slot})`;
}

/** A guest read of TMCCT: x2APIC RDMSR 0x839 or an MMIO load at page offset 0x390. */
const readsTmcct = (step: Step) =>
  (step.op === 'rdmsr' && step.msr === 0x839n) || (step.op === 'mmio_read' && ((step.offset ?? step.gpa ?? 0n) & 0xfffn) === BigInt(APIC_TMCCT));

function compareResults(where: string, step: Step, a: StepResult, b: StepResult, out: Difference[], judge: TimeJudge, modelRegs: () => Uint32Array | undefined): void {
  const vcpu = 'vcpu' in step ? step.vcpu : -1;
  const fa = resultFields(a);
  const fb = resultFields(b);
  for (const f of COMPARED_FIELDS) {
    if (f === 'value' && fa.unreadable) continue; // KVM wrote no value
    if (f === 'value' && readsTmcct(step) && typeof fa.value === 'string' && typeof fb.value === 'string') {
      const note = judge.tmcct(vcpu, modelRegs(), Number(fa.value), Number(fb.value));
      if (note !== null) out.push({ where, field: `value (TMCCT)${note}`, model: fa.value, kernel: fb.value });
      continue;
    }
    if (show(fa[f]) !== show(fb[f])) out.push({ where, field: f, model: show(fa[f]), kernel: show(fb[f]) });
  }
  const ra = field(a, 'regs');
  const rb = field(b, 'regs');
  if (ra && rb) {
    for (const k of Object.keys(ra)) {
      const name = `regs ${k} ${SLOT_NAMES.get(parseInt(k, 16)) ?? ''}`.trim();
      if (parseInt(k, 16) === APIC_TMCCT && rb[k] !== undefined) {
        const note = judge.tmcct(vcpu, modelRegs(), Number(ra[k]), Number(rb[k]));
        if (note !== null) out.push({ where, field: `${name}${note}`, model: ra[k], kernel: rb[k] });
        continue;
      }
      if (ra[k] !== rb[k]) out.push({ where, field: name, model: ra[k], kernel: rb[k] });
    }
  }
}

function compareObservations(where: string, a: VcpuObservation[], b: VcpuObservation[], out: Difference[], judge: TimeJudge): void {
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
      if (i * 4 === APIC_TMCCT) {
        const note = judge.tmcct(x.vcpu, x.regs, x.regs[i], y.regs[i]);
        if (note !== null) out.push({ where, field: `${vw} ${wordName(i)}${note}`, model: hex(x.regs[i]), kernel: hex(y.regs[i]) });
        continue;
      }
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
  const hostEvents: { step: number; what: string }[] = [];
  let vcpusObserved = 0;
  let steps = 0;
  const judge = new TimeJudge(model, kernel);
  const result = (stoppedAt?: Comparison['stoppedAt']): Comparison => ({
    steps, vcpusObserved, differences, ...(stoppedAt ? { stoppedAt } : {}), timing: judge.report(), ...(hostEvents.length ? { hostEvents } : {}),
  });
  const observeKernel = () => {
    const o = kernel.observe();
    judge.sample();
    return o;
  };
  try {
    compareObservations('initial state', model.observe(), observeKernel(), differences, judge);
    for (const [i, step] of scenario.steps.entries()) {
      const where = `step ${i} (${step.op})`;
      let theirs: StepResult;
      const before = judge.timers();
      const ours = model.applyStep(step, i);
      try {
        theirs = kernel.applyStep(step, i);
      } catch (e) {
        if (unsupported === 'stop' && e instanceof UnsupportedStep) return result({ step: i, reason: e.message });
        throw e;
      }
      for (const what of kernel.takeHostEvents?.() ?? []) hostEvents.push({ step: i, what: `${where}: ${what}` });
      const found = differences.length;
      judge.sample();
      judge.stepDone(step, before);
      steps++;
      let seen: VcpuObservation[] | undefined;
      const modelNow = () => (seen ??= model.observe());
      const vcpu = 'vcpu' in step ? step.vcpu : -1;
      compareResults(where, step, ours, theirs, differences, judge, () => modelNow().find((o) => o.vcpu === vcpu)?.regs);
      if (observeEachStep) {
        const a = modelNow();
        vcpusObserved += a.length;
        compareObservations(`after ${where}`, a, observeKernel(), differences, judge);
      }
      judge.checkCloseCalls(`after ${where}`, step, before);
      for (const d of differences.slice(found)) d.step = i;
    }
    const found = differences.length;
    const ma = model.readMpStates();
    const kb = kernel.readMpStates();
    ma.forEach((m, n) => {
      if (m.mpState !== kb[n]?.mpState) differences.push({ where: 'final', field: `vCPU ${m.vcpu} mpState`, model: m.mpState, kernel: kb[n]?.mpState ?? '(none)' });
    });
    compareObservations('final (after KVM_GET_MP_STATE)', model.observe(), observeKernel(), differences, judge);
    for (const d of differences.slice(found)) d.step = scenario.steps.length;
  } finally {
    model.close();
    kernel.close();
  }
  return result();
}

/** A readable report, one difference per line. */
export function formatComparison(c: Comparison, header: string[]): string {
  const lines = [...header];
  if (c.stoppedAt) lines.push(`stopped at ${c.stoppedAt.reason}; ${c.steps} steps before it were compared.`);
  const t = c.timing;
  if (t && (t.tmcctJudged || t.tmcctWithinPeriodOnly || t.closeCalls.length)) {
    const us = (ns: number) => `${(ns / 1000).toFixed(1)} us`;
    lines.push(`timer: the kernel's clock (host time) ran up to ${us(t.maxLeadNs)} ahead of the model's; ${t.tmcctJudged} TMCCT value(s) judged within how far the clocks were apart, ${t.tmcctWithinPeriodOnly} only within their period.`);
    for (const cc of t.closeCalls) lines.push(`  close call: ${cc}`);
  }
  for (const e of c.hostEvents ?? []) lines.push(`host timing: ${e.what}`);
  if (c.differences.length === 0) lines.push(`model and kernel agree on ${c.stoppedAt ? 'those' : 'all'} ${c.steps} steps and everything observable.`);
  else {
    lines.push(`${c.differences.length} difference(s):`);
    for (const d of c.differences) lines.push(`  ${d.where}: ${d.field}: model ${d.model}, kernel ${d.kernel}`);
  }
  return lines.join('\n') + '\n';
}
