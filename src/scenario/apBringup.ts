/**
 * The AP bring-up scenario: a BSP in x2APIC mode wakes every AP, hot-plugged ones above 255
 * included, with INIT, SIPI, SIPI through the x2APIC ICR, reading each AP's MP state after every
 * signal. Built in code because it has hundreds of steps; used by tests and as a demo.
 */
import type { Step } from './schema';
import { parseScenario, type Scenario } from './schema';
import { toDocument } from './document';

export function apBringupScenario(opts: {
  aps: number;
  hotplug: number[];
  use32BitIds: boolean;
  sipiVector?: number;
  /** How each AP's MP state is read: KVM_RUN entry (model only) or KVM_GET_MP_STATE (also on /dev/kvm). */
  probe?: 'run' | 'get_mp_state';
}): Scenario {
  const probe = opts.probe ?? 'get_mp_state';
  const vector = BigInt(opts.sipiVector ?? 0x9a);
  const ids = Array.from({ length: opts.aps + 1 }, (_, i) => i);
  const steps: Step[] = [];
  if (opts.use32BitIds) steps.push({ op: 'enable_cap', cap: 'X2APIC_API', flags: 1n });
  for (const id of opts.hotplug) steps.push({ op: 'create_vcpu', vcpu: id });
  steps.push({ op: 'wrmsr', vcpu: 0, msr: 0x1bn, value: 0xfee00d00n, host: true });
  for (const ap of [...ids.slice(1), ...opts.hotplug]) {
    const icr = (low: bigint) => ({ op: 'wrmsr' as const, vcpu: 0, msr: 0x830n, value: (BigInt(ap) << 32n) | low, host: true });
    steps.push(icr(0x4500n), { op: probe, vcpu: ap, expect: { mpState: 'INIT_RECEIVED' } });
    steps.push(icr(0x4600n | vector), { op: probe, vcpu: ap, expect: { mpState: 'RUNNABLE' } });
    steps.push(icr(0x4600n | vector), { op: probe, vcpu: ap, expect: { mpState: 'RUNNABLE' } });
  }
  return parseScenario(
    toDocument({
      title: `AP bring-up: ${ids.length + opts.hotplug.length} vCPUs (hot-plugged ${opts.hotplug.join(', ')}), ${opts.use32BitIds ? 'with' : 'without'} 32-bit IDs`,
      vm: { vcpus: ids.length },
      steps,
    }),
  );
}
