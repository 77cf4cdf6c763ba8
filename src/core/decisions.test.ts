/**
 * Decisions as data: the three wrong answers now give the right cause, and for random
 * scenarios every route agrees with the map and the delivered set, every code comes from its
 * closed list, and no decision's words name a vCPU its data does not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explain } from '../explain/explain';
import { fuzzScenarioArb, randomScenarioVm } from '../fuzz/arbitraries';
import { scenarioArb } from '../scenario/randomScenario';
import { field, type StepResult } from '../scenario/result';
import { applyStep, runScenario } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';
import { CODES, decisionVcpus, KVM_FUNCTIONS, type Decision } from './decisions';
import { msiToIrq, previewRoute } from './delivery';
import { takeEvents } from './testVm';

const scenario = (vm: object, steps: object[]) => parseScenario({ format: 'apic-scenario/1', vm, steps });

describe('the causes the issue found wrong', () => {
  it.each(['intel', 'amd'])('a physical alias is blamed on the vCPUs that share the ID, not on an earlier logical problem (%s)', (vendor) => {
    const r = runScenario(scenario({ vcpus: 4, vendor }, [
      { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' },
      { op: 'mmio_write', vcpu: 0, offset: '0xd0', value: '0x03000000' },
      { op: 'mmio_write', vcpu: 2, offset: '0x20', value: '0x01000000' },
    ]), { trace: true });
    const physAlias = { kind: 'map', code: 'PHYS_ID_ALIASED', kvm: 'kvm_recalculate_phys_map', vcpus: [1, 2], physId: 1 };
    expect(r.final.map.present).toBe(false);
    expect(r.final.inhibitWhy.PHYSICAL_ID_ALIASED).toMatchObject(physAlias);
    // No map at all also disables the logical part (an AVIC inhibit): the cause is still the physical alias.
    if (vendor === 'amd') expect(r.final.inhibitWhy.LOGICAL_ID_ALIASED).toMatchObject(physAlias);
    else expect(r.final.inhibits).not.toContain('LOGICAL_ID_ALIASED');
    expect(r.final.map.why?.[0]).toMatchObject(physAlias);
    expect(r.final.inhibitCauses.PHYSICAL_ID_ALIASED).toMatch(/^vCPUs 1 and 2 share physical APIC ID 1/);
    if (vendor === 'amd') expect(r.final.inhibitCauses.LOGICAL_ID_ALIASED).not.toMatch(/vCPU 0/);
    const traced = r.steps[2].trace!.filter((t) => t.event === 'kvm_apicv_inhibit_changed' && t.detail.startsWith('set reason=4,'));
    expect(traced).toHaveLength(1);
    expect(traced[0].decision).toMatchObject(physAlias);
  });

  it('ticking 32-bit IDs after the map went away says they were off at that rebuild', () => {
    const r = runScenario(scenario({ vcpus: [0, 256] }, [
      { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' },
      { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 },
    ]));
    expect(r.final.caps.x2apicFormat).toBe(true);
    expect(r.final.map.present).toBe(false); // kept until the next rebuild, as KVM does
    expect(r.final.map.why?.[0]).toMatchObject({ code: 'PHYS_ID_ALIASED', vcpus: [0, 256], physId: 0, x2apicFormat: false });
    expect(r.final.map.reasons?.[0]).toMatch(/32-bit IDs were off at that rebuild/);
    expect(r.final.inhibitCauses.PHYSICAL_ID_ALIASED).not.toMatch(/are off/);
  });

  it('a refused x2APIC WRMSR names the branch that refused it, under each release', () => {
    const steps = [
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00c00', host: true },
      { op: 'wrmsr', vcpu: 0, msr: '0x802', value: '0x100000000' },
      { op: 'wrmsr', vcpu: 0, msr: '0x831', value: '0x100000001' },
    ];
    const at = (kvm: string) => runScenario(scenario({ vcpus: 1, kvm }, steps)).steps;
    // 6.3+: bits 63:32 fault first (kvm_lapic_msr_write); before, the ID register is read-only.
    expect(at('current')[1].refusal).toMatchObject({ code: 'X2APIC_HIGH_BITS_RESERVED', kvm: 'kvm_lapic_msr_write', fault: '#GP' });
    expect(at('6.2')[1].refusal).toMatchObject({ code: 'REG_READ_ONLY_IN_X2APIC', kvm: 'kvm_lapic_reg_write', reg: 0x20 });
    // ICR2 has no MSR in x2APIC mode: <= 5.17 kvm_x2apic_msr_write refused it before any other rule.
    expect(at('5.17')[2].refusal).toMatchObject({ code: 'X2APIC_ICR2_ABSENT', kvm: 'kvm_x2apic_msr_write' });
    expect(at('6.2')[2].refusal).toMatchObject({ code: 'X2APIC_ICR2_ABSENT', kvm: 'kvm_lapic_reg_write' });
    expect(at('6.2')[1].reason).toBe('register 0x20 is read-only in x2APIC mode');
  });
});

/** Every decision anywhere in a result (step fields, trace events, the final state). */
function decisionsIn(x: unknown, out: Decision[] = []): Decision[] {
  if (Array.isArray(x)) for (const y of x) decisionsIn(y, out);
  else if (x && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    if (typeof o.kind === 'string' && typeof o.code === 'string' && typeof o.kvm === 'string') out.push(o as unknown as Decision);
    for (const v of Object.values(o)) decisionsIn(v, out);
  }
  return out;
}

