/**
 * /dev/kvm system, VM and vCPU handles over libc ioctls (see ./kvmIoctl.ts for the API summary).
 * Node-only; koffi is loaded lazily by ./libc.ts on openKvm().
 */

import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { release } from 'node:os';
import { type Errno } from './errno';
import {
  KVM_API_VERSION,
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
  KVM_SET_BOOT_CPU_ID,
  KVM_SET_CPUID2,
  KVM_SET_LAPIC,
  KVM_SET_MP_STATE,
  KVM_SET_MSRS,
  KVM_SIGNAL_MSI,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_TSS_ADDR,
  KVM_RUN,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_TSC_KHZ,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_CREATE_PIT2,
  KVM_REINJECT_CONTROL,
  KVM_GET_PIT2,
  KVM_SET_PIT2,
  KVM_GET_IRQCHIP,
  KVM_SET_IRQCHIP,
  SIZEOF_KVM_PIT_CONFIG,
  SIZEOF_KVM_PIT_STATE2,
  SIZEOF_KVM_IRQCHIP,
  SIZEOF_KVM_REINJECT_CONTROL,
} from './ioctlNumbers';
import { getLibc, loadKoffi, mapMemory, O_CLOEXEC, O_RDWR, type Libc, type Mapping, type SysResult } from './libc';
import { VcpuThread } from './vcpuThread';
import {
  type CpuidEntry,
  decodeCpuid2,
  decodeMpState,
  decodeMsrs,
  decodeVcpuEvents,
  encodeCpuid2,
  encodeEnableCap,
  encodeMpState,
  encodeMsi,
  encodeMsrs,
  minimalCpuid,
  type MinimalCpuidOptions,
  SIZEOF_KVM_LAPIC_STATE,
  SIZEOF_KVM_MP_STATE,
  SIZEOF_KVM_VCPU_EVENTS,
  type VcpuEvents,
  decodeRegs,
  decodeSregsCs,
  encodeMemoryRegion,
  type GuestRegs,
  SIZEOF_KVM_REGS,
  SIZEOF_KVM_SREGS,
} from './structs';

/** The KVM device; $KVM_DEVICE overrides it (to point at another node, or to test its absence). */
export const KVM_DEVICE_PATH = process.env.KVM_DEVICE || '/dev/kvm';

// ------------------------------------------------------------------ errors

/** /dev/kvm cannot be used here; `reason` is one line, fit for a skip message or a UI. */
export class KvmUnavailable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'KvmUnavailable';
  }
}

/** An ioctl failed where the API has no Errno return (unexpected kernel refusal, bad fd...). */
export class KvmIoctlError extends Error {
  constructor(
    readonly op: string,
    readonly errno: Errno,
  ) {
    super(`${op} failed: ${errno}`);
    this.name = 'KvmIoctlError';
  }
}

// ------------------------------------------------------------------ availability

export type KvmAvailability = { ok: true } | { ok: false; reason: string };

/** Cheap synchronous check (no fd is kept open); the reason is a single line. */
export function kvmAvailability(): KvmAvailability {
  if (process.platform !== 'linux') return { ok: false, reason: `KVM needs Linux (this is ${process.platform})` };
  if (process.arch !== 'x64') return { ok: false, reason: `struct layouts here are x86-64 only (this is ${process.arch})` };
  if (!existsSync(KVM_DEVICE_PATH)) return { ok: false, reason: `${KVM_DEVICE_PATH} missing (no KVM module, or not exposed to this container)` };
  try {
    accessSync(KVM_DEVICE_PATH, fsConstants.R_OK | fsConstants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, reason: `${KVM_DEVICE_PATH} not read-write for this user (${code}; join group 'kvm')` };
  }
  const koffi = loadKoffi();
  if (koffi instanceof Error) {
    return { ok: false, reason: `koffi missing or broken (npm i koffi): ${koffi.message.split('\n')[0]}` };
  }
  return { ok: true };
}

