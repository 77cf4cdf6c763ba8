import { describe, expect, it } from 'vitest';
import { apBringupScenario } from './apBringup';
import { checkExpectations } from './expect';
import { runScenario } from './runner';
import { field } from './result';

describe('AP bring-up with INIT, SIPI, SIPI through the x2APIC ICR', () => {
  for (const [use32BitIds, probe] of [[true, 'run'], [false, 'run'], [true, 'get_mp_state']] as const) {
    it(`wakes 259 APs and hot-plugged 300 and 511, ${use32BitIds ? 'with' : 'without'} 32-bit IDs, MP state after every ${probe}`, () => {
      const s = apBringupScenario({ aps: 259, hotplug: [300, 511], use32BitIds, probe });
      const r = runScenario(s);
      expect(checkExpectations(s, r)).toEqual([]);
      expect(r.final.vcpus.every((v) => v.mpState === 'RUNNABLE')).toBe(true);
      const hot = r.final.vcpus.find((v) => v.vcpu === 300)!;
      expect([hot.mode, hot.cs, hot.rip]).toEqual(['xapic', '0x9a00', '0x0']);
      // Without 32-bit IDs the xAPIC IDs alias (256 -> 0): no map, the slow path finds 300 by its 32-bit ID.
      const init300 = r.steps.find((st, i) => st.op === 'wrmsr' && (s.steps[i] as { value?: bigint }).value === (300n << 32n | 0x4500n))!;
      expect(field(init300, 'path')).toBe(use32BitIds ? 'fast' : 'slow');
      expect(field(init300, 'delivered')).toEqual([{ vcpu: 300, mode: 'INIT', vector: 0 }]);
    });
  }
});
