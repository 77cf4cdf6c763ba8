/** Test helpers: a VM with vCPUs, and register shortcuts. Used by the unit tests only. */
import { Vm, type VmConfig } from './vm';
import type { Vcpu } from './vcpu';
import { traceEvents, type TraceEvent } from './types';

export function makeVm(ids: number[] = [0, 1], config: Partial<VmConfig> = {}): Vm {
  const vm = new Vm(config);
  for (const id of ids) if (vm.createVcpu(id)) throw new Error(`cannot create vCPU ${id}`);
  vm.takeTrace();
  return vm;
}

/** The trace events since the last call: Vm.takeTrace(), each delivery's record made its events. */
export function takeEvents(vm: Vm): TraceEvent[] {
  return traceEvents(vm.takeTrace());
}

export function vcpu(vm: Vm, id: number): Vcpu {
  const v = vm.vcpu(id);
  if (!v) throw new Error(`no vCPU ${id}`);
  return v;
}

/** Guest MMIO store/load at `offset` from the vCPU's APIC base. */
export function mmioW(vm: Vm, id: number, offset: number, value: number): void {
  const v = vcpu(vm, id);
  vm.mmioWrite(v, BigInt(v.apic.baseAddress + offset), value);
}
export function mmioR(vm: Vm, id: number, offset: number): number | 'unclaimed' {
  const v = vcpu(vm, id);
  const r = vm.mmioRead(v, BigInt(v.apic.baseAddress + offset));
  return 'value' in r ? r.value : 'unclaimed';
}

/** Put a vCPU in x2APIC mode through guest WRMSRs (xAPIC -> x2APIC). */
export function toX2apic(vm: Vm, id: number): void {
  const v = vcpu(vm, id);
  const r = vm.wrmsr(v, 0x1b, v.apicBase | 0xc00n, false);
  if (!r.ok) throw new Error('x2APIC switch refused');
}

/**
 * A VM as a VMM leaves it after setup: KVM_SET_LAPIC on every vCPU, which rebuilds the map with
 * all vCPUs online (KVM_CREATE_VCPU alone leaves the newest vCPU out of the optimized map).
 */
export function makeReadyVm(ids: number[] = [0, 1], config: Partial<VmConfig> = {}): Vm {
  const vm = makeVm(ids, config);
  for (const v of vm.vcpus) vm.setLapic(v, vm.getLapic(v));
  vm.takeTrace();
  return vm;
}
