/** Guest code on the real kernel: what the guest program sees, and that the model sees the same. */
import { describe, expect, it } from 'vitest';
import { compareBackends } from '../scenario/compare';
import { ModelBackend } from '../scenario/modelBackend';
import { field } from '../scenario/result';
import { runScenario } from '../scenario/runner';
import { parseScenario, type Scenario } from '../scenario/schema';
import { KvmBackend, probeHost } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { kvmAvailability, openKvm } from './kvmIoctl';

const scenario = (steps: unknown[], vm: Record<string, unknown> = { vcpus: 2 }): Scenario => parseScenario({ format: 'apic-scenario/1', vm, steps });

/** The scenario on the kernel (step results) and compared with the adapted model. */
async function onKernel(s: Scenario) {
  const sys = await openKvm();
  try {
    const host = probeHost(sys);
    const kernel = new KvmBackend(sys, s.vm, { threads: true });
    let results;
    try {
      results = s.steps.map((step, i) => kernel.applyStep(step, i));
    } finally {
      kernel.close();
    }
    const c = compareBackends(s, new ModelBackend(s.vm, hostOverrides(host)), new KvmBackend(sys, s.vm));
    return { host, results, differences: c.differences };
  } finally {
    sys.close();
  }
}

describe.skipIf(!kvmAvailability().ok)('guest code on the real kernel', () => {
  it('INIT and SIPI sent by the BSP through the xAPIC ICR really start the AP at vector << 12', async () => {
    const s = scenario([
      { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' },
      { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x1000000' },
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x4500' }, // INIT
      { op: 'run', vcpu: 1 },
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x469a' }, // SIPI, vector 0x9a
      { op: 'run', vcpu: 1 },
      { op: 'mmio_read', vcpu: 1, offset: '0x20' },
    ]);
    const { results, differences } = await onKernel(s);
    expect(field(results[3], 'mpState')).toBe('INIT_RECEIVED'); // waits for SIPI: KVM_RUN would block
    expect(field(results[5], 'mpState')).toBe('RUNNABLE');
    expect((results[5] as { startedAt?: string }).startedAt).toBe('CS 0x9a00 (base 0x9a000), IP 0');
    expect(field(results[6], 'value')).toBe('0x1000000'); // the AP's own guest code reads its APIC ID
    const model = runScenario(s).steps[5];
    expect(field(model, 'events')?.map((e) => [e.code, e.sipiVector])).toEqual([['SIPI_STARTED', 0x9a]]);
    expect(differences).toEqual([]);
  }, 60_000);

  it('a SIPI processed between two guest steps restarts the vCPU cleanly (found by the 5,000-scenario differential run)', async () => {
    // The vCPU sends itself a SIPI while parked in INIT_RECEIVED; KVM_GET_MP_STATE before the next
    // step starts it at 0x1000. Its last `in` had to be completed before that, or KVM would apply the
    // completion to the restarted vCPU (guest.ts settle()).
    const s = scenario([
      { op: 'wrmsr', vcpu: 280, msr: '0x1b', value: '0xfee00c00', host: true },
      { op: 'set_lapic', vcpu: 280, merge: true, regs: { '0x0f0': '0x1ff' } },
      { op: 'set_mp_state', vcpu: 280, state: 'INIT_RECEIVED' },
      { op: 'wrmsr', vcpu: 280, msr: '0x830', value: '0x44601' }, // SIPI to self, vector 1
      { op: 'wrmsr', vcpu: 280, msr: '0x830', value: '0x11800044000' }, // NMI to self
    ], { vcpus: [280] });
    const { results, differences } = await onKernel(s);
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(differences).toEqual([]);
  }, 60_000);

  it('this kernel EOIs what it injects, and the probe says so', async () => {
    const s = scenario([
      { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' },
      { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x40040' }, // self-IPI, vector 0x40
      { op: 'ack', vcpu: 0 },
      { op: 'mmio_read', vcpu: 0, offset: '0x100' }, // ISR 0-31
      { op: 'mmio_read', vcpu: 0, offset: '0x120' }, // ISR 64-95: 0x40 would be bit 0
    ]);
    const { host, results, differences } = await onKernel(s);
    expect(field(results[2], 'vector')).toBe(0x40);
    expect(field(results[4], 'value')).toBe('0x0');
    expect(host.eoiOnInjection).toBe(true);
    expect(differences).toEqual([]); // the model, adapted, EOIs at `ack` too
    expect(field(runScenario(s).steps[4], 'value')).toBe('0x1'); // upstream KVM: still in service
  }, 60_000);

  it('an x2APIC-to-xAPIC APICBASE write is a #GP from the guest; the host may make it (host writes skip the transition rules)', async () => {
    const s = scenario([
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00' },
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00900' },
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00900', host: true },
      { op: 'rdmsr', vcpu: 0, msr: '0x802' },
    ]);
    const { results, differences } = await onKernel(s);
    expect(results.map((r) => [r.ok, r.fault ?? r.error ?? null])).toEqual([[true, null], [false, '#GP'], [true, null], [false, '#GP']]); // then xAPIC: x2APIC MSRs #GP
    expect(differences).toEqual([]);
  }, 60_000);

  it('an NMI is injected when the guest next runs, and while the guest blocks NMIs one more waits', async () => {
    const s = scenario([
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00', host: true },
      { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x400', host: true }, // NMI to self
      { op: 'run', vcpu: 0 }, // injected: the guest is in its NMI handler for good (no IRET)
      { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x400', host: true },
      { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x400', host: true },
    ]);
    const { differences } = await onKernel(s);
    expect(differences).toEqual([]);
    expect(runScenario(s).final.vcpus[0].nmiPending).toBe(1);
  }, 60_000);
});
