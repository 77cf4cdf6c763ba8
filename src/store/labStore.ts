/**
 * The zustand store: it holds one emulation core (a Vm) and the scenario log that built it.
 * Every user action is a scenario step, validated with the scenario schema and replayed through
 * the same applyStep() the headless runner uses; the UI reads snapshots, never the Vm itself.
 */
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import type { Vm } from '../core/vm';
import { applyStep, createVm } from '../scenario/runner';
import { finalState, type FinalState, type StepResult } from '../scenario/result';
import { parseScenario, ScenarioInputError, type Step, type VmInput } from '../scenario/schema';

export interface LogEntry {
  step: Step;
  result: StepResult;
}

export interface LabState {
  vmInput: VmInput;
  log: LogEntry[];
  /** The state after the last step, as the result document reports it. */
  snapshot: FinalState;
  /** The KVM_GET_LAPIC-style register image of every vCPU, by vCPU id (raw, no fixup). */
  regs: ReadonlyMap<number, Uint32Array>;
  selectedVcpu: number | null;
  /** The last rejected action, in words. */
  error: string | null;
  /** Run one step (any apic-scenario/1 step object). Invalid input changes nothing. */
  apply(step: unknown): StepResult | null;
  /** Start over with a new VM. */
  reset(vm: VmInput): void;
  select(vcpu: number | null): void;
}

export const DEFAULT_VM: VmInput = { vcpus: 4 };

function snapshotOf(vm: Vm): Pick<LabState, 'snapshot' | 'regs'> {
  return { snapshot: finalState(vm), regs: new Map(vm.vcpus.map((v) => [v.id, new Uint32Array(v.apic.regs)])) };
}

export function createLabStore(initial: VmInput = DEFAULT_VM) {
  let vm = createVm(initial);
  return createStore<LabState>()((set, get) => ({
    vmInput: initial,
    log: [],
    ...snapshotOf(vm),
    selectedVcpu: vm.vcpus[0]?.id ?? null,
    error: null,
    apply(raw) {
      let step: Step;
      try {
        step = parseScenario({ format: 'apic-scenario/1', vm: get().vmInput, steps: [raw] }).steps[0];
        const result = applyStep(vm, step, get().log.length);
        result.trace = vm.takeTrace();
        set({ log: [...get().log, { step, result }], ...snapshotOf(vm), error: null });
        return result;
      } catch (e) {
        if (!(e instanceof ScenarioInputError)) throw e;
        set({ error: e.message.replace(/^step 0/, `step ${get().log.length}`) });
        return null;
      }
    },
    reset(input) {
      try {
        vm = createVm(input);
      } catch (e) {
        if (e instanceof ScenarioInputError) return set({ error: e.message });
        throw e;
      }
      set({ vmInput: input, log: [], ...snapshotOf(vm), selectedVcpu: vm.vcpus[0]?.id ?? null, error: null });
    },
    select(vcpu) {
      set({ selectedVcpu: vcpu });
    },
  }));
}

export const labStore = createLabStore();

/** React hook over the app's store, with a selector. */
export function useLab<T>(selector: (s: LabState) => T): T {
  return useStore(labStore, selector);
}
