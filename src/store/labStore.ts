/**
 * The zustand store: it holds one emulation core (a Vm) and the scenario log that built it.
 * Every user action is a scenario step, validated with the scenario schema and replayed through
 * the same applyStep() the headless runner uses; the UI reads snapshots, never the Vm itself.
 *
 * Time travel: `cursor` is how many log steps the shown state has applied. Moving it replays the
 * log from the start; applying a step while travelled back drops the steps after the cursor
 * (like an editor's undo history).
 */
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import { SLOT_OFFSETS } from '../core/apicdef';
import type { RouteDecision } from '../core/decisions';
import { previewRoute, type LapicIrq } from '../core/delivery';
import type { Vm } from '../core/vm';
import { applyStep, createVm } from '../scenario/runner';
import { finalState, type FinalState, type StepResult } from '../scenario/result';
import { parseScenario, parseScenarioText, ScenarioInputError, type LOCAL_SOURCES, type Step, type VmInput } from '../scenario/schema';
import { toDocument } from '../scenario/document';
import { decodeSession, encodeSession, type SharedSession } from './share';
import { preset, presetScenario, type PresetId } from '../presets/presets';

export interface LogEntry {
  step: Step;
  result: StepResult;
}

/** A guided tour: a scenario whose steps carry narration and the panels they are about. */
export interface Tour {
  id: string;
  title: string;
  intro: string;
  outro: string;
  /** The KVM release before the change the tour is about. */
  before: string;
  /** The release the tour was written for (its vm.kvm), to switch back to. */
  after: string;
  narrations: string[];
  /** Per step: the kernel-level detail behind the narration ('' when none), shown folded. */
  details: string[];
  focus: string[][];
}

/** A state the user left (a discarded future, the session before a reset or an import), kept to go back to. */
export interface SetAside {
  /** What left it: "steps 5-9 after step 4", "before Reset"... */
  label: string;
  session: SharedSession;
  /** Steps in its log. */
  steps: number;
}

/** How many left states are kept (oldest dropped first). */
export const MAX_SET_ASIDE = 20;

/** A local interrupt source a `local_irq` step raises (the timer fires through `advance`). */
export type LocalSource = (typeof LOCAL_SOURCES)[number];

/** What the pointer is over, shared by every panel (linked views). */
export type Hover = { vcpu: number } | { apicId: number } | { vector: number } | null;

export interface LabState {
  vmInput: VmInput;
  title: string;
  /** Every step taken, with its result; the first `cursor` of them make the shown state. */
  log: LogEntry[];
  cursor: number;
  /** The state after `cursor` steps, as the result document reports it. */
  snapshot: FinalState;
  /** Each vCPU's register page (raw, 256 words), by vCPU id. */
  regs: ReadonlyMap<number, Uint32Array>;
  /** Register slots the step at the cursor changed, by vCPU id. */
  changed: ReadonlyMap<number, ReadonlySet<number>>;
  /** When the next APIC timer of any vCPU fires (ns on the guest clock), as the core answers it; null when none runs. */
  nextTimerExpiryNs: number | null;
  /** The guest TSC now (hex), as the core reads it (kvm_read_l1_tsc): what a TSC deadline is compared with. */
  guestTsc: string;
  selectedVcpu: number | null;
  hover: Hover;
  /** The last rejected action, in words. */
  error: string | null;
  /** The tour being played, if any: its narration follows the cursor. */
  tour: Tour | null;
  /** Information for the user that is not an error (what an import did). */
  notice: string | null;
  /** States the user left, newest first: nothing is lost (restoreSetAside brings one back). */
  setAside: readonly SetAside[];

