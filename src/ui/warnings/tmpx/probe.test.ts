import { it } from 'vitest';
import { runScenario } from '../../../scenario/runner';
import { parseScenario } from '../../../scenario/schema';
const SW = { '0x0f0': '0x1ff' };
const sw = (ids: number[]) => ids.map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: SW }));
const show = (name: string, doc: any) => {
  const r = runScenario(parseScenario({ format: 'apic-scenario/1', ...doc }));
  console.log(name, JSON.stringify({ present: r.final.map.present, lm: r.final.map.logicalMode, why: r.final.map.why, inh: r.final.inhibits, last: r.steps.at(-1)?.op }));
};
it('probe', () => {
  show('32bit', { vm: { vcpus: [0, 1, 256] }, steps: [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }, ...sw([0, 1, 256])] });
  show('stale', { vm: { vcpus: [0, 1, 256] }, steps: [] });
  show('fresh4', { vm: { vcpus: 4 }, steps: [] });
  show('6.2', { vm: { vcpus: [0, 1, 256], kvm: '6.2' }, steps: sw([0, 1, 256]) });
  show('300', { vm: { vcpus: 300 }, steps: [] });
  show('300-32', { vm: { vcpus: 300 }, steps: [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }, ...sw([0])] });
  show('x2wins', { vm: { vcpus: 6 }, steps: [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }, { op: 'wrmsr', vcpu: 5, msr: '0x1b', value: '0xfee00c00' }, { op: 'set_lapic', vcpu: 0, merge: true, regs: { ...SW, '0x020': '0x05000000' } }] });
  show('ldr62', { vm: { vcpus: 2, kvm: '6.2' }, steps: [0, 1].map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: { ...SW, '0x0d0': '0x01000000' } })) });
  show('ldr', { vm: { vcpus: 3 }, steps: [0, 1].map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: { ...SW, '0x0e0': '0xffffffff', '0x0d0': '0x04000000' } })) });
});
