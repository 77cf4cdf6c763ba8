/**
 * The scenarios of the replay rows: 100,000 steps on 256 vCPUs in x2APIC mode, run by the headless
 * runner in a new process (process start, validation, replay and the printed result included).
 */

/** A replay row: its name, what its steps do, and the apic-scenario/1 document. */
export interface ReplayCase {
  name: string;
  mix: string;
  doc: { format: 'apic-scenario/1'; vm: { vcpus: number }; steps: Record<string, unknown>[] };
}

const VCPUS = 256;
const STEPS = 100_000;
const hex = (v: number | bigint) => '0x' + v.toString(16);
const msr = (vcpu: number, reg: number, value: number | bigint, host = false) => ({ op: 'wrmsr', vcpu, msr: hex(reg), value: hex(value), ...(host ? { host: true } : {}) });

/** Every vCPU to x2APIC mode (host KVM_SET_MSRS of IA32_APIC_BASE); vCPU 0 is the BSP. */
const toX2apic = Array.from({ length: VCPUS }, (_, v) => msr(v, 0x1b, v === 0 ? 0xfee00d00 : 0xfee00c00, true));

/** The replay rows. */
export function replayCases(): ReplayCase[] {
  return [
    {
      name: 'replay 100,000 steps on 256 vCPUs (IPIs and TPR writes)',
      mix: 'alternating TPR writes and Fixed physical x2APIC IPIs (APICs software-disabled: every IPI is dropped)',
      doc: {
        format: 'apic-scenario/1',
        vm: { vcpus: VCPUS },
        steps: [
          ...toX2apic,
          ...Array.from({ length: STEPS }, (_, i) =>
            i % 2 ? { op: 'wrmsr', vcpu: i % VCPUS, msr: '0x830', value: `0x${((i * 7) % VCPUS).toString(16)}00000040` } : { op: 'wrmsr', vcpu: i % VCPUS, msr: '0x808', value: `0x${(i % VCPUS).toString(16)}` },
          ),
        ],
      },
    },
    {
      name: 'replay 100,000 steps on 256 vCPUs (more register traffic)',
      mix: 'APICs software-enabled; in turn a physical IPI, ack, EOI, TPR write, PPR read, x2APIC logical IPI, IRR read, SPIV write (software disable/enable: a map rebuild)',
      doc: {
        format: 'apic-scenario/1',
        vm: { vcpus: VCPUS },
        steps: [...toX2apic, ...Array.from({ length: VCPUS }, (_, v) => msr(v, 0x80f, 0x1ff)), ...Array.from({ length: STEPS }, (_, i) => registerStep(i))],
      },
    },
  ];
}

/** Step i of the register-traffic mix: eight kinds in turn, on vCPUs spread over the VM. */
function registerStep(i: number): Record<string, unknown> {
  const v = (i * 37) % VCPUS;
  const target = (i * 7) % VCPUS;
  const vector = 0x40 + (i % 0x80);
  switch (i % 8) {
    case 0:
      return msr(v, 0x830, (BigInt(target) << 32n) | BigInt(vector));
    case 1:
      return { op: 'ack', vcpu: ((i - 1) * 7) % VCPUS };
    case 2:
      return msr(((i - 2) * 7) % VCPUS, 0x80b, 0);
    case 3:
      return msr(v, 0x808, (i >> 3) & 0x3f);
    case 4:
      return { op: 'rdmsr', vcpu: v, msr: '0x80a' };
    case 5:
      // x2APIC logical: cluster target >> 4, two bits of it.
      return msr(v, 0x830, (BigInt(((target >>> 4) << 16) | (3 << (target & 14))) << 32n) | 0x800n | BigInt(vector));
    case 6:
      return { op: 'rdmsr', vcpu: v, msr: hex(0x820 + (i % 8)) };
    default:
      // Software disable, then eight steps later enable the same vCPU again: both dirty the map.
      return msr(((i >> 4) * 37) % VCPUS, 0x80f, (i >> 3) % 2 ? 0x1ff : 0xff);
  }
}
