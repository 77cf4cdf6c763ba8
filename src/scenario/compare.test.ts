import { describe, expect, it } from 'vitest';
import { compareBackends, formatComparison } from './compare';
import { ModelBackend } from './modelBackend';
import { parseScenario } from './schema';

const scenario = parseScenario({
  format: 'apic-scenario/1',
  vm: { vcpus: 2 },
  steps: [
    { op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00', host: true },
    { op: 'wrmsr', vcpu: 1, msr: '0x808', value: '0x1_0000_0020' },
    { op: 'rdmsr', vcpu: 1, msr: '0x808' },
  ],
});

describe('compareBackends', () => {
  it('finds no difference between two identical backends', () => {
    const c = compareBackends(scenario, new ModelBackend(scenario.vm), new ModelBackend(scenario.vm));
    expect(c.differences).toEqual([]);
    expect(formatComparison(c, [])).toContain('agree on all 3 steps');
  });

  it('reports each difference in results and in observed state (6.2 ignored bits 63:32)', () => {
    const c = compareBackends(scenario, new ModelBackend(scenario.vm), new ModelBackend({ ...scenario.vm, kvm: '6.2' }));
    expect(c.differences).toContainEqual({ where: 'step 1 (wrmsr)', step: 1, field: 'fault', model: '#GP', kernel: '(none)' });
    expect(c.differences).toContainEqual({ where: 'after step 1 (wrmsr)', step: 1, field: 'vCPU 1 0x080 APIC_TASKPRI', model: '0x0', kernel: '0x20' });
    expect(c.differences).toContainEqual({ where: 'step 2 (rdmsr)', step: 2, field: 'value', model: '0x0', kernel: '0x20' });
  });
});
