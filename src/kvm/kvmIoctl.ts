/**
 * Node-only FFI layer over /dev/kvm ioctls (x86-64), for replaying LAPIC scenarios on the real
 * kernel. Importing this module never loads koffi; it is loaded (createRequire) on first use by
 * kvmAvailability()/openKvm(), so a machine without koffi or /dev/kvm just gets { ok: false }.
 *
 * Files: ioctlNumbers.ts (_IO/_IOR/_IOW/_IOWR + KVM request numbers, caps, MSRs),
 *        structs.ts (explicit-offset struct encoders/decoders), errno.ts (errno names),
 *        libc.ts (koffi binding of open/close/ioctl), kvmDevice.ts (the handles below).
 *
 * API:
 *   kvmAvailability(): { ok: true } | { ok: false; reason: string }   // one-line reason
 *   openKvm(): Promise<KvmSystem>                                        // throws KvmUnavailable(reason)
 *
 *   KvmSystem { apiVersion; kernelRelease;                               // kernelRelease = os.release()
 *               createVm(): KvmVm; checkExtension(cap): number;
 *               getSupportedCpuid(): CpuidEntry[]; close() }             // close() also closes its VMs
 *   KvmVm     { fd; createIrqchip(): void;                              // KVM_CREATE_IRQCHIP
 *               setBootCpuId(id): Errno | null;                          // before any vCPU, else EBUSY
 *               createVcpu(id): KvmVcpu | Errno;                         // EEXIST, EINVAL...
 *               checkExtension(cap): number;                             // on the VM fd
 *               enableCap(cap, args0: bigint): Errno | null;             // KVM_ENABLE_CAP on the VM fd
 *               signalMsi(addressLo, addressHi, data): number | Errno;   // count accepted, EPERM if none
 *               close() }                                                // also closes its vCPUs
 *   KvmVcpu   { id; fd; setCpuid({ x2apic, maxPhyAddr }): Errno | null; // minimal KVM_SET_CPUID2
 *               setCpuidEntries(entries): Errno | null;
 *               getMsr(index): bigint | null;                            // null = refused (0 entries)
 *               setMsr(index, value: bigint): boolean;                   // false = refused (returned 0)
 *               getLapic(): Uint8Array; setLapic(image): Errno | null;   // 1024-byte register page
 *               getMpState(): number; setMpState(state): Errno | null;
 *               getVcpuEvents(): VcpuEvents; getTscKhz(): number; close() }
 *
 *   KvmVm also: addMemory(slot, gpa, size): Mapping; setTssAddr(addr)      // guest RAM, for guest code
 *   KvmVcpu also: runPage(); run(timeoutMs?); getRegs(); getCs()           // KVM_RUN (guest.ts drives it)
 *   createVcpu(id, { thread: true }): every ioctl of that vCPU on its own host thread "CPU <id>/KVM"
 *
 * Errno is an errno name string ('EINVAL', 'EEXIST', ...; see errno.ts). Calls whose return type
 * has no Errno throw KvmIoctlError on an unexpected kernel failure; using a closed handle throws.
 * All calls are synchronous for the caller (a vCPU thread's calls wait on it, vcpuThread.ts).
 */

export {
  kvmAvailability,
  openKvm,
  KvmUnavailable,
  KvmIoctlError,
  KVM_DEVICE_PATH,
  type KvmAvailability,
  type KvmSystem,
  type KvmVm,
  type KvmVcpu,
} from './kvmDevice';
export { type Errno, errnoName, errnoNumber, isErrno } from './errno';
export {
  type CpuidEntry,
  type MinimalCpuidOptions,
  type VcpuEvents,
  minimalCpuid,
  lapicReg,
  lapicSlots,
  withLapicReg,
} from './structs';
export * from './ioctlNumbers';
