/** Scenario documents and a snapshot helper shared by the conflicts / inhibits / warnings unit tests. */
import { createLabStore } from '../../store/labStore';
import type { FinalState, StepResult } from '../../scenario/result';

export const SW_ON = { '0x0f0': '0x1ff' };

export function swEnableAll(ids: number[]) {
  return ids.map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: SW_ON }));
}

/** vCPUs 0, 1, 256 in xAPIC mode, software-enabled (each set_lapic rebuilds the map). */
export function aliasDoc(use32bitIds: boolean, vm: Record<string, unknown> = {}) {
  return {
    format: 'apic-scenario/1',
    vm: { vcpus: [0, 1, 256], ...vm },
    steps: [...(use32bitIds ? [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }] : []), ...swEnableAll([0, 1, 256])],
  };
}

/** Load a document into a fresh store; the snapshot and the last step's result. */
export function load(doc: unknown, extraSteps: unknown[] = []): { s: FinalState; last: StepResult | null } {
  const store = createLabStore();
  if (!store.getState().importScenario(JSON.stringify(doc))) throw new Error(store.getState().error ?? 'import failed');
  let last: StepResult | null = store.getState().log.at(-1)?.result ?? null;
  for (const step of extraSteps) {
    last = store.getState().apply(step);
    if (!last) throw new Error(store.getState().error ?? 'step failed');
  }
  return { s: store.getState().snapshot, last };
}
