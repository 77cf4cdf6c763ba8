/**
 * The PV IPI hypercall (`pv_send_ipi`) and the kernel backend: refused, saying why
 * (PV_IPI_REFUSAL: on kvm_pvm a guest's VMCALL never reaches kvm_emulate_hypercall), before
 * anything reaches the kernel; the model answers the same steps.
 */
import { describe, expect, it } from 'vitest';
import { compareBackends } from '../scenario/compare';
import { ModelBackend } from '../scenario/modelBackend';
import { field } from '../scenario/result';
import { runScenario } from '../scenario/runner';
import { OP_NAMES, parseScenario, type Step } from '../scenario/schema';
import { KvmBackend, kvmRefusal, PV_IPI_REFUSAL, probeHost, UnsupportedOnKvm } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { kvmAvailability, openKvm } from './kvmIoctl';

const pv = (extra: Partial<Step & { op: 'pv_send_ipi' }> = {}): Step => ({ op: 'pv_send_ipi', vcpu: 0, bitmapLow: 0b110n, min: 0n, icr: 0x40n, ...extra });
const NESTED = ['vmxon', 'vmxoff', 'enter_guest', 'leave_guest', 'clgi', 'stgi'];

describe('pv_send_ipi on the kernel backend: the refusal', () => {
  it('a 32-bit hypercall (op64 false): the hypercall never reaches KVM on this kernel', () => {
    expect(kvmRefusal(pv({ op64: false }))).toBe(PV_IPI_REFUSAL);
    expect(PV_IPI_REFUSAL).toContain('kvm_pvm emulates every guest instruction');
  });

  it('a 64-bit one (op64 true or omitted): the same, and that it would need long mode', () => {
    for (const step of [pv({ op64: true }), pv()]) {
      expect(kvmRefusal(step)).toBe(`${PV_IPI_REFUSAL}; and a 64-bit hypercall (op64) would need long mode, while the backend's guest runs in 32-bit protected mode`);
    }
  });

  it('only the nested ops are refused as nested virtualization (pv_send_ipi once fell into that default)', () => {
    const nested = OP_NAMES.filter((op) => {
      const step = { op, vcpu: 0, lvt: 'LINT0', bitmapLow: 0n, min: 0n, icr: 0n, ns: 1n } as unknown as Step;
      return kvmRefusal(step)?.startsWith('nested virtualization');
    });
    expect(nested.sort()).toEqual([...NESTED].sort());
  });
});

describe.skipIf(!kvmAvailability().ok)('pv_send_ipi on /dev/kvm', () => {
  // Three vCPUs with their APICs software-enabled; vCPU 0 sends the hypercall to APIC IDs 1 and 2.
  const s = parseScenario({
    format: 'apic-scenario/1',
    vm: { vcpus: 3 },
    steps: [
      ...[0, 1, 2].map((vcpu) => ({ op: 'mmio_write', vcpu, offset: '0xf0', value: '0x1ff' })),
      { op: 'pv_send_ipi', vcpu: 0, op64: false, bitmapLow: '0x6', min: '0x0', icr: '0x40' },
      { op: 'mmio_read', vcpu: 1, offset: '0x220' },
    ],
  });

  it('the kernel backend refuses the step before it reaches the kernel: no vCPU changes', async () => {
    const sys = await openKvm();
    try {
      const kernel = new KvmBackend(sys, s.vm, { threads: true });
      try {
        s.steps.slice(0, 3).forEach((step, i) => kernel.applyStep(step, i));
        const before = kernel.observe();
        expect(() => kernel.applyStep(s.steps[3], 3)).toThrow(UnsupportedOnKvm);
        expect(() => kernel.applyStep(s.steps[3], 3)).toThrow(`step 3 (pv_send_ipi): not supported on real KVM: ${PV_IPI_REFUSAL}`);
        expect(kernel.observe()).toEqual(before);
      } finally {
        kernel.close();
      }
    } finally {
      sys.close();
    }
  }, 60_000);

  it('the comparison stops at the hypercall, after agreeing on the steps before it; the model answers it (2 LAPICs accepted)', async () => {
    const sys = await openKvm();
    try {
      const host = probeHost(sys);
      const c = compareBackends(s, new ModelBackend(s.vm, hostOverrides(host)), new KvmBackend(sys, s.vm), { unsupported: 'stop' });
      expect(c.stoppedAt).toEqual({ step: 3, reason: `step 3 (pv_send_ipi): not supported on real KVM: ${PV_IPI_REFUSAL}` });
      expect(c.steps).toBe(3);
      expect(c.differences).toEqual([]);
    } finally {
      sys.close();
    }
    const model = runScenario(s).steps;
    expect(field(model[3], 'ret')).toBe(2);
    expect(field(model[4], 'value')).toBe('0x1'); // IRR 64-95: vector 0x40 on vCPU 1
  }, 60_000);
});
