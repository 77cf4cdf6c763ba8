/**
 * Every way input reaches the app, fed malformed, oversized and hostile data: each is refused
 * with a message that says what and where, and the state stays as it was.
 */
import { describe, expect, it } from 'vitest';
import { importTrace } from '../import/traceCmd';
import { parseLapicImage } from '../scenario/lapicImage';
import { createLabStore } from './labStore';

function freshStore() {
  const store = createLabStore({ vcpus: 2 });
  store.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
  return store;
}

/** Run `act`; expect it to fail with `message` and to change nothing observable. */
function refused(act: (s: ReturnType<typeof freshStore>) => boolean | unknown, message: RegExp) {
  const store = freshStore();
  const { snapshot, log, cursor } = store.getState();
  const r = act(store);
  expect(r === false || r === null).toBe(true);
  expect(store.getState().error).toMatch(message);
  expect(store.getState().snapshot).toBe(snapshot);
  expect(store.getState().log).toBe(log);
  expect(store.getState().cursor).toBe(cursor);
}

describe('hostile input is refused and changes nothing', () => {
  it('scenario files', () => {
    refused((s) => s.getState().importScenario(''), /^import: scenario: not valid JSON/);
    refused((s) => s.getState().importScenario('[1,2]'), /the document must be a JSON object/);
    refused((s) => s.getState().importScenario('{"format":"apic-scenario/1","steps":[{"op":"wrmsr","vcpu":0,"msr":"0x1b","value":"0x1_0000_0000_0000_0000"}]}'), /step 0 \(wrmsr\): value 0x1_0000_0000_0000_0000 does not fit in 64 bits/);
    refused((s) => s.getState().importScenario('{"format":"apic-scenario/1","steps":[],"vm":{"__proto__":{"polluted":1}}}'), /vm.__proto__: keys named __proto__/);
    refused((s) => s.getState().importScenario(JSON.stringify({ format: 'apic-scenario/1', vm: { vcpus: 100000 }, steps: [] })), /vm.vcpus must be a count from 1 to 4096/);
    refused((s) => s.getState().importScenario(JSON.stringify({ format: 'apic-scenario/1', steps: [{ op: 'rdmsr', vcpu: 7, msr: 0x1b }] })), /step 0 \(rdmsr\): vcpu 7 does not exist/);
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });

  it('links', () => {
    refused((s) => s.getState().openLink('s=1.' + 'A'.repeat(100)), /^link: the data is damaged/);
    refused((s) => s.getState().openLink('s=2.abc'), /^link: made by format version 2/);
    refused((s) => s.getState().openLink('s=1.' + 'x'.repeat(2_000_001)), /characters is more than the 2000000/);
  });

  it('stored sessions', () => {
    refused((s) => s.getState().restore({ scenario: { format: 'apic-scenario/1', steps: [] }, cursor: 5, selectedVcpu: null }, 'stored session'), /^stored session: step 5 does not exist/);
    refused((s) => s.getState().restore({ scenario: { format: 'nope', steps: [] }, cursor: 0, selectedVcpu: null }, 'stored session'), /^stored session: scenario: format must be/);
  });

  it('register and ICR edits', () => {
    refused((s) => s.getState().apply({ op: 'mmio_write', vcpu: 0, offset: '0x80', value: '0x1_0000_0000' }), /step 1 \(mmio_write\): value 0x1_0000_0000 does not fit in 32 bits/);
    refused((s) => s.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x830', value: 'q' }), /step 1 \(wrmsr\): value "q" is not a number/);
    refused((s) => s.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x830', value: -1 }), /value -1 is negative/);
    refused((s) => s.getState().apply({ op: 'set_lapic', vcpu: 0, regs: { constructor: 1 } }), /keys named __proto__, constructor or prototype/);
  });

  it('KVM_GET_LAPIC images and traces', () => {
    expect(parseLapicImage(new TextEncoder().encode('<script>alert(1)</script>'))).toMatchObject({ ok: false });
    expect(parseLapicImage(new Uint8Array(1 << 20))).toMatchObject({ ok: false, message: expect.stringMatching(/^image: 1048576 bytes is not a LAPIC image/) });
    const t = importTrace('x'.repeat(5000) + '\n<img src=x onerror=alert(1)>\n');
    expect(t.report.steps).toHaveLength(0);
    expect(t.report.notUnderstoodCount + t.report.skippedCount + t.report.warnings.length).toBeGreaterThan(0);
  });
});
