/**
 * The slow path's physical unicasts ask only the candidates the index gives (xapicIdIndex.ts):
 * after every step of random scenarios (the fuzzer's, whose VMs alias xAPIC IDs and switch modes),
 * each physical destination reaches exactly the vCPUs, in the same order, and examines as many,
 * as kvm_irq_delivery_to_apic()'s walk over every vCPU with kvm_apic_match_dest().
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzScenarioArb, randomScenarioVm } from '../fuzz/arbitraries';
import { applyStep } from '../scenario/runner';
import { ScenarioInputError } from '../scenario/schema';
import { decodeIcr } from './codec';
import { matchDest, previewRoute } from './delivery';
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

/** A Fixed physical IPI from `src` to `dest`, as its ICR decodes. */
const ipi = (src: Vcpu, dest: number) => decodeIcr(0x4041, src.x2apicMode ? dest : dest << 24, src.x2apicMode);

/** What the walk finds for that IPI: its targets and how many vCPUs it examined. */
function walk(vm: Vm, src: Vcpu, dest: number) {
  const irq = ipi(src, dest);
  const enabled = vm.vcpus.filter((v) => v.hwEnabled);
  return { vcpus: enabled.filter((v) => matchDest(vm, v.apic, src.apic, irq)).map((v) => v.id), examined: enabled.length };
}

describe('the slow path by xAPIC ID finds what the walk over every vCPU finds', () => {
  it('after every step of random scenarios, to every ID a vCPU has and a few others', () => {
    let compared = 0;
    fc.assert(
      fc.property(fuzzScenarioArb(), (s) => {
        const vm = randomScenarioVm(s);
        if (!vm) return;
        s.steps.forEach((step, i) => {
          try {
            applyStep(vm, step, i);
          } catch (e) {
            if (!(e instanceof ScenarioInputError)) throw e;
          }
          const dests = new Set([0, 1, 0xfe, 0x100, 0x1ff, 0xfffffffe]);
          for (const v of vm.vcpus) dests.add(v.id).add(v.apic.xapicId);
          for (const src of vm.vcpus) {
            for (const dest of dests) {
              if (!src.x2apicMode && dest > 0xff) continue; // an xAPIC ICR has 8 destination bits
              const route = previewRoute(vm, src.apic, ipi(src, dest));
              if (route.path !== 'slow') continue;
              expect({ vcpus: route.vcpus, examined: route.examined }).toEqual(walk(vm, src, dest));
              compared++;
            }
          }
        });
      }),
      { numRuns: 200, seed: 20261202 },
    );
    expect(compared).toBeGreaterThan(2000);
  }, 120_000);
});
