/**
 * The zustand store: it holds one emulation core (a Vm) and the scenario log that built it.
 * Every user action is a scenario step, validated with the scenario schema and replayed through
 * the same applyStep() the headless runner uses; the UI reads snapshots, never the Vm itself.
 *
 * Each step updates the shown state from its change set (what it changed, ./stateView.ts), so a
 * click costs what it changed, not what the VM holds; panels subscribe to the vCPUs they show.
 *
 * Time travel: `cursor` is how many log steps the shown state has applied. Moving it restores the
 * snapshot before the target and replays the few steps after it (./timeline.ts); applying a step
 * while travelled back drops the steps after the cursor (like an editor's undo history).
 */
import { createStore } from 'zustand/vanilla';
import { useMemo } from 'react';
import { useStore } from 'zustand';
import type { RouteDecision } from '../core/decisions';
import { previewRoute, type LapicIrq } from '../core/delivery';
import type { FinalState, FinalVcpu, StepResult } from '../scenario/result';
import { parseScenario, parseScenarioText, ScenarioInputError, type LOCAL_SOURCES, type Step, type VmInput } from '../scenario/schema';
import { toDocument } from '../scenario/document';
import { decodeSession, encodeSession, type SharedSession } from './share';
import { preset, presetScenario, type PresetId } from '../presets/presets';
import type { ChangeSet } from './stateView';
import { Timeline } from './timeline';

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
  /** Where each vCPU id is in snapshot.vcpus: subscribe to one vCPU without scanning. */
  vcpuIndex: ReadonlyMap<number, number>;
  /** What the step at the cursor changed (nothing at step 0). */
  changes: ChangeSet;
  /** Changes whenever any vCPU's addressing (mode, IDs, LDR, DFR, software enable) changes: see useAddressedVcpus(). */
  addressingVersion: number;
  /** A time-travel checkpoint of the shown step is due: the app takes it in idle time (checkpoint()). */
  checkpointDue: boolean;
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
  /** Take the time-travel snapshot that is due (a few ms with 4096 vCPUs: the vCPUs that changed since the last). */
  checkpoint(): void;
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

/** How the store snapshots the VM for time travel: `deferCheckpoints` leaves it to checkpoint() calls (the app's idle time). */
export interface LabOptions {
  deferCheckpoints?: boolean;
}

/** A timeline over `steps` showing step `cursor`, and the log; throws ScenarioInputError at the first invalid step. */
function build(vmInput: VmInput, steps: readonly Step[], options: LabOptions, cursor = steps.length): { timeline: Timeline; log: LogEntry[] } {
  const timeline = new Timeline(vmInput, undefined, options.deferCheckpoints);
  // The last step is applied on its own so that the shown state has its change set.
  const head = timeline.load(steps.slice(0, Math.max(0, steps.length - 1)));
  const all = steps.length ? [...head, timeline.apply(steps[steps.length - 1])] : head;
  const log = all.map((result, i) => ({ step: steps[i], result }));
  timeline.travel(cursor, log);
  return { timeline, log };
}

/** What the store shows of the timeline's current state. */
function view(t: Timeline) {
  const vm = t.current;
  return {
    snapshot: t.view.snapshot,
    regs: t.view.regs,
    vcpuIndex: t.view.index,
    addressingVersion: t.view.addressingVersion,
    changes: t.changes,
    nextTimerExpiryNs: t.view.nextTimerExpiryNs,
    checkpointDue: t.checkpointDue,
    guestTsc: '0x' + (vm.vcpus[0]?.apic.timer.guestTsc() ?? 0n).toString(16),
  };
}

export function createLabStore(initial: VmInput = DEFAULT_VM, options: LabOptions = {}) {
  let current = build(initial, [], options).timeline;

  return createStore<LabState>()((set, get) => {
    /** Replace the VM and log, or report why not. */
    const load = (vmInput: VmInput, steps: Step[], title: string, cursor = steps.length): boolean => {
      try {
        const built = build(vmInput, steps, options, cursor);
        current = built.timeline;
        const index = current.view.index;
        const selected = get()?.selectedVcpu;
        set({
          vmInput, title, log: built.log, cursor, ...view(current), error: null,
          selectedVcpu: selected !== undefined && selected !== null && index.has(selected) ? selected : (current.current.vcpus[0]?.id ?? null),
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
      ...view(current),
      selectedVcpu: current.current.vcpus[0]?.id ?? null,
      hover: null,
      error: null,
      tour: null,
      notice: null,
      setAside: [],

      apply(raw) {
        const { log, cursor, vmInput } = get();
        try {
          const step = parseScenario({ format: 'apic-scenario/1', vm: vmInput, steps: [raw] }).steps[0];
          const result = current.apply(step);
          if (cursor !== log.length) keep(`steps ${cursor}-${log.length - 1}, undone before step ${cursor} was replaced`);
          set({ log: [...log.slice(0, cursor), { step, result }], cursor: cursor + 1, ...view(current), error: null });
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
        const { log } = get();
        const cursor = Math.max(0, Math.min(n, log.length));
        current.travel(cursor, log);
        set({ cursor, ...view(current), error: null });
      },
      checkpoint() {
        current.checkpoint();
        set({ checkpointDue: current.checkpointDue });
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
        const vm = current.current;
        const v = vm.vcpu(vcpu);
        return v ? vm.getLapic(v) : null;
      },
      previewRoute(source, irq) {
        const vm = current.current;
        const src = source === null ? null : vm.vcpu(source);
        return src === undefined ? null : previewRoute(vm, src?.apic ?? null, irq);
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

/** The app's store: time-travel checkpoints are taken in idle time (ui/useIdleCheckpoints.ts), never during a click. */
export const labStore = createLabStore(DEFAULT_VM, { deferCheckpoints: true });

/** React hook over the app's store, with a selector. */
export function useLab<T>(selector: (s: LabState) => T): T {
  return useStore(labStore, selector);
}

/**
 * The shown vCPUs, for views derived from how interrupts find them (IDs, modes, LDR, DFR, software
 * enable): a new array only when one of those changed, so such a view is recomputed only then.
 * Read only those fields from it: the others may be older than the shown state.
 */
export function useAddressedVcpus(): readonly FinalVcpu[] {
  const version = useLab((s) => s.addressingVersion);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- the version is the dependency
  return useMemo(() => labStore.getState().snapshot.vcpus, [version]);
}