  /** Run one step (any apic-scenario/1 step object). Invalid input changes nothing. */
  apply(step: unknown): StepResult | null;
  /** Start over with a new VM (the current session is set aside). */
  reset(vm: VmInput): void;
  /** Load a scenario document as the session (the current one is set aside); a bad one changes nothing. */
  loadScenario(doc: unknown, label: string): boolean;
  /** Start from a VM preset with `vcpus` vCPUs (capped at what it addresses), keeping the vendor and release; the current session is set aside. */
  loadPreset(id: PresetId, vcpus: number): boolean;
  /** Go back to a state the user left; the current one is set aside in its place. */
  restoreSetAside(index: number): boolean;
  /**
   * Let guest time pass: `ns` nanoseconds (a number, or a decimal / hex string, as the scenario
   * takes it), or up to the next timer expiry. An `advance` step; invalid input changes nothing.
   */
  advance(by: number | bigint | string | 'next-timer-expiry'): StepResult | null;
  /** Run a vCPU (KVM_RUN): pending timer expiries and other events are delivered as it enters the guest. A `run` step. */
  runVcpu(vcpu: number): StepResult | null;
  /** Raise a local interrupt source (an LVT entry) on a vCPU. A `local_irq` step. */
  raiseLocal(vcpu: number, lvt: LocalSource): StepResult | null;
  /** One tick of the NMI watchdog (the PIT through every LAPIC's LVT0). An `nmi_watchdog` step. */
  nmiWatchdog(): StepResult | null;
  /** Change the VM's configuration and replay the log under it. */
  configure(vm: VmInput): void;
  /** Show the state after `n` steps. */
  travel(n: number): void;
  undo(): void;
  redo(): void;
  select(vcpu: number | null): void;
  setHover(h: Hover): void;
  /** Load an apic-scenario/1 document (text); a bad one is reported and changes nothing. */
  importScenario(text: string): boolean;
  /** The log up to the cursor as an apic-scenario/1 document. */
  exportScenario(): string;
  /** The session: the whole log as a scenario document, the cursor and the selection. */
  session(): SharedSession;
  /** Restore a session; a bad one is reported (`what` prefixes the message) and changes nothing. */
  restore(session: SharedSession, what: string): boolean;
  /** The session as a URL fragment without '#'. */
  shareLink(): string;
  /** Restore a session from a fragment; a bad one is reported and changes nothing. */
  openLink(fragment: string): boolean;
  /** Load a tour document and show its start (cursor 0). */
  /** Play a tour in a workspace of its own; endTour() returns to the session as it was. */
  startTour(doc: unknown): boolean;
  endTour(): void;
  setNotice(text: string | null): void;
  /** A vCPU's KVM_GET_LAPIC image as the state shows it (with the x2APIC fixups). */
  lapicImage(vcpu: number): Uint32Array | null;
  /**
   * Who an interrupt would reach in the shown state, and why, without sending it (the core's
   * previewRoute): `source` is the sending vCPU, or null for an MSI. Null if the source is unknown.
   */
  previewRoute(source: number | null, irq: LapicIrq): RouteDecision | null;
}

export const DEFAULT_VM: VmInput = { vcpus: 4 };

interface Built {
  vm: Vm;
  results: StepResult[];
  before: Map<number, Uint32Array>;
}

/** Build the VM and replay `steps`; throws ScenarioInputError at the first step that is invalid. */
function build(vmInput: VmInput, steps: readonly Step[]): Built {
  const vm = createVm(vmInput);
  let before = regsOf(vm);
  const results = steps.map((step, i) => {
    if (i === steps.length - 1) before = regsOf(vm);
    const r = applyStep(vm, step, i);
    r.trace = vm.takeTrace();
    return r;
  });
  return { vm, results, before };
}

function regsOf(vm: Vm): Map<number, Uint32Array> {
  return new Map(vm.vcpus.map((v) => [v.id, new Uint32Array(v.apic.regs)]));
}

function changedSlots(before: Map<number, Uint32Array>, after: Map<number, Uint32Array>): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  for (const [id, regs] of after) {
    const old = before.get(id);
    const set = new Set<number>();
    for (const off of SLOT_OFFSETS) {
      for (let w = off >> 2; w < (off >> 2) + 4; w++) if (!old || old[w] !== regs[w]) set.add(off);
    }
    if (set.size) out.set(id, set);
  }
  return out;
}

function view(b: Built, withChanges: boolean) {
  const regs = regsOf(b.vm);
  return {
    snapshot: finalState(b.vm),
    regs,
    changed: withChanges ? changedSlots(b.before, regs) : new Map(),
    nextTimerExpiryNs: b.vm.nextTimerExpiry(),
    guestTsc: '0x' + (b.vm.vcpus[0]?.apic.timer.guestTsc() ?? 0n).toString(16),
  };
}

