/**
 * What must hold after any scenario, whatever it did: the fuzzer's invariants. Each returns the
 * violations it found, in words (empty when it holds).
 */
import { APIC_DFR, APIC_ID, APIC_LDR } from '../core/apicdef';
import { countMaxApicId } from '../core/apicMap';
import { fastSlowDifference } from '../core/fastSlowDeviations';
import type { LapicIrq } from '../core/delivery';
import { traceEvents } from '../core/types';
import type { Vm } from '../core/vm';
import { applyStep, createVm } from '../scenario/runner';
import { finalState } from '../scenario/result';
import { ScenarioInputError, type Scenario } from '../scenario/schema';

export interface FuzzReport {
  checks: number;
  violations: string[];
  /** The VM could not be built (e.g. AVIC before 6.17 refusing a large vcpu_id): nothing to check. */
  skipped?: string;
}

/**
 * Replay `s` step by step, returning the VM and the result document's JSON. A step the runner
 * refuses as input (a timer step with no timer running) is noted in its place and the replay goes
 * on (the runner refuses a step before it changes anything). With `out`, also check after each
 * step that the copies the VM keeps (max_apic_id, the match words, the slow path's index) are
 * what a count finds.
 */
function replay(s: Scenario, out?: string[]): { vm: Vm; json: string } {
  const vm = createVm(s.vm);
  const steps = s.steps.map((step, i) => {
    let r;
    try {
      r = applyStep(vm, step, i);
    } catch (e) {
      if (!(e instanceof ScenarioInputError) || e.message.startsWith('scenario: vm.')) throw e;
      return { i, refused: e.message, trace: traceEvents(vm.takeTrace()) };
    }
    r.trace = traceEvents(vm.takeTrace());
    const kept = vm.knownMaxApicId;
    if (out && kept !== undefined && kept !== countMaxApicId(vm.vcpus)) out.push(`step ${i}: the VM keeps max_apic_id ${kept}, a count finds ${countMaxApicId(vm.vcpus)}`);
    if (out) matchWordsKept(vm, i, out);
    if (out) slowPathIndexKept(vm, i, out);
    return r;
  });
  return { vm, json: JSON.stringify({ steps, final: finalState(vm) }) };
}

/** Each LAPIC's copies of its ID, LDR and DFR words (Lapic.idWord...) equal its register page. */
function matchWordsKept(vm: Vm, step: number, out: string[]): void {
  for (const v of vm.vcpus) {
    const a = v.apic;
    const copies: [string, number, number][] = [['ID', a.idWord, APIC_ID], ['LDR', a.ldrWord, APIC_LDR], ['DFR', a.dfrWord, APIC_DFR]];
    for (const [name, copy, offset] of copies) {
      if (copy !== a.getReg(offset)) out.push(`step ${step}: vCPU ${v.id} keeps ${name} 0x${copy.toString(16)}, its register page has 0x${a.getReg(offset).toString(16)}`);
    }
  }
}

/** The VM's index of xAPIC-mode vCPUs by xAPIC ID and its count of enabled vCPUs (the slow path's) equal what a walk finds. */
function slowPathIndexKept(vm: Vm, step: number, out: string[]): void {
  const ids = (vs: readonly { id: number }[]) => vs.map((v) => v.id).join(',');
  for (let id = 0; id <= 0xff; id++) {
    const walk = vm.vcpus.filter((v) => !v.x2apicMode && v.apic.xapicId === id);
    const kept = vm.xapicIds.withId(id);
    if (walk.length !== kept.length || walk.some((v, k) => v !== kept[k])) out.push(`step ${step}: the index lists vCPUs [${ids(kept)}] with xAPIC ID ${id}, a walk finds [${ids(walk)}]`);
  }
  const enabled = vm.vcpus.filter((v) => v.hwEnabled).length;
  if (vm.enabledCount !== enabled) out.push(`step ${step}: the VM counts ${vm.enabledCount} enabled vCPUs, a walk finds ${enabled}`);
}

