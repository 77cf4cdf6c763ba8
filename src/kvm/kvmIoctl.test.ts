import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { _IOR, _IOW, _IOWR } from './ioctlNumbers';
import { Vm } from '../core/vm';
import {
  encodeCpuid2,
  encodeEnableCap,
  encodeMsi,
  encodeMsrs,
  decodeCpuid2,
  decodeMsrs,
  decodeVcpuEvents,
  minimalCpuid,
} from './structs';
import {
  KVM_CAP_MAX_VCPU_ID,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_X2APIC_API,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_IRQCHIP,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_ENABLE_CAP,
  KVM_GET_API_VERSION,
  KVM_GET_LAPIC,
  KVM_GET_MP_STATE,
  KVM_GET_MSRS,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_VCPU_EVENTS,
  KVM_MP_STATE_HALTED,
  KVM_MP_STATE_RUNNABLE,
  KVM_MP_STATE_UNINITIALIZED,
  KVM_SET_BOOT_CPU_ID,
  KVM_SET_CPUID2,
  KVM_SET_LAPIC,
  KVM_SET_MP_STATE,
  KVM_SET_MSRS,
  KVM_SIGNAL_MSI,
  MSR_IA32_APICBASE,
  errnoName,
  isErrno,
  kvmAvailability,
  lapicReg,
  lapicSlots,
  openKvm,
  withLapicReg,
  x2apicMsr,
  type KvmSystem,
  type KvmVcpu,
  type KvmVm,
} from './kvmIoctl';

describe('ioctl numbers (computed with _IO/_IOR/_IOW/_IOWR)', () => {
  it('match the well-known values', () => {
    expect(KVM_GET_API_VERSION).toBe(0xae00);
    expect(KVM_CREATE_VM).toBe(0xae01);
    expect(KVM_CREATE_VCPU).toBe(0xae41);
  });
  it('match a C compiler run over the uapi headers (sizeof-dependent ones)', () => {
    // Values printed by gcc from <linux/kvm.h> on x86-64.
    const expected: Record<string, [number, number]> = {
      KVM_CHECK_EXTENSION: [KVM_CHECK_EXTENSION, 0xae03],
      KVM_GET_SUPPORTED_CPUID: [KVM_GET_SUPPORTED_CPUID, 0xc008ae05],
      KVM_CREATE_IRQCHIP: [KVM_CREATE_IRQCHIP, 0xae60],
      KVM_SET_BOOT_CPU_ID: [KVM_SET_BOOT_CPU_ID, 0xae78],
      KVM_SIGNAL_MSI: [KVM_SIGNAL_MSI, 0x4020aea5],
      KVM_ENABLE_CAP: [KVM_ENABLE_CAP, 0x4068aea3],
      KVM_GET_MSRS: [KVM_GET_MSRS, 0xc008ae88],
      KVM_SET_MSRS: [KVM_SET_MSRS, 0x4008ae89],
      KVM_GET_LAPIC: [KVM_GET_LAPIC, 0x8400ae8e],
      KVM_SET_LAPIC: [KVM_SET_LAPIC, 0x4400ae8f],
      KVM_SET_CPUID2: [KVM_SET_CPUID2, 0x4008ae90],
      KVM_GET_MP_STATE: [KVM_GET_MP_STATE, 0x8004ae98],
      KVM_SET_MP_STATE: [KVM_SET_MP_STATE, 0x4004ae99],
      KVM_GET_VCPU_EVENTS: [KVM_GET_VCPU_EVENTS, 0x8040ae9f],
    };
    for (const [name, [got, want]] of Object.entries(expected)) expect([name, got.toString(16)]).toEqual([name, want.toString(16)]);
    expect(_IOR(0xae, 0x8e, 1024)).toBe(0x8400ae8e);
    expect(_IOW(0xae, 0x89, 8)).toBe(0x4008ae89);
    expect(_IOWR(0xae, 0x88, 8)).toBe(0xc008ae88);
    expect(() => _IOR(0xae, 0, 1 << 14)).toThrow(RangeError);
  });
});

