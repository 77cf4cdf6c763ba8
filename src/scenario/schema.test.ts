import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseNumber, hex } from './numbers';
import { runScenario } from './runner';
import { parseScenario, parseScenarioText } from './schema';

const err = (doc: unknown): string => {
  try {
    const s = typeof doc === 'string' ? parseScenarioText(doc) : parseScenario(doc);
    runScenario(s);
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};
const doc = (steps: unknown[], vm: object = {}) => ({ format: 'apic-scenario/1', vm, steps });

describe('scenario validation: one line naming the step and field', () => {
  it.each([
    ['not json', '{', /^scenario: not valid JSON/],
    ['wrong format', { format: 'apic-scenario/2', steps: [] }, /^scenario: format must be "apic-scenario\/1"/],
    ['unknown op', doc([{ op: 'poke' }]), /^step 0: unknown op "poke" \(known: wrmsr, rdmsr/],
    ['missing field', doc([{ op: 'wrmsr', vcpu: 0, msr: 0x1b }]), /^step 0 \(wrmsr\): value is missing$/],
    ['too wide', doc([{ op: 'wrmsr', vcpu: 0, msr: 0x1b, value: '0x1_0000_0000_0000_0000' }]), /^step 0 \(wrmsr\): value 0x1_0000_0000_0000_0000 does not fit in 64 bits$/],
    ['not a number', doc([{ op: 'rdmsr', vcpu: 0, msr: 'apicbase' }]), /^step 0 \(rdmsr\): msr "apicbase" is not a number/],
    ['unsafe number', doc([{ op: 'rdmsr', vcpu: 0, msr: 2 ** 60 }]), /is not a safe integer/],
    ['no such vCPU', doc([{ op: 'rdmsr', vcpu: 0, msr: 0x1b }, { op: 'rdmsr', vcpu: 5, msr: 0x1b }]), /^step 1 \(rdmsr\): vcpu 5 does not exist$/],
    ['bad slot', doc([{ op: 'set_lapic', vcpu: 0, regs: { '0x024': 1 } }]), /^step 0 \(set_lapic\): regs\.0x024 slot "0x024" is not one of/],
    ['both offset and gpa', doc([{ op: 'mmio_read', vcpu: 0, offset: 0x20, gpa: 0 }]), /give exactly one of "offset" and "gpa"/],
    ['unmodelled msr', doc([{ op: 'rdmsr', vcpu: 0, msr: 0x10 }]), /msr 0x10 is not modelled/],
    ['bad release', doc([], { kvm: '4.19' }), /^scenario: vm\.kvm must be "current" or a release/],
    ['duplicate vcpu ids', doc([], { vcpus: [0, 0] }), /lists a vCPU id twice/],
    ['vcpu id too big', doc([], { vcpus: [0, 20000] }), /KVM_CREATE_VCPU\(20000\) fails with EINVAL/],
    ['__proto__ key', '{"format":"apic-scenario/1","steps":[{"op":"get_lapic","vcpu":0,"__proto__":{"x":1}}]}', /^scenario: steps\[0\].__proto__: keys named __proto__/],
    ['constructor key', { format: 'apic-scenario/1', vm: { constructor: 1 }, steps: [] }, /^scenario: vm.constructor: keys named/],
    ['too many steps', doc(Array.from({ length: 200_001 }, () => ({ op: 'get_lapic', vcpu: 0 }))), /200001 steps is more than the 200000 allowed/],
    ['too many vCPUs', doc([], { vcpus: 5000 }), /^scenario: vm.vcpus must be a count from 1 to 4096/],
    ['deep nesting', JSON.parse('{"format":"apic-scenario/1","steps":[],"x":' + '['.repeat(100) + ']'.repeat(100) + '}'), /nested more than 64 levels/],
  ])('%s', (_name, input, message) => {
    expect(err(input)).toMatch(message);
  });

  it('a guest fault is a result, not an error', () => {
    const r = runScenario(parseScenario(doc([{ op: 'wrmsr', vcpu: 0, msr: 0x802, value: 0 }])));
    expect(r.steps[0]).toMatchObject({ ok: false, fault: '#GP' });
  });
});

describe('scenario numbers', () => {
  it('parse hex with underscores and decimal strings, and write lowercase hex', () => {
    expect(parseNumber('0xFEE0_0900')).toBe(0xfee00900n);
    expect(parseNumber('4276095232')).toBe(0xfee00900n);
    expect(hex(0xfee00900)).toBe('0xfee00900');
    expect(hex(-1)).toBe('0xffffffff');
  });

  it('round-trip any 64-bit value through hex', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => parseNumber(hex(v)) === v));
  });
});
