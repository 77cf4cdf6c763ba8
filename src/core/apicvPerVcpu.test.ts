/**
 * apicv_active is per vCPU: an inhibit flips the VM's APICv state at once, but each vCPU follows
 * only when it next enters the guest (KVM_REQ_APICV_UPDATE -> __kvm_vcpu_update_apicv), and a new
 * vCPU starts active with the update pending (kvm_arch_vcpu_create). Host ioctls in between see the
 * vCPU's old state: KVM_SET_LAPIC keeps the ISR cache pinned while the vCPU is still active.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../scenario/runner';
import { parseScenario } from '../scenario/schema';

const run = (steps: object[], vm: object = { vcpus: 2 }) => runScenario(parseScenario({ format: 'apic-scenario/1', vm, steps }), { trace: true });
const alias = { op: 'set_lapic', vcpu: 1, merge: true, regs: { '0x020': '0x0' } };
const isr40 = { op: 'set_lapic', vcpu: 0, merge: true, regs: { '0x120': '0x1' } };

describe('per-vCPU apicv_active (KVM_REQ_APICV_UPDATE)', () => {
  it('an inhibit reaches each vCPU at its next entry, not at once', () => {
    const r = run([alias]);
    expect(r.final.apicvActive).toBe(false);
    expect(r.final.inhibits).toContain('PHYSICAL_ID_ALIASED');
    expect(r.final.vcpus.map((v) => v.apicvActive)).toEqual([true, true]);
    const ran = run([alias, { op: 'run', vcpu: 0 }]);
    expect(ran.final.vcpus.map((v) => v.apicvActive)).toEqual([false, true]);
    expect(ran.steps[1].trace!.map((e) => e.event)).toContain('kvm_vcpu_update_apicv');
    // A guest access also enters the guest first.
    expect(run([alias, { op: 'mmio_read', vcpu: 1, offset: '0x30' }]).final.vcpus.map((v) => v.apicvActive)).toEqual([true, false]);
  });

  it('KVM_SET_LAPIC before the vCPU runs again still treats it as active: PPR follows the new ISR', () => {
    // Active (ISR cache pinned): PPR is recomputed from the ISR itself.
    expect(run([alias, isr40, { op: 'get_lapic', vcpu: 0 }]).final.vcpus[0].ppr).toBe('0x40');
    // After its update (inactive), KVM_SET_LAPIC recomputes PPR before refreshing the ISR cache: stale 0.
    expect(run([alias, { op: 'run', vcpu: 0 }, isr40]).final.vcpus[0].ppr).toBe('0x0');
  });

  it('a vCPU whose APIC is disabled does not activate; without enable_apicv nothing is ever active', () => {
    const off = run([{ op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0x0', host: true }, { op: 'run', vcpu: 0 }, { op: 'run', vcpu: 1 }]);
    // vCPU 1 is an AP waiting for INIT/SIPI: KVM_RUN blocks it without entering the guest.
    expect(off.final.vcpus.map((v) => v.apicvActive)).toEqual([false, true]);
    expect(run([{ op: 'run', vcpu: 0 }], { vcpus: 2, apicv: false }).final.vcpus.map((v) => v.apicvActive)).toEqual([false, false]);
  });
});
