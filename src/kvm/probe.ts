/**
 * Probe of the real KVM, for use as an oracle: `npx tsx src/kvm/probe.ts [--json]`.
 * Prints API version, kernel release, a few KVM_CHECK_EXTENSION values, and the fresh
 * KVM_GET_LAPIC images of vCPU 0 (BSP) and vCPU 1 (VM with KVM_CREATE_IRQCHIP, no CPUID set)
 * as 64 slots: offset -> 32-bit value. Exit code 2 when KVM is unavailable, or for an unknown
 * flag (node:util parseArgs, src/cli/args.ts).
 */

import {
  KVM_CAP_MAX_VCPU_ID,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_NR_VCPUS,
  KVM_CAP_X2APIC_API,
  MSR_IA32_APICBASE,
  isErrno,
  lapicSlots,
  openKvm,
  KvmUnavailable,
} from './kvmIoctl';
import { parseFlags, UsageError } from '../cli/args';

const hex = (n: number | bigint, width = 8): string => '0x' + n.toString(16).padStart(width, '0');

async function main(): Promise<void> {
  let json: boolean;
  try {
    json = parseFlags(process.argv.slice(2), { json: { type: 'boolean' } }, { positionals: false }).values.json ?? false;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}; usage: npx tsx src/kvm/probe.ts [--json]`);
    process.exit(2);
  }
  let sys;
  try {
    sys = await openKvm();
  } catch (e) {
    if (e instanceof KvmUnavailable) {
      console.error(`KVM unavailable: ${e.reason}`);
      process.exit(2);
    }
    throw e;
  }
  try {
    const caps = {
      x2apicApi: sys.checkExtension(KVM_CAP_X2APIC_API),
      nrVcpus: sys.checkExtension(KVM_CAP_NR_VCPUS),
      maxVcpus: sys.checkExtension(KVM_CAP_MAX_VCPUS),
      maxVcpuId: sys.checkExtension(KVM_CAP_MAX_VCPU_ID),
    };
    const vm = sys.createVm();
    vm.createIrqchip();
    const x2apicApiVm = vm.checkExtension(KVM_CAP_X2APIC_API);
    const vcpus = [0, 1].map((id) => {
      const v = vm.createVcpu(id);
      if (isErrno(v)) throw new Error(`KVM_CREATE_VCPU(${id}) failed: ${v}`);
      return v;
    });
    const images = vcpus.map((v) => ({
      id: v.id,
      apicBase: v.getMsr(MSR_IA32_APICBASE),
      mpState: v.getMpState(),
      slots: lapicSlots(v.getLapic()),
    }));
    vm.close();

    if (json) {
      console.log(
        JSON.stringify(
          {
            apiVersion: sys.apiVersion,
            kernelRelease: sys.kernelRelease,
            caps: { ...caps, x2apicApiVm },
            vcpus: images.map((i) => ({
              id: i.id,
              apicBase: i.apicBase === null ? null : hex(i.apicBase),
              mpState: i.mpState,
              lapic: Object.fromEntries(i.slots.map((s) => [hex(s.offset, 3), hex(s.value)])),
            })),
          },
          null,
          2,
        ),
      );
      return;
    }
    console.log(`KVM API version        ${sys.apiVersion}`);
    console.log(`kernel release         ${sys.kernelRelease}`);
    console.log(`KVM_CAP_X2APIC_API     ${caps.x2apicApi} (valid flags ${hex(caps.x2apicApi, 1)}, 0b${caps.x2apicApi.toString(2)})`);
    console.log(`  on the VM fd         ${x2apicApiVm} (0b${x2apicApiVm.toString(2)}; in-kernel irqchip)`);
    console.log(`KVM_CAP_NR_VCPUS       ${caps.nrVcpus}`);
    console.log(`KVM_CAP_MAX_VCPUS      ${caps.maxVcpus}`);
    console.log(`KVM_CAP_MAX_VCPU_ID    ${caps.maxVcpuId}`);
    for (const i of images) {
      console.log();
      console.log(`vCPU ${i.id}: APICBASE ${i.apicBase === null ? 'refused' : hex(i.apicBase)}, mp_state ${i.mpState}`);
      console.log(`vCPU ${i.id} fresh KVM_GET_LAPIC (offset -> value):`);
      for (let row = 0; row < 16; row++) {
        console.log(
          '  ' +
            i.slots
              .slice(row * 4, row * 4 + 4)
              .map((s) => `${hex(s.offset, 3)} ${hex(s.value)}`)
              .join('   '),
        );
      }
    }
  } finally {
    sys.close();
  }
}

await main();