/** KVM_GET_LAPIC then KVM_SET_LAPIC changes nothing (after one round: SET may refresh a stale PPR). */
function getSetIdentity(vm: Vm, out: string[]): number {
  let n = 0;
  for (const v of vm.vcpus) {
    if (!(vm.getLapicChecked(v) instanceof Uint32Array)) continue; // KVM_GET_LAPIC itself refuses (pre-6.11 only)
    vm.setLapic(v, vm.getLapic(v));
    const a = vm.getLapic(v);
    const err = vm.setLapic(v, a);
    const b = vm.getLapic(v);
    n++;
    if (err) out.push(`vCPU ${v.id}: KVM_SET_LAPIC of its own KVM_GET_LAPIC image failed (${err.code})`);
    else if (a.some((w, i) => w !== b[i])) out.push(`vCPU ${v.id}: KVM_GET_LAPIC -> KVM_SET_LAPIC -> KVM_GET_LAPIC is not an identity`);
  }
  return n;
}

/** Every slot of the physical map holds a hardware-enabled vCPU that answers to that ID. */
function mapSound(vm: Vm, out: string[]): number {
  const map = vm.apicMap;
  if (!map) {
    if (!vm.profile.has.architecturalAliasing) out.push('no map under the pre-6.3 algorithm');
    const ids = vm.vcpus.filter((v) => v.apic.hwEnabled).map((v) => (v.apic.x2apicMode ? v.id : v.apic.xapicId));
    // (32-bit IDs may be on: KVM_ENABLE_CAP does not rebuild the map, so it can predate them.)
    if (new Set(ids).size === ids.length) out.push('the map is absent but no physical IDs alias');
    return 1;
  }
  // Before 6.3 a host-forced x2APIC -> xAPIC switch changed the ID without dirtying the map, so
  // stale slots are KVM's own behaviour there.
  if (!vm.profile.has.xapicIdReinitOnHostX2apicExit) return 0;
  let n = 0;
  for (const [k, v] of map.phys) {
    n++;
    const hotplug = v.id === k && v.id > 0xff && (vm.x2apicFormat || !vm.profile.has.architecturalAliasing);
    const ok = v.apic.hwEnabled && (v.apic.x2apicMode ? k === v.id : k === v.apic.xapicId || hotplug);
    if (!ok) out.push(`phys_map[${k}] holds vCPU ${v.id}, which does not answer to ${k}`);
  }
  return n;
}

/** The fast path reaches the vCPUs the slow path matches, but for KVM's named deviations. */
function fastEqualsSlow(vm: Vm, seed: number, out: string[]): number {
  if (!vm.apicMap || !vm.profile.has.architecturalAliasing) return 0;
  const ids = vm.vcpus.map((v) => v.id);
  const dests = [...ids, 0xff, 0xffffffff, 0x10001, 0x3, 0x12, (seed * 2654435761) >>> 0];
  let n = 0;
  for (const destId of dests) {
    for (const logical of [false, true]) {
      for (const src of [null, vm.vcpus[seed % vm.vcpus.length].apic]) {
        const irq: LapicIrq = { destId, logical, deliveryMode: 4, vector: 2, level: true, trigLevel: false, shorthand: 0, msiRedirHint: false };
        const d = fastSlowDifference(vm, src, irq);
        n++;
        if (d?.why === 'unexplained') out.push(`fast path ${JSON.stringify(d.fast)} != slow path ${JSON.stringify(d.slow)} for ${logical ? 'logical' : 'physical'} ${destId} from ${src ? 'vCPU ' + src.vcpu.id : 'an MSI'}`);
      }
    }
  }
  return n;
}

/** Run `s` through every invariant. */
export function checkScenario(s: Scenario, seed: number): FuzzReport {
  const violations: string[] = [];
  let checks = 0;
  let first: ReturnType<typeof replay>;
  try {
    first = replay(s, violations);
  } catch (e) {
    if (e instanceof ScenarioInputError && e.message.startsWith('scenario: vm.')) return { checks: 0, violations: [], skipped: e.message };
    return { checks: 1, violations: [`replay threw: ${(e as Error).stack ?? e}`] };
  }
  checks++;
  if (replay(s).json !== first.json) violations.push('replaying the same scenario gave a different result');
  checks++;
  checks += mapSound(first.vm, violations);
  checks += fastEqualsSlow(first.vm, seed, violations);
  checks += getSetIdentity(first.vm, violations);
  return { checks, violations };
}