describe('struct encoders (explicit offsets)', () => {
  it('kvm_msrs', () => {
    const buf = encodeMsrs([{ index: 0x1b, data: 0xfee00c00n }, { index: 0x802 }]);
    expect(buf.byteLength).toBe(8 + 2 * 16);
    expect(Array.from(buf.subarray(0, 4))).toEqual([2, 0, 0, 0]);
    expect(decodeMsrs(buf, 2)).toEqual([{ index: 0x1b, data: 0xfee00c00n }, { index: 0x802, data: 0n }]);
  });
  it('kvm_cpuid2 round-trips and minimalCpuid sets the asked bits', () => {
    const entries = minimalCpuid({ x2apic: true, maxPhyAddr: 40 }, 3);
    const back = decodeCpuid2(encodeCpuid2(entries));
    expect(back).toEqual(entries);
    const leaf1 = back.find((e) => e.function === 1)!;
    expect(leaf1.ecx & (1 << 21)).not.toBe(0);
    expect(leaf1.edx & (1 << 9)).not.toBe(0);
    expect(leaf1.ebx >>> 24).toBe(3);
    expect(back.find((e) => e.function === 0x80000008)!.eax & 0xff).toBe(40);
    expect(minimalCpuid({ x2apic: false, maxPhyAddr: 40 }, 0).find((e) => e.function === 1)!.ecx).toBe(0);
    expect(encodeCpuid2([], 4).byteLength).toBe(8 + 4 * 40);
  });
  it('kvm_msi, kvm_enable_cap, kvm_vcpu_events', () => {
    const msi = new DataView(encodeMsi(0xfee01000, 0, 0x30).buffer);
    expect(msi.byteLength).toBe(32);
    expect([msi.getUint32(0, true), msi.getUint32(8, true)]).toEqual([0xfee01000, 0x30]);
    const cap = new DataView(encodeEnableCap(129, [3n]).buffer);
    expect(cap.byteLength).toBe(104);
    expect([cap.getUint32(0, true), cap.getBigUint64(8, true)]).toEqual([129, 3n]);
    const ev = new Uint8Array(64);
    ev[13] = 1; // nmi.pending
    ev[12] = 1; // nmi.injected
    ev[25] = 1; // smi.pending
    ev[27] = 1; // smi.latched_init
    const d = decodeVcpuEvents(ev);
    expect([d.nmi.pending, d.nmi.injected, d.smi.pending, d.smi.latchedInit]).toEqual([1, 1, 1, 1]);
  });
  it('errno names', () => {
    expect([1, 2, 7, 14, 16, 17, 22, 95].map(errnoName)).toEqual(['EPERM', 'ENOENT', 'E2BIG', 'EFAULT', 'EBUSY', 'EEXIST', 'EINVAL', 'EOPNOTSUPP']);
    expect(errnoName(4000)).toBe('E#4000');
  });
});

const avail = kvmAvailability();
const skipNote = avail.ok ? '' : ` — SKIPPED: ${avail.reason}`;
if (!avail.ok) console.warn(`[src/kvm] real-KVM tests skipped: ${avail.reason}`);

