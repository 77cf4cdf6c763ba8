/** Scenario documents and a replay helper shared by the conflicts / inhibits / warnings unit tests. */
import { previewRoute } from '../../core/delivery';
import { applyStep, createVm, runScenario } from '../../scenario/runner';
import type { FinalState, StepResult } from '../../scenario/result';
import { parseScenario } from '../../scenario/schema';
import type { PreviewRoute } from './aliases';

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

/**
 * Replay a document (and `extraSteps` after its own) with the runner: the final state, the last
 * step's result (with its trace), and KVM's route preview on a VM replayed to the same state.
 */
export function replay(doc: { steps?: unknown[] } & Record<string, unknown>, extraSteps: unknown[] = []): { s: FinalState; last: StepResult | null; preview: PreviewRoute } {
  const scenario = parseScenario({ ...doc, steps: [...(doc.steps ?? []), ...extraSteps] });
  const { steps, final } = runScenario(scenario, { trace: true });
  const vm = createVm(scenario.vm);
  scenario.steps.forEach((step, i) => applyStep(vm, step, i));
  const preview: PreviewRoute = (source, irq) => {
    const src = source === null ? null : vm.vcpu(source);
    return src === undefined ? null : previewRoute(vm, src?.apic ?? null, irq);
  };
  return { s: final, last: steps.at(-1) ?? null, preview };
}