/** Opens /dev/kvm; throws KvmUnavailable with a one-line reason. */
export async function openKvm(): Promise<KvmSystem> {
  const avail = kvmAvailability();
  if (!avail.ok) throw new KvmUnavailable(avail.reason);
  let libc: Libc;
  try {
    libc = getLibc();
  } catch (e) {
    throw new KvmUnavailable(`cannot bind libc through koffi: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = libc.open(KVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
  if (!r.ok) throw new KvmUnavailable(`open(${KVM_DEVICE_PATH}) failed: ${r.errno}`);
  const fd = r.ret;
  const v = libc.ioctl(fd, KVM_GET_API_VERSION);
  if (!v.ok || v.ret !== KVM_API_VERSION) {
    libc.close(fd);
    throw new KvmUnavailable(`KVM_GET_API_VERSION gave ${v.ok ? v.ret : v.errno}, expected ${KVM_API_VERSION}`);
  }
  return new KvmSystemImpl(libc, fd, v.ret);
}

// ------------------------------------------------------------------ public interfaces

export interface KvmSystem {
  readonly apiVersion: number;
  /** os.release() of the running kernel. */
  readonly kernelRelease: string;
  /** KVM_CREATE_VM (default machine type). */
  createVm(): KvmVm;
  /** KVM_CHECK_EXTENSION on /dev/kvm: 0 = absent, otherwise a cap-specific value. */
  checkExtension(cap: number): number;
  /** KVM_GET_SUPPORTED_CPUID: the CPUID entries KVM can expose to a guest. */
  getSupportedCpuid(): CpuidEntry[];
  /** Closes /dev/kvm and every VM (and their vCPUs) created from it that is still open. */
  close(): void;
}

export interface KvmVm {
  readonly fd: number;
  /** KVM_CREATE_IRQCHIP: in-kernel PIC + IOAPIC + per-vCPU LAPICs. Call before creating vCPUs. */
  createIrqchip(): void;
  /** KVM_SET_BOOT_CPU_ID; must precede vCPU creation (EBUSY after). */
  setBootCpuId(id: number): Errno | null;
  /**
   * KVM_CREATE_VCPU; e.g. 'EEXIST' for a used id, 'EINVAL' for id >= KVM_CAP_MAX_VCPU_ID. With
   * `thread`, every later ioctl of the vCPU is made on its own host thread named `CPU <id>/KVM`.
   */
  createVcpu(id: number, opts?: { thread?: boolean }): KvmVcpu | Errno;
  /** KVM_SET_USER_MEMORY_REGION: back guest physical memory with fresh anonymous memory. */
  addMemory(slot: number, guestPhysAddr: number, size: number): Mapping;
  /** KVM_SET_TSS_ADDR (a 3-page region VMX needs for real mode). */
  setTssAddr(addr: number): void;
  /** KVM_CHECK_EXTENSION on the VM fd (may differ from the system answer). */
  checkExtension(cap: number): number;
  /** KVM_ENABLE_CAP on the VM fd with args[0] = args0 (e.g. KVM_CAP_X2APIC_API = 129). */
  enableCap(cap: number, args0: bigint): Errno | null;
  /** KVM_SIGNAL_MSI: number of LAPICs that accepted it, or an errno ('EPERM' when there is no target). */
  signalMsi(addressLo: number, addressHi: number, data: number): number | Errno;
  /** KVM_CREATE_PIT2 (flags 0): an in-kernel i8254 PIT, which also drives KVM's NMI watchdog. */
  createPit2(): Errno | null;
  /** KVM_REINJECT_CONTROL: whether the PIT holds back ticks until the guest acknowledged IRQ0. */
  setPitReinject(on: boolean): Errno | null;
  /** KVM_GET_PIT2 / KVM_SET_PIT2: struct kvm_pit_state2 as bytes (SET loads each channel's count). */
  getPit2(): Uint8Array;
  setPit2(state: Uint8Array): Errno | null;
  /** KVM_GET_IRQCHIP / KVM_SET_IRQCHIP: struct kvm_irqchip as bytes (chip 0 PIC master, 1 slave, 2 IOAPIC). */
  getIrqchip(chipId: number): Uint8Array;
  setIrqchip(chip: Uint8Array): Errno | null;
  /** Closes every vCPU of this VM that is still open, then the VM. */
  close(): void;
}

export interface KvmVcpu {
  readonly id: number;
  readonly fd: number;
  /** KVM_SET_CPUID2 with a minimal CPUID (see minimalCpuid in ./structs.ts). */
  setCpuid(opts: MinimalCpuidOptions): Errno | null;
  /** KVM_SET_CPUID2 with the given entries. */
  setCpuidEntries(entries: readonly CpuidEntry[]): Errno | null;
  /** KVM_GET_MSRS for one MSR; null when the kernel refused it (ioctl returned 0 entries). */
  getMsr(index: number): bigint | null;
  /** KVM_SET_MSRS for one MSR; false when the kernel refused it (ioctl returned 0, not an errno). */
  setMsr(index: number, value: bigint): boolean;
  /** KVM_GET_LAPIC: a fresh copy of the 1024-byte register page. */
  getLapic(): Uint8Array;
  /** KVM_SET_LAPIC with a 1024-byte image. */
  setLapic(image: Uint8Array): Errno | null;
  /** KVM_GET_MP_STATE (note: the kernel first processes pending INIT/SIPI, so this can change state). */
  getMpState(): number;
  /** KVM_SET_MP_STATE. */
  setMpState(state: number): Errno | null;
  /** KVM_GET_VCPU_EVENTS decoded. */
  getVcpuEvents(): VcpuEvents;
  /** KVM_GET_TSC_KHZ: the guest TSC rate (kHz) this vCPU's TSC-deadline values are in. */
  getTscKhz(): number;
  /** The shared kvm_run page (mapped on first use): exit reason and I/O data of the last KVM_RUN. */
  runPage(): Uint8Array;
  /** KVM_RUN; on a vCPU thread, throws VcpuThreadTimeout if it has not returned after `timeoutMs`. */
  run(timeoutMs?: number): Errno | null;
  /** KVM_GET_REGS. */
  getRegs(): GuestRegs;
  /** CS from KVM_GET_SREGS. */
  getCs(): { base: bigint; selector: number };
  /** struct kvm_regs and struct kvm_sregs as bytes (KVM_GET_REGS, KVM_GET_SREGS), to put back later. */
  getCpuState(): { regs: Uint8Array; sregs: Uint8Array };
  /** KVM_SET_SREGS (which also writes CR8 into TPR and APICBASE: see kvmBackend's use), then KVM_SET_REGS. */
  setCpuState(state: { regs: Uint8Array; sregs: Uint8Array }): Errno | null;
  close(): void;
}

// ------------------------------------------------------------------ implementation

function must(op: string, r: SysResult): number {
  if (!r.ok) throw new KvmIoctlError(op, r.errno);
  return r.ret;
}

abstract class FdHandle {
  private closed = false;
  constructor(
    protected readonly libc: Libc,
    readonly fd: number,
    private readonly what: string,
  ) {}
  protected live(): number {
    if (this.closed) throw new Error(`${this.what} is closed`);
    return this.fd;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  protected closeFd(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}

class KvmSystemImpl extends FdHandle implements KvmSystem {
  readonly kernelRelease = release();
  private readonly vms = new Set<KvmVmImpl>();
  private supportedCpuid: CpuidEntry[] | undefined;

  constructor(
    libc: Libc,
    fd: number,
    readonly apiVersion: number,
  ) {
    super(libc, fd, '/dev/kvm');
  }

  createVm(): KvmVm {
    const vmfd = must('KVM_CREATE_VM', this.libc.ioctlInt(this.live(), KVM_CREATE_VM, 0));
    const vm: KvmVmImpl = new KvmVmImpl(this.libc, vmfd, this, () => this.vms.delete(vm));
    this.vms.add(vm);
    return vm;
  }

  checkExtension(cap: number): number {
    return must('KVM_CHECK_EXTENSION', this.libc.ioctlInt(this.live(), KVM_CHECK_EXTENSION, cap));
  }

  private mmapSize: number | undefined;
  /** KVM_GET_VCPU_MMAP_SIZE: the size of a vCPU's kvm_run mapping. */
  vcpuMmapSize(): number {
    return (this.mmapSize ??= must('KVM_GET_VCPU_MMAP_SIZE', this.libc.ioctl(this.live(), KVM_GET_VCPU_MMAP_SIZE)));
  }

  getSupportedCpuid(): CpuidEntry[] {
    if (!this.supportedCpuid) {
      for (let capacity = 128; ; capacity *= 2) {
        const buf = encodeCpuid2([], capacity);
        const r = this.libc.ioctlPtr(this.live(), KVM_GET_SUPPORTED_CPUID, buf);
        if (!r.ok && r.errno === 'E2BIG' && capacity < 4096) continue;
        must('KVM_GET_SUPPORTED_CPUID', r);
        this.supportedCpuid = decodeCpuid2(buf);
        break;
      }
    }
    return this.supportedCpuid.map((e) => ({ ...e }));
  }

  close(): void {
    for (const vm of [...this.vms]) vm.close();
    this.closeFd();
  }
}

class KvmVmImpl extends FdHandle implements KvmVm {
  private readonly vcpus = new Set<KvmVcpuImpl>();
  private readonly mappings: Mapping[] = [];

  constructor(
    libc: Libc,
    fd: number,
    private readonly system: KvmSystemImpl,
    private readonly onClose: () => void,
  ) {
    super(libc, fd, 'KVM VM');
  }

  createIrqchip(): void {
    must('KVM_CREATE_IRQCHIP', this.libc.ioctl(this.live(), KVM_CREATE_IRQCHIP));
  }

  setBootCpuId(id: number): Errno | null {
    const r = this.libc.ioctlInt(this.live(), KVM_SET_BOOT_CPU_ID, id);
    return r.ok ? null : r.errno;
  }

  createVcpu(id: number, opts: { thread?: boolean } = {}): KvmVcpu | Errno {
    const r = this.libc.ioctlInt(this.live(), KVM_CREATE_VCPU, id);
    if (!r.ok) return r.errno;
    const libc = opts.thread ? new VcpuThread(`CPU ${id}/KVM`) : this.libc;
    const vcpu: KvmVcpuImpl = new KvmVcpuImpl(libc, r.ret, id, this.system, () => this.vcpus.delete(vcpu));
    this.vcpus.add(vcpu);
    return vcpu;
  }

  addMemory(slot: number, guestPhysAddr: number, size: number): Mapping {
    const m = mapMemory(size);
    this.mappings.push(m);
    must('KVM_SET_USER_MEMORY_REGION', this.libc.ioctlPtr(this.live(), KVM_SET_USER_MEMORY_REGION, encodeMemoryRegion(slot, BigInt(guestPhysAddr), BigInt(size), m.addr)));
    return m;
  }

  setTssAddr(addr: number): void {
    must('KVM_SET_TSS_ADDR', this.libc.ioctlInt(this.live(), KVM_SET_TSS_ADDR, addr));
  }

  checkExtension(cap: number): number {
    return must('KVM_CHECK_EXTENSION(vm)', this.libc.ioctlInt(this.live(), KVM_CHECK_EXTENSION, cap));
  }

  enableCap(cap: number, args0: bigint): Errno | null {
    const r = this.libc.ioctlPtr(this.live(), KVM_ENABLE_CAP, encodeEnableCap(cap, [args0]));
    return r.ok ? null : r.errno;
  }

  signalMsi(addressLo: number, addressHi: number, data: number): number | Errno {
    const r = this.libc.ioctlPtr(this.live(), KVM_SIGNAL_MSI, encodeMsi(addressLo >>> 0, addressHi >>> 0, data >>> 0));
    return r.ok ? r.ret : r.errno;
  }

  createPit2(): Errno | null {
    const r = this.libc.ioctlPtr(this.live(), KVM_CREATE_PIT2, new Uint8Array(SIZEOF_KVM_PIT_CONFIG));
    return r.ok ? null : r.errno;
  }

  setPitReinject(on: boolean): Errno | null {
    const arg = new Uint8Array(SIZEOF_KVM_REINJECT_CONTROL);
    arg[0] = on ? 1 : 0;
    const r = this.libc.ioctlPtr(this.live(), KVM_REINJECT_CONTROL, arg);
    return r.ok ? null : r.errno;
  }

  getPit2(): Uint8Array {
    const buf = new Uint8Array(SIZEOF_KVM_PIT_STATE2);
    must('KVM_GET_PIT2', this.libc.ioctlPtr(this.live(), KVM_GET_PIT2, buf));
    return buf;
  }

  setPit2(state: Uint8Array): Errno | null {
    if (state.byteLength !== SIZEOF_KVM_PIT_STATE2) throw new RangeError(`kvm_pit_state2 is ${SIZEOF_KVM_PIT_STATE2} bytes`);
    const r = this.libc.ioctlPtr(this.live(), KVM_SET_PIT2, state.slice());
    return r.ok ? null : r.errno;
  }

  getIrqchip(chipId: number): Uint8Array {
    const buf = new Uint8Array(SIZEOF_KVM_IRQCHIP);
    new DataView(buf.buffer).setUint32(0, chipId, true);
    must('KVM_GET_IRQCHIP', this.libc.ioctlPtr(this.live(), KVM_GET_IRQCHIP, buf));
    return buf;
  }

  setIrqchip(chip: Uint8Array): Errno | null {
    if (chip.byteLength !== SIZEOF_KVM_IRQCHIP) throw new RangeError(`kvm_irqchip is ${SIZEOF_KVM_IRQCHIP} bytes`);
    const r = this.libc.ioctlPtr(this.live(), KVM_SET_IRQCHIP, chip.slice());
    return r.ok ? null : r.errno;
  }

  close(): void {
    for (const v of [...this.vcpus]) v.close();
    if (!this.isClosed) this.onClose();
    this.closeFd();
    for (const m of this.mappings.splice(0)) m.unmap();
  }
}

class KvmVcpuImpl extends FdHandle implements KvmVcpu {
  constructor(
    libc: Libc,
    fd: number,
    readonly id: number,
    private readonly system: KvmSystemImpl,
    private readonly onClose: () => void,
  ) {
    super(libc, fd, `KVM vCPU ${id}`);
  }

  setCpuid(opts: MinimalCpuidOptions): Errno | null {
    let host: CpuidEntry[] = [];
    try {
      host = this.system.getSupportedCpuid();
    } catch {
      // vendor / family fields stay zero
    }
    return this.setCpuidEntries(minimalCpuid(opts, this.id, host));
  }

  setCpuidEntries(entries: readonly CpuidEntry[]): Errno | null {
    const r = this.libc.ioctlPtr(this.live(), KVM_SET_CPUID2, encodeCpuid2(entries));
    return r.ok ? null : r.errno;
  }

  getMsr(index: number): bigint | null {
    const buf = encodeMsrs([{ index }]);
    const n = must('KVM_GET_MSRS', this.libc.ioctlPtr(this.live(), KVM_GET_MSRS, buf));
    return n === 1 ? decodeMsrs(buf, 1)[0].data : null;
  }

  setMsr(index: number, value: bigint): boolean {
    const n = must('KVM_SET_MSRS', this.libc.ioctlPtr(this.live(), KVM_SET_MSRS, encodeMsrs([{ index, data: value }])));
    return n === 1;
  }

  getLapic(): Uint8Array {
    const buf = new Uint8Array(SIZEOF_KVM_LAPIC_STATE);
    must('KVM_GET_LAPIC', this.libc.ioctlPtr(this.live(), KVM_GET_LAPIC, buf));
    return buf;
  }

  setLapic(image: Uint8Array): Errno | null {
    if (image.byteLength !== SIZEOF_KVM_LAPIC_STATE) {
      throw new RangeError(`LAPIC image must be ${SIZEOF_KVM_LAPIC_STATE} bytes, got ${image.byteLength}`);
    }
    const r = this.libc.ioctlPtr(this.live(), KVM_SET_LAPIC, image.slice());
    return r.ok ? null : r.errno;
  }

  getMpState(): number {
    const buf = new Uint8Array(SIZEOF_KVM_MP_STATE);
    must('KVM_GET_MP_STATE', this.libc.ioctlPtr(this.live(), KVM_GET_MP_STATE, buf));
    return decodeMpState(buf);
  }

  setMpState(state: number): Errno | null {
    const r = this.libc.ioctlPtr(this.live(), KVM_SET_MP_STATE, encodeMpState(state));
    return r.ok ? null : r.errno;
  }

  getVcpuEvents(): VcpuEvents {
    const buf = new Uint8Array(SIZEOF_KVM_VCPU_EVENTS);
    must('KVM_GET_VCPU_EVENTS', this.libc.ioctlPtr(this.live(), KVM_GET_VCPU_EVENTS, buf));
    return decodeVcpuEvents(buf);
  }

  getTscKhz(): number {
    return must('KVM_GET_TSC_KHZ', this.libc.ioctl(this.live(), KVM_GET_TSC_KHZ));
  }

  private runMapping: Mapping | undefined;
  runPage(): Uint8Array {
    return (this.runMapping ??= mapMemory(this.system.vcpuMmapSize(), this.live())).bytes;
  }

  run(timeoutMs = 10_000): Errno | null {
    this.runPage();
    const r = this.libc instanceof VcpuThread ? this.libc.ioctlWithTimeout(this.live(), KVM_RUN, timeoutMs) : this.libc.ioctl(this.live(), KVM_RUN);
    return r.ok ? null : r.errno;
  }

  getRegs(): GuestRegs {
    const buf = new Uint8Array(SIZEOF_KVM_REGS);
    must('KVM_GET_REGS', this.libc.ioctlPtr(this.live(), KVM_GET_REGS, buf));
    return decodeRegs(buf);
  }

  getCs(): { base: bigint; selector: number } {
    const buf = new Uint8Array(SIZEOF_KVM_SREGS);
    must('KVM_GET_SREGS', this.libc.ioctlPtr(this.live(), KVM_GET_SREGS, buf));
    return decodeSregsCs(buf);
  }

  getCpuState(): { regs: Uint8Array; sregs: Uint8Array } {
    const regs = new Uint8Array(SIZEOF_KVM_REGS);
    must('KVM_GET_REGS', this.libc.ioctlPtr(this.live(), KVM_GET_REGS, regs));
    const sregs = new Uint8Array(SIZEOF_KVM_SREGS);
    must('KVM_GET_SREGS', this.libc.ioctlPtr(this.live(), KVM_GET_SREGS, sregs));
    return { regs, sregs };
  }

  setCpuState(state: { regs: Uint8Array; sregs: Uint8Array }): Errno | null {
    // Segments first: KVM_SET_SREGS makes a BSP found at the reset vector RUNNABLE (__set_sregs),
    // which it cannot be yet while RIP is still elsewhere.
    const s = this.libc.ioctlPtr(this.live(), KVM_SET_SREGS, state.sregs.slice());
    if (!s.ok) return s.errno;
    const r = this.libc.ioctlPtr(this.live(), KVM_SET_REGS, state.regs.slice());
    return r.ok ? null : r.errno;
  }

  close(): void {
    if (!this.isClosed) this.onClose();
    this.closeFd();
    this.runMapping?.unmap();
  }
}