describe.skipIf(!avail.ok)(`real /dev/kvm${skipNote}`, () => {
  let sys: KvmSystem;
  let vm: KvmVm;
  const vcpu = (id: number): KvmVcpu => {
    const v = vm.createVcpu(id);
    if (isErrno(v)) throw new Error(`KVM_CREATE_VCPU(${id}): ${v}`);
    return v;
  };
  /** Fresh VM with the in-kernel irqchip and vCPUs 0, 1, 256 (no CPUID set). */
  const setup = (): [KvmVcpu, KvmVcpu, KvmVcpu] => {
    vm = sys.createVm();
    vm.createIrqchip();
    return [vcpu(0), vcpu(1), vcpu(256)];
  };

  beforeAll(async () => {
    sys = await openKvm();
  });
  afterEach(() => vm?.close());
  afterAll(() => sys?.close());

  it('reports API version 12, kernel release and capabilities', () => {
    expect(sys.apiVersion).toBe(12);
    expect(sys.kernelRelease).toMatch(/^\d+\.\d+/);
    expect(sys.checkExtension(KVM_CAP_X2APIC_API)).toBeGreaterThan(0);
    expect(sys.checkExtension(KVM_CAP_MAX_VCPUS)).toBeGreaterThanOrEqual(1);
    expect(sys.checkExtension(KVM_CAP_MAX_VCPU_ID)).toBeGreaterThanOrEqual(sys.checkExtension(KVM_CAP_MAX_VCPUS));
    const leaf0 = sys.getSupportedCpuid().find((e) => e.function === 0);
    expect(leaf0).toBeDefined();
  });

  it('fresh APICBASE: 0xfee00900 for the BSP (vCPU 0), 0xfee00800 for APs', () => {
    const [v0, v1, v256] = setup();
    expect(v0.getMsr(MSR_IA32_APICBASE)).toBe(0xfee00900n);
    expect(v1.getMsr(MSR_IA32_APICBASE)).toBe(0xfee00800n);
    expect(v256.getMsr(MSR_IA32_APICBASE)).toBe(0xfee00800n);
    // x2APIC MSRs are refused (0 entries) while the LAPIC is in xAPIC mode
    expect(v1.getMsr(x2apicMsr(0x20))).toBeNull();
  });

  it('with x2APIC in CPUID, APICBASE 0xfee00c00 is accepted and MSR 0x802 reads the vCPU id', () => {
    const vs = setup();
    for (const v of vs) {
      expect(v.setCpuid({ x2apic: true, maxPhyAddr: 40 })).toBeNull();
      const base = v.id === 0 ? 0xfee00d00n : 0xfee00c00n;
      expect(v.setMsr(MSR_IA32_APICBASE, base)).toBe(true);
      expect(v.getMsr(MSR_IA32_APICBASE)).toBe(base);
      expect(v.getMsr(0x802)).toBe(BigInt(v.id));
      expect(v.getMsr(x2apicMsr(0x30))).toBe(0x50014n); // LVR through the x2APIC MSR
    }
    // Without KVM_CAP_X2APIC_API 32-bit IDs, KVM_GET_LAPIC reports the ID in xAPIC format
    const [, v1, v256] = vs;
    expect(lapicReg(v1.getLapic(), 0x20)).toBe(0x01000000);
    expect(lapicReg(v256.getLapic(), 0x20)).toBe(0);
    expect(lapicReg(v256.getLapic(), 0xd0)).toBe(0x00100001); // x2APIC LDR: cluster 16, bit 0
  });

  it('without x2APIC in CPUID, the write of APICBASE 0xfee00c00 is refused (KVM_SET_MSRS returns 0)', () => {
    const [, v1, v256] = setup();
    expect(v1.setMsr(MSR_IA32_APICBASE, 0xfee00c00n)).toBe(false); // no CPUID at all
    expect(v256.setCpuid({ x2apic: false, maxPhyAddr: 40 })).toBeNull();
    expect(v256.setMsr(MSR_IA32_APICBASE, 0xfee00c00n)).toBe(false);
    expect(v1.getMsr(MSR_IA32_APICBASE)).toBe(0xfee00800n);
    expect(v256.getMsr(MSR_IA32_APICBASE)).toBe(0xfee00800n);
  });

  it('MAXPHYADDR from CPUID leaf 0x80000008 sets the APICBASE reserved bits', () => {
    const [, v1] = setup();
    expect(v1.setCpuid({ x2apic: false, maxPhyAddr: 36 })).toBeNull();
    expect(v1.setMsr(MSR_IA32_APICBASE, 0xfee00800n | (1n << 36n))).toBe(false);
    expect(v1.setMsr(MSR_IA32_APICBASE, 0xfee00800n | (1n << 35n))).toBe(true);
    expect(v1.getMsr(MSR_IA32_APICBASE)).toBe(0x8fee00800n);
  });

  it('fresh KVM_GET_LAPIC images: ID at 0x20, LVR 0x00050014 at 0x30', () => {
    const [v0, v1, v256] = setup();
    const [i0, i1, i256] = [v0.getLapic(), v1.getLapic(), v256.getLapic()];
    expect(i0.byteLength).toBe(1024);
    expect(lapicReg(i0, 0x20)).toBe(0);
    expect(lapicReg(i1, 0x20)).toBe(0x01000000);
    expect(lapicReg(i256, 0x20)).toBe(0); // 256 truncated to the 8-bit xAPIC ID
    for (const img of [i0, i1, i256]) {
      expect(lapicReg(img, 0x30)).toBe(0x00050014); // version 0x14, 6 LVT entries
      expect(lapicReg(img, 0xe0)).toBe(0xffffffff); // DFR flat
      expect(lapicReg(img, 0xf0)).toBe(0xff); // SPIV: software-disabled
      expect(lapicReg(img, 0x320)).toBe(0x10000); // LVTT masked
    }
    expect(lapicReg(i0, 0x350)).toBe(0x700); // BSP: LVT0 ExtINT, unmasked
    expect(lapicReg(i1, 0x350)).toBe(0x10000);
    expect(lapicSlots(i0)).toHaveLength(64);
  });

  it('KVM_SET_LAPIC round-trips an image', () => {
    const [, v1] = setup();
    const img = withLapicReg(withLapicReg(v1.getLapic(), 0xf0, 0x1ff), 0x80, 0x20);
    expect(v1.setLapic(img)).toBeNull();
    const back = v1.getLapic();
    expect(lapicReg(back, 0xf0)).toBe(0x1ff);
    expect(lapicReg(back, 0x80)).toBe(0x20);
  });

  it('KVM_SET_LAPIC keeps the reserved bytes between registers, and KVM_GET_LAPIC returns them; so does the model (core/registerPage.ts)', () => {
    const [, v1] = setup();
    // Words inside 16-byte register slots that no register uses: KVM copies the 1 KiB image both ways.
    const reserved: [number, number][] = [[0x24, 0xdeadbeef], [0x84, 0x12345678], [0x3f8, 0x0badf00d]];
    let img = v1.getLapic();
    for (const [off, value] of reserved) img = withLapicReg(img, off, value);
    expect(v1.setLapic(img)).toBeNull();
    const back = v1.getLapic();
    for (const [off, value] of reserved) expect(lapicReg(back, off)).toBe(value);

    const model = new Vm({ maxVcpus: 2 });
    model.createVcpu(0);
    model.createVcpu(1);
    const words = model.getLapic(model.vcpus[1]);
    for (const [off, value] of reserved) words[off >> 2] = value;
    expect(model.setLapic(model.vcpus[1], words)).toBeNull();
    const modelBack = model.getLapic(model.vcpus[1]);
    for (const [off, value] of reserved) expect(modelBack[off >> 2]).toBe(value);
  });

  it('KVM_CAP_X2APIC_API: flag 1 ok, unknown flag 0x100 EINVAL, suppress-EOI-broadcast enable EINVAL with in-kernel irqchip', () => {
    setup();
    expect(vm.enableCap(KVM_CAP_X2APIC_API, 1n)).toBeNull();
    expect(vm.enableCap(KVM_CAP_X2APIC_API, 0x100n)).toBe('EINVAL');
    expect(vm.enableCap(KVM_CAP_X2APIC_API, 4n)).toBe('EINVAL');
    expect(vm.enableCap(KVM_CAP_X2APIC_API, 3n)).toBeNull(); // may be enabled again after vCPUs exist
    // /dev/kvm advertises bits 0-1 (and 2-3 on newer kernels); the VM fd drops bit 2 unless the irqchip is split
    expect(sys.checkExtension(KVM_CAP_X2APIC_API) & 3).toBe(3);
    expect(vm.checkExtension(KVM_CAP_X2APIC_API) & 4).toBe(0);
  });

  it('KVM_CREATE_VCPU: EEXIST for a used id, EINVAL at KVM_CAP_MAX_VCPU_ID; SET_BOOT_CPU_ID: EBUSY after vCPUs', () => {
    setup();
    expect(vm.createVcpu(1)).toBe('EEXIST');
    expect(vm.createVcpu(sys.checkExtension(KVM_CAP_MAX_VCPU_ID))).toBe('EINVAL');
    expect(vm.setBootCpuId(1)).toBe('EBUSY');
  });

  it('KVM_SET_BOOT_CPU_ID before vCPUs makes that vCPU the BSP', () => {
    vm = sys.createVm();
    vm.createIrqchip();
    expect(vm.setBootCpuId(7)).toBeNull();
    const v7 = vcpu(7);
    const v0 = vcpu(0);
    expect(v7.getMsr(MSR_IA32_APICBASE)).toBe(0xfee00900n);
    expect(v0.getMsr(MSR_IA32_APICBASE)).toBe(0xfee00800n);
  });

  it('KVM_SIGNAL_MSI: EPERM with no target; counts accepting LAPICs (xAPIC ID 0 aliased by vCPU 256)', () => {
    const vs = setup();
    // Software-enable every LAPIC (SPIV bit 8); a disabled LAPIC does not accept Fixed IRQs.
    for (const v of vs) expect(v.setLapic(withLapicReg(v.getLapic(), 0xf0, 0x1ff))).toBeNull();
    expect(vm.signalMsi(0xfee05000, 0, 0x30)).toBe('EPERM'); // physical dest 5: nobody
    expect(vm.signalMsi(0xfee00000, 0, 0x31)).toBe(2); // dest 0: vCPUs 0 and 256
    expect(vm.signalMsi(0xfee01000, 0, 0x32)).toBe(1); // dest 1: vCPU 1
    const irr = (v: KvmVcpu, vec: number): boolean => ((lapicReg(v.getLapic(), 0x200 + (vec >> 5) * 0x10) >>> (vec & 31)) & 1) === 1;
    expect(vs.map((v) => irr(v, 0x31))).toEqual([true, false, true]);
    expect(vs.map((v) => irr(v, 0x32))).toEqual([false, true, false]);
  });

  it('KVM_SIGNAL_MSI: no target gives 0, not EPERM, when the APIC map is usable (no aliased IDs)', () => {
    vm = sys.createVm();
    vm.createIrqchip();
    const vs = [vcpu(0), vcpu(1)];
    for (const v of vs) expect(v.setLapic(withLapicReg(v.getLapic(), 0xf0, 0x1ff))).toBeNull();
    expect(vm.signalMsi(0xfee05000, 0, 0x30)).toBe(0);
    expect(vm.signalMsi(0xfee01000, 0, 0x30)).toBe(1);
    expect(vm.signalMsi(0xfeeff000, 0, 0x31)).toBe(2); // physical broadcast
  });

  it('KVM_GET/SET_MP_STATE', () => {
    const [v0, v1] = setup();
    expect(v0.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    expect(v1.getMpState()).toBe(KVM_MP_STATE_UNINITIALIZED);
    expect(v1.setMpState(KVM_MP_STATE_HALTED)).toBeNull();
    expect(v1.getMpState()).toBe(KVM_MP_STATE_HALTED);
    expect(v1.setMpState(KVM_MP_STATE_RUNNABLE)).toBeNull();
    expect(v1.getMpState()).toBe(KVM_MP_STATE_RUNNABLE);
    expect(v1.setMpState(99)).toBe('EINVAL');
  });

  it('KVM_GET_VCPU_EVENTS of a fresh vCPU: nothing pending', () => {
    const [v0] = setup();
    const ev = v0.getVcpuEvents();
    expect(ev.nmi).toEqual({ injected: 0, pending: 0, masked: 0 });
    expect(ev.smi.pending).toBe(0);
    expect(ev.smi.latchedInit).toBe(0);
  });

  it('closing the system closes every VM and vCPU fd', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const s2 = await openKvm();
    const vm2 = s2.createVm();
    vm2.createIrqchip();
    for (const id of [0, 1, 256]) expect(isErrno(vm2.createVcpu(id))).toBe(false);
    expect(fds()).toBe(before + 5);
    s2.close();
    expect(fds()).toBe(before);
  });

  it('closing the VM closes its vCPUs; closed handles throw', () => {
    const [v0] = setup();
    vm.close();
    expect(() => v0.getLapic()).toThrow(/closed/);
    expect(() => vm.createVcpu(2)).toThrow(/closed/);
  });
});