export function createLabStore(initial: VmInput = DEFAULT_VM) {
  let current = build(initial, []);

  return createStore<LabState>()((set, get) => {
    /** Replace the VM and log, or report why not. */
    const load = (vmInput: VmInput, steps: Step[], title: string, cursor = steps.length): boolean => {
      try {
        const full = build(vmInput, steps);
        current = cursor === steps.length ? full : build(vmInput, steps.slice(0, cursor));
        const log = steps.map((step, i) => ({ step, result: full.results[i] }));
        const ids = current.vm.vcpus.map((v) => v.id);
        const selected = get()?.selectedVcpu;
        set({
          vmInput, title, log, cursor, ...view(current, cursor > 0), error: null,
          selectedVcpu: selected !== undefined && selected !== null && ids.includes(selected) ? selected : (ids[0] ?? null),
        });
        return true;
      } catch (e) {
        if (!(e instanceof ScenarioInputError)) throw e;
        set({ error: e.message });
        return false;
      }
    };

    /** Keep the current session before an action replaces it (only if it has steps to lose). */
    const keep = (label: string, session = get().session()) => {
      const steps = (session.scenario as { steps?: unknown[] }).steps?.length ?? 0;
      if (steps === 0 || get().tour) return;
      set({ setAside: [{ label, session, steps }, ...get().setAside].slice(0, MAX_SET_ASIDE) });
    };
    /** The session the user had before a tour started. */
    let beforeTour: SharedSession | null = null;

    return {
      vmInput: initial,
      title: '',
      log: [],
      cursor: 0,
      ...view(current, false),
      selectedVcpu: current.vm.vcpus[0]?.id ?? null,
      hover: null,
      error: null,
      tour: null,
      notice: null,
      setAside: [],

      apply(raw) {
        const { log, cursor, vmInput } = get();
        try {
          const step = parseScenario({ format: 'apic-scenario/1', vm: vmInput, steps: [raw] }).steps[0];
          if (cursor !== log.length) {
            keep(`steps ${cursor}-${log.length - 1}, undone before step ${cursor} was replaced`);
            current = build(vmInput, log.slice(0, cursor).map((e) => e.step));
          }
          const before = regsOf(current.vm);
          const result = applyStep(current.vm, step, cursor);
          result.trace = current.vm.takeTrace();
          current.before = before;
          set({ log: [...log.slice(0, cursor), { step, result }], cursor: cursor + 1, ...view(current, true), error: null });
          return result;
        } catch (e) {
          if (!(e instanceof ScenarioInputError)) throw e;
          set({ error: e.message.replace(/^step 0/, `step ${cursor}`) });
          return null;
        }
      },
      advance(by) {
        return get().apply(by === 'next-timer-expiry' ? { op: 'advance', until: by } : { op: 'advance', ns: typeof by === 'bigint' ? by.toString() : by });
      },
      runVcpu(vcpu) {
        return get().apply({ op: 'run', vcpu });
      },
      raiseLocal(vcpu, lvt) {
        return get().apply({ op: 'local_irq', vcpu, lvt });
      },
      nmiWatchdog() {
        return get().apply({ op: 'nmi_watchdog' });
      },
      reset(vmInput) {
        keep('before Reset');
        load(vmInput, [], '');
      },
      loadScenario(doc, label) {
        try {
          const s = parseScenario(doc);
          const session = get().session();
          if (!load(s.vm, s.steps, s.title ?? '')) return false;
          keep(label, session);
          return true;
        } catch (e) {
          if (!(e instanceof ScenarioInputError)) throw e;
          set({ error: `${label}: ${e.message}` });
          return false;
        }
      },
      loadPreset(id, vcpus) {
        const { vcpus: _n, ...vm } = get().vmInput;
        void _n;
        const s = presetScenario(id, vcpus, vm);
        return get().loadScenario(toDocument({ title: s.title, vm: s.vm, steps: s.steps }), `before the preset "${preset(id).label}"`);
      },
      restoreSetAside(index) {
        const entry = get().setAside[index];
        if (!entry) return false;
        const session = get().session();
        if (!get().restore(entry.session, 'set-aside session')) return false;
        const rest = get().setAside.filter((_, i) => i !== index);
        const steps = (session.scenario as { steps?: unknown[] }).steps?.length ?? 0;
        set({ setAside: (steps ? [{ label: 'the session before going back', session, steps }, ...rest] : rest).slice(0, MAX_SET_ASIDE) });
        return true;
      },
      configure(vmInput) {
        load(vmInput, get().log.map((e) => e.step), get().title, get().cursor);
      },
      travel(n) {
        const { log, vmInput } = get();
        const cursor = Math.max(0, Math.min(n, log.length));
        current = build(vmInput, log.slice(0, cursor).map((e) => e.step));
        set({ cursor, ...view(current, cursor > 0), error: null });
      },
      undo() {
        get().travel(get().cursor - 1);
      },
      redo() {
        get().travel(get().cursor + 1);
      },
      select(vcpu) {
        set({ selectedVcpu: vcpu });
      },
      setHover(hover) {
        set({ hover });
      },
      importScenario(text) {
        try {
          const s = parseScenarioText(text);
          const session = get().session();
          if (!load(s.vm, s.steps, s.title ?? '')) return false;
          keep('before Import', session);
          return true;
        } catch (e) {
          if (!(e instanceof ScenarioInputError)) throw e;
          set({ error: `import: ${e.message}` });
          return false;
        }
      },
      exportScenario() {
        const { vmInput, log, cursor, title } = get();
        const doc = toDocument({ title: title || undefined, vm: vmInput, steps: log.slice(0, cursor).map((e) => stripStep(e.step)) });
        return JSON.stringify(doc, null, 2) + '\n';
      },
      session() {
        const { vmInput, log, cursor, title, selectedVcpu } = get();
        const scenario = toDocument({ title: title || undefined, vm: vmInput, steps: log.map((e) => stripStep(e.step)) });
        return { scenario, cursor, selectedVcpu };
      },
      restore(session, what) {
        try {
          const s = parseScenario(session.scenario);
          if (!Number.isInteger(session.cursor) || session.cursor < 0 || session.cursor > s.steps.length) {
            set({ error: `${what}: step ${session.cursor} does not exist (the scenario has ${s.steps.length})` });
            return false;
          }
          if (!load(s.vm, s.steps, s.title ?? '', session.cursor)) return false;
          const sel = session.selectedVcpu;
          if (sel !== null && get().snapshot.vcpus.some((v) => v.vcpu === sel)) set({ selectedVcpu: sel });
          return true;
        } catch (e) {
          if (!(e instanceof ScenarioInputError)) throw e;
          set({ error: `${what}: ${e.message}` });
          return false;
        }
      },
      shareLink() {
        return encodeSession(get().session());
      },
      openLink(fragment) {
        const d = decodeSession(fragment);
        if (!d.ok) {
          set({ error: d.message });
          return false;
        }
        const session = get().session();
        if (!get().restore(d.session, 'link')) return false;
        keep('before opening a link', session);
        return true;
      },
      startTour(doc) {
        try {
          const s = parseScenario(doc);
          const t = (s.raw.tour ?? {}) as Partial<Tour>;
          const raw = s.raw.steps as { narration?: string; detail?: string; focus?: string[] }[];
          const session = get().tour ? beforeTour : get().session();
          if (!load(s.vm, s.steps, s.title ?? '', 0)) return false;
          beforeTour = session;
          set({
            tour: {
              id: String(t.id ?? ''),
              title: s.title ?? '',
              intro: String(t.intro ?? s.description ?? ''),
              outro: String(t.outro ?? ''),
              before: String(t.before ?? ''),
              after: s.vm.kvm ?? 'current',
              narrations: raw.map((r) => r.narration ?? ''),
              details: raw.map((r) => r.detail ?? ''),
              focus: raw.map((r) => r.focus ?? []),
            },
          });
          return true;
        } catch (e) {
          if (!(e instanceof ScenarioInputError)) throw e;
          set({ error: `tour: ${e.message}` });
          return false;
        }
      },
      endTour() {
        const back = beforeTour;
        beforeTour = null;
        set({ tour: null });
        if (back) get().restore(back, 'the session before the tour');
      },
      setNotice(notice) {
        set({ notice });
      },
      lapicImage(vcpu) {
        const v = current.vm.vcpu(vcpu);
        return v ? current.vm.getLapic(v) : null;
      },
      previewRoute(source, irq) {
        const src = source === null ? null : current.vm.vcpu(source);
        return src === undefined ? null : previewRoute(current.vm, src?.apic ?? null, irq);
      },
    };
  });
}

/** A step without fields that only fixtures carry. */
function stripStep(step: Step): Step {
  const { expect: _e, ...rest } = step as Step & { expect?: unknown };
  void _e;
  return rest as Step;
}

export const labStore = createLabStore();

/** React hook over the app's store, with a selector. */
export function useLab<T>(selector: (s: LabState) => T): T {
  return useStore(labStore, selector);
}