/** The vCPU numbers a text names ("vCPU 3", "vCPUs 1, 2 and 3"). */
function vcpusNamed(text: string): number[] {
  return [...text.matchAll(/vCPUs? ((?:\d+(?:, | and )?)+)/g)].flatMap((m) => m[1].split(/, | and /).filter(Boolean).map(Number));
}

describe('decisions on random scenarios', () => {
  it('routes agree with the map and the deliveries; codes are from closed lists; words name only their vCPUs', () => {
    let routes = 0;
    let previews = 0;
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(scenarioArb(25), fuzzScenarioArb()), (s) => {
        const vm = randomScenarioVm(s);
        if (!vm) return;
        const results: StepResult[] = s.steps.map((step, i) => {
          const preview = step.op === 'msi' ? previewRoute(vm, null, msiToIrq(vm, Number(step.addressLo), Number(step.addressHi ?? 0n), Number(step.data))) : null;
          const r = applyStep(vm, step, i);
          r.trace = takeEvents(vm);
          const route = field(r, 'route');
          if (!route) return r;
          routes++;
          expect(route.path).toBe(field(r, 'path'));
          // Delivered and dropped vCPUs are exactly the vCPUs the route selected.
          const took = [...(field(r, 'delivered') ?? []).map((d) => d.vcpu), ...(field(r, 'dropped') ?? []).map((d) => d.vcpus[0])];
          expect(new Set(took)).toEqual(new Set(route.vcpus));
          // The fast path's slots are what the map holds (delivery does not dirty the map).
          const map = vm.apicMap;
          if (route.code === 'NO_MAP') expect(map).toBeNull();
          if (route.code === 'MAP_DISABLED') expect(map?.logicalMode).toBe('MAP_DISABLED');
          if (route.code === 'PHYS_SLOT') expect(route.vcpus).toEqual(map!.phys.has(route.destId) ? [map!.phys.get(route.destId)!.id] : []);
          if (route.physSlots) {
            const occupants = route.physSlots.filter((id) => map!.phys.has(id)).map((id) => map!.phys.get(id)!.id);
            expect(route.emptySlots).toEqual(route.physSlots.filter((id) => !map!.phys.has(id)));
            // Lowest priority picks at most one of the slots; every other route takes them all.
            if (route.code.startsWith('LOWEST_')) expect(route.vcpus.length <= 1 && route.vcpus.every((id) => occupants.includes(id))).toBe(true);
            else expect(route.vcpus).toEqual(occupants);
          }
          if (preview) {
            previews++;
            expect({ code: preview.code, vcpus: preview.vcpus }).toEqual({ code: route.code, vcpus: route.vcpus });
          }
          return r;
        });
        const all = decisionsIn({ results, final: runScenario(s).final });
        for (const d of all) {
          seen.add(`${d.kind}:${d.code}`);
          expect(CODES[d.kind], `${d.kind} ${d.code}`).toContain(d.code);
          expect(KVM_FUNCTIONS as readonly string[]).toContain(d.kvm);
          const named = new Set(decisionVcpus(d));
          for (const form of ['short', 'long'] as const) {
            for (const id of vcpusNamed(explain(d, form))) expect(named.has(id), `${explain(d, form)} names vCPU ${id}; data: ${[...named]}`).toBe(true);
          }
        }
      }),
      { numRuns: 250, seed: 13 },
    );
    expect(routes).toBeGreaterThan(200); // the random scenarios also make guest accesses now
    expect(previews).toBeGreaterThan(30);
    // The random scenarios reach the interesting codes, so the checks above are exercised.
    for (const k of ['route:PHYS_SLOT', 'route:NO_MAP', 'route:BROADCAST', 'route:LOGICAL_MASK', 'accept:APIC_DISABLED', 'refusal:X2APIC_MSR_IN_XAPIC_MODE', 'refusal:APICBASE_X2APIC_TO_XAPIC', 'map:PHYS_ID_ALIASED', 'map:HOTPLUG_FIRST_WINS', 'event:INIT_RESET']) {
      expect(seen, k).toContain(k);
    }
  });
});
