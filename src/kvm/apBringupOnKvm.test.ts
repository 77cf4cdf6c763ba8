/** The AP bring-up (INIT, SIPI, SIPI to 262 vCPUs, ids above 255 hot-plugged) agrees with the kernel. */
import { describe, expect, it } from 'vitest';
import { apBringupScenario } from '../scenario/apBringup';
import { compareBackends } from '../scenario/compare';
import { ModelBackend } from '../scenario/modelBackend';
import { KvmBackend, probeHost } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { kvmAvailability, openKvm } from './kvmIoctl';

describe.skipIf(!kvmAvailability().ok)('AP bring-up on the real kernel', () => {
  for (const use32BitIds of [true, false]) {
    it(`262 vCPUs, ${use32BitIds ? 'with' : 'without'} 32-bit IDs: model and kernel agree on every MP state and the final state`, async () => {
      const s = apBringupScenario({ aps: 259, hotplug: [300, 511], use32BitIds });
      const sys = await openKvm();
      try {
        const host = probeHost(sys);
        const c = compareBackends(s, new ModelBackend(s.vm, hostOverrides(host)), new KvmBackend(sys, s.vm), { observeEachStep: false });
        expect(c.differences).toEqual([]);
      } finally {
        sys.close();
      }
    }, 120_000);
  }
});
