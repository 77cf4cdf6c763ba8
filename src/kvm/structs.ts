/**
 * Byte layouts of the KVM ioctl argument structs used by this layer, encoded and decoded
 * with explicit offsets over plain Uint8Arrays (little-endian, x86-64). Pure code: no FFI.
 *
 * Layouts follow include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h, and were
 * cross-checked with sizeof/offsetof from a C compiler against the uapi headers:
 *   struct kvm_msrs        { u32 nmsrs; u32 pad; struct kvm_msr_entry entries[]; }      header 8
 *   struct kvm_msr_entry   { u32 index; u32 reserved; u64 data; }                       16
 *   struct kvm_cpuid2      { u32 nent; u32 padding; struct kvm_cpuid_entry2 entries[]; } header 8
 *   struct kvm_cpuid_entry2{ u32 function, index, flags, eax, ebx, ecx, edx, padding[3]; } 40
 *   struct kvm_msi         { u32 address_lo, address_hi, data, flags, devid; u8 pad[12]; } 32
 *   struct kvm_enable_cap  { u32 cap; u32 flags; u64 args[4]; u8 pad[64]; }              104
 *   struct kvm_mp_state    { u32 mp_state; }                                             4
 *   struct kvm_lapic_state { char regs[1024]; }                                          1024
 *   struct kvm_vcpu_events (see decodeVcpuEvents)                                         64
 *   struct kvm_userspace_memory_region { u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr; } 32
 *   struct kvm_regs        { u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8-r15, rip, rflags; } 144
 *   struct kvm_sregs       { kvm_segment cs, ds, es, fs, gs, ss, tr, ldt (24 each: u64 base; u32 limit;
 *                            u16 selector; u8 type...); kvm_dtable gdt, idt; u64 cr0...; u64 bitmap[4]; } 312
 *   struct kvm_run         { u8 request_interrupt_window, immediate_exit; u8 pad[6]; u32 exit_reason; ...;
 *                            union at 32: io { u8 direction, size; u16 port; u32 count; u64 data_offset; }
 *                            mmio { u64 phys_addr; u8 data[8]; u32 len; u8 is_write; } }
 */

export const SIZEOF_KVM_MSRS_HEADER = 8;
export const SIZEOF_KVM_MSR_ENTRY = 16;
export const SIZEOF_KVM_CPUID2_HEADER = 8;
export const SIZEOF_KVM_CPUID_ENTRY2 = 40;
export const SIZEOF_KVM_MSI = 32;
export const SIZEOF_KVM_ENABLE_CAP = 104;
export const SIZEOF_KVM_MP_STATE = 4;
export const SIZEOF_KVM_LAPIC_STATE = 1024;
export const SIZEOF_KVM_VCPU_EVENTS = 64;
export const SIZEOF_KVM_USERSPACE_MEMORY_REGION = 32;
export const SIZEOF_KVM_REGS = 144;
export const SIZEOF_KVM_SREGS = 312;

const LE = true;
const view = (buf: Uint8Array): DataView => new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

const u32 = (n: number, what: string): number => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} ${n} is not a u32`);
  return n;
};
const u64 = (n: bigint, what: string): bigint => {
  if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError(`${what} ${n} is not a u64`);
  return n;
};

// ---------------------------------------------------------------- kvm_msrs

export interface MsrEntry {
  index: number;
  data: bigint;
}

/** struct kvm_msrs with `entries.length` entries (data is ignored by KVM_GET_MSRS). */
export function encodeMsrs(entries: readonly { index: number; data?: bigint }[]): Uint8Array {
  const buf = new Uint8Array(SIZEOF_KVM_MSRS_HEADER + entries.length * SIZEOF_KVM_MSR_ENTRY);
  const dv = view(buf);
  dv.setUint32(0, entries.length, LE);
  entries.forEach((e, i) => {
    const off = SIZEOF_KVM_MSRS_HEADER + i * SIZEOF_KVM_MSR_ENTRY;
    dv.setUint32(off, u32(e.index, 'MSR index'), LE);
    dv.setBigUint64(off + 8, u64(e.data ?? 0n, 'MSR value'), LE);
  });
  return buf;
}

/** The first `count` entries of a struct kvm_msrs buffer. */
export function decodeMsrs(buf: Uint8Array, count: number): MsrEntry[] {
  const dv = view(buf);
  const out: MsrEntry[] = [];
  for (let i = 0; i < count; i++) {
    const off = SIZEOF_KVM_MSRS_HEADER + i * SIZEOF_KVM_MSR_ENTRY;
    out.push({ index: dv.getUint32(off, LE), data: dv.getBigUint64(off + 8, LE) });
  }
  return out;
}

// ---------------------------------------------------------------- kvm_cpuid2

export interface CpuidEntry {
  function: number;
  index: number;
  /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 (sic, kernel spelling) etc. */
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

/** struct kvm_cpuid2 holding `entries`, with room for `capacity` entries (nent = capacity). */
export function encodeCpuid2(entries: readonly CpuidEntry[], capacity = entries.length): Uint8Array {
  if (capacity < entries.length) throw new RangeError('capacity smaller than entry count');
  const buf = new Uint8Array(SIZEOF_KVM_CPUID2_HEADER + capacity * SIZEOF_KVM_CPUID_ENTRY2);
  const dv = view(buf);
  dv.setUint32(0, capacity, LE);
  entries.forEach((e, i) => {
    const off = SIZEOF_KVM_CPUID2_HEADER + i * SIZEOF_KVM_CPUID_ENTRY2;
    dv.setUint32(off + 0, u32(e.function, 'cpuid function'), LE);
    dv.setUint32(off + 4, u32(e.index, 'cpuid index'), LE);
    dv.setUint32(off + 8, u32(e.flags, 'cpuid flags'), LE);
    dv.setUint32(off + 12, u32(e.eax >>> 0, 'eax'), LE);
    dv.setUint32(off + 16, u32(e.ebx >>> 0, 'ebx'), LE);
    dv.setUint32(off + 20, u32(e.ecx >>> 0, 'ecx'), LE);
    dv.setUint32(off + 24, u32(e.edx >>> 0, 'edx'), LE);
  });
  return buf;
}

/** Entries of a struct kvm_cpuid2 buffer (count taken from its nent field). */
export function decodeCpuid2(buf: Uint8Array): CpuidEntry[] {
  const dv = view(buf);
  const nent = dv.getUint32(0, LE);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < nent; i++) {
    const off = SIZEOF_KVM_CPUID2_HEADER + i * SIZEOF_KVM_CPUID_ENTRY2;
    if (off + SIZEOF_KVM_CPUID_ENTRY2 > buf.byteLength) break;
    out.push({
      function: dv.getUint32(off + 0, LE),
      index: dv.getUint32(off + 4, LE),
      flags: dv.getUint32(off + 8, LE),
      eax: dv.getUint32(off + 12, LE),
      ebx: dv.getUint32(off + 16, LE),
      ecx: dv.getUint32(off + 20, LE),
      edx: dv.getUint32(off + 24, LE),
    });
  }
  return out;
}

export interface MinimalCpuidOptions {
  /** Advertise x2APIC (leaf 1 ECX bit 21); KVM refuses APICBASE.EXTD without it. */
  x2apic: boolean;
  /** Guest MAXPHYADDR (leaf 0x80000008 EAX[7:0]); KVM derives APICBASE reserved bits from it. */
  maxPhyAddr: number;
  /** Advertise the TSC-deadline timer (leaf 1 ECX bit 24): widens the LVT timer mode mask. */
  tscDeadline?: boolean;
}

/**
 * A minimal guest CPUID: leaf 0 (max basic leaf 1), leaf 1 (APIC EDX[9], x2APIC ECX[21] if asked,
 * initial APIC ID EBX[31:24]), leaf 0x80000000 (max extended leaf 0x80000008) and leaf 0x80000008
 * (EAX[7:0] = maxPhyAddr, EAX[15:8] = 48 virtual address bits: KVM rejects anything but 0/48/57).
 * Vendor string and leaf 1 EAX (family/model/stepping) are copied from `host` (the entries of
 * KVM_GET_SUPPORTED_CPUID) when given, so vendor-dependent KVM paths match the host.
 */
export function minimalCpuid(opts: MinimalCpuidOptions, vcpuId: number, host: readonly CpuidEntry[] = []): CpuidEntry[] {
  if (!Number.isInteger(opts.maxPhyAddr) || opts.maxPhyAddr < 32 || opts.maxPhyAddr > 52) {
    throw new RangeError(`maxPhyAddr ${opts.maxPhyAddr} outside 32..52`);
  }
  const find = (fn: number): CpuidEntry | undefined => host.find((e) => e.function === fn && e.index === 0);
  const h0 = find(0);
  const h1 = find(1);
  const h80 = find(0x80000000);
  const entry = (fn: number, regs: Partial<CpuidEntry>): CpuidEntry => ({
    function: fn, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0, ...regs,
  });
  return [
    entry(0, { eax: 1, ebx: h0?.ebx ?? 0, ecx: h0?.ecx ?? 0, edx: h0?.edx ?? 0 }),
    entry(1, {
      eax: h1?.eax ?? 0,
      ebx: ((vcpuId & 0xff) << 24) >>> 0,
      ecx: ((opts.x2apic ? 1 << 21 : 0) | (opts.tscDeadline ? 1 << 24 : 0)) >>> 0,
      edx: 1 << 9,
    }),
    entry(0x80000000, { eax: 0x80000008, ebx: h80?.ebx ?? 0, ecx: h80?.ecx ?? 0, edx: h80?.edx ?? 0 }),
    entry(0x80000008, { eax: (48 << 8) | opts.maxPhyAddr }),
  ];
}

// ---------------------------------------------------------------- kvm_msi / kvm_enable_cap / mp_state

export function encodeMsi(addressLo: number, addressHi: number, data: number, flags = 0, devid = 0): Uint8Array {
  const buf = new Uint8Array(SIZEOF_KVM_MSI);
  const dv = view(buf);
  dv.setUint32(0, u32(addressLo, 'address_lo'), LE);
  dv.setUint32(4, u32(addressHi, 'address_hi'), LE);
  dv.setUint32(8, u32(data, 'data'), LE);
  dv.setUint32(12, u32(flags, 'flags'), LE);
  dv.setUint32(16, u32(devid, 'devid'), LE);
  return buf;
}

export function encodeEnableCap(cap: number, args: readonly bigint[] = [], flags = 0): Uint8Array {
  if (args.length > 4) throw new RangeError('kvm_enable_cap has 4 args');
  const buf = new Uint8Array(SIZEOF_KVM_ENABLE_CAP);
  const dv = view(buf);
  dv.setUint32(0, u32(cap, 'cap'), LE);
  dv.setUint32(4, u32(flags, 'flags'), LE);
  args.forEach((a, i) => dv.setBigUint64(8 + 8 * i, u64(a, `args[${i}]`), LE));
  return buf;
}

export function encodeMpState(state: number): Uint8Array {
  const buf = new Uint8Array(SIZEOF_KVM_MP_STATE);
  view(buf).setUint32(0, u32(state, 'mp_state'), LE);
  return buf;
}
export const decodeMpState = (buf: Uint8Array): number => view(buf).getUint32(0, LE);

// ---------------------------------------------------------------- kvm_vcpu_events

/** Decoded struct kvm_vcpu_events (u8 flags are exposed as numbers, as the kernel stores them). */
export interface VcpuEvents {
  exception: { injected: number; nr: number; hasErrorCode: number; pending: number; errorCode: number };
  interrupt: { injected: number; nr: number; soft: number; shadow: number };
  nmi: { injected: number; pending: number; masked: number };
  sipiVector: number;
  /** KVM_VCPUEVENT_VALID_* bits telling which optional fields are meaningful. */
  flags: number;
  smi: { smm: number; pending: number; smmInsideNmi: number; latchedInit: number };
  tripleFault: { pending: number };
  exceptionHasPayload: number;
  exceptionPayload: bigint;
}
export const KVM_VCPUEVENT_VALID_NMI_PENDING = 0x01;
export const KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x02;
export const KVM_VCPUEVENT_VALID_SHADOW = 0x04;
export const KVM_VCPUEVENT_VALID_SMM = 0x08;
export const KVM_VCPUEVENT_VALID_PAYLOAD = 0x10;
export const KVM_VCPUEVENT_VALID_TRIPLE_FAULT = 0x20;

/**
 * Offsets: exception{injected 0, nr 1, has_error_code 2, pending 3, error_code u32 4},
 * interrupt{injected 8, nr 9, soft 10, shadow 11}, nmi{injected 12, pending 13, masked 14, pad 15},
 * sipi_vector u32 16, flags u32 20, smi{smm 24, pending 25, smm_inside_nmi 26, latched_init 27},
 * triple_fault{pending 28}, reserved[26] 29, exception_has_payload 55, exception_payload u64 56.
 */
export function decodeVcpuEvents(buf: Uint8Array): VcpuEvents {
  if (buf.byteLength < SIZEOF_KVM_VCPU_EVENTS) throw new RangeError('short kvm_vcpu_events');
  const dv = view(buf);
  return {
    exception: { injected: buf[0], nr: buf[1], hasErrorCode: buf[2], pending: buf[3], errorCode: dv.getUint32(4, LE) },
    interrupt: { injected: buf[8], nr: buf[9], soft: buf[10], shadow: buf[11] },
    nmi: { injected: buf[12], pending: buf[13], masked: buf[14] },
    sipiVector: dv.getUint32(16, LE),
    flags: dv.getUint32(20, LE),
    smi: { smm: buf[24], pending: buf[25], smmInsideNmi: buf[26], latchedInit: buf[27] },
    tripleFault: { pending: buf[28] },
    exceptionHasPayload: buf[55],
    exceptionPayload: dv.getBigUint64(56, LE),
  };
}

// ---------------------------------------------------------------- kvm_lapic_state helpers

/** 32-bit register at a byte offset of a KVM_GET_LAPIC image (e.g. 0x20 ID, 0x30 LVR). */
export function lapicReg(image: Uint8Array, offset: number): number {
  if (offset < 0 || offset + 4 > image.byteLength || offset % 4 !== 0) throw new RangeError(`bad LAPIC offset ${offset}`);
  return view(image).getUint32(offset, LE);
}

/** Returns a copy of `image` with the 32-bit register at `offset` replaced. */
export function withLapicReg(image: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = image.slice();
  if (offset < 0 || offset + 4 > copy.byteLength || offset % 4 !== 0) throw new RangeError(`bad LAPIC offset ${offset}`);
  view(copy).setUint32(offset, u32(value >>> 0, 'register value'), LE);
  return copy;
}

/** The 64 architectural 32-bit registers of a LAPIC image (offsets 0x000, 0x010, ... 0x3f0). */
export function lapicSlots(image: Uint8Array): { offset: number; value: number }[] {
  const out: { offset: number; value: number }[] = [];
  for (let offset = 0; offset < SIZEOF_KVM_LAPIC_STATE; offset += 0x10) out.push({ offset, value: lapicReg(image, offset) });
  return out;
}

// ---------------------------------------------------------------- guest memory, registers, kvm_run

export function encodeMemoryRegion(slot: number, guestPhysAddr: bigint, size: bigint, userspaceAddr: bigint): Uint8Array {
  const buf = new Uint8Array(SIZEOF_KVM_USERSPACE_MEMORY_REGION);
  const dv = view(buf);
  dv.setUint32(0, u32(slot, 'slot'), LE);
  dv.setBigUint64(8, u64(guestPhysAddr, 'guest_phys_addr'), LE);
  dv.setBigUint64(16, u64(size, 'memory_size'), LE);
  dv.setBigUint64(24, u64(userspaceAddr, 'userspace_addr'), LE);
  return buf;
}

/** The general registers this layer reads (low 32 bits; the guest runs in 32-bit mode). */
export interface GuestRegs {
  rax: number;
  rcx: number;
  rdx: number;
  rsi: number;
  rdi: number;
  rip: number;
}

export function decodeRegs(buf: Uint8Array): GuestRegs {
  const dv = view(buf);
  const r = (i: number) => dv.getUint32(i * 8, LE);
  return { rax: r(0), rcx: r(2), rdx: r(3), rsi: r(4), rdi: r(5), rip: r(16) };
}

/** CS of struct kvm_sregs: where a real-mode start (SIPI, RESET, INIT) put the vCPU. */
export function decodeSregsCs(buf: Uint8Array): { base: bigint; selector: number } {
  const dv = view(buf);
  return { base: dv.getBigUint64(0, LE), selector: dv.getUint16(12, LE) };
}

export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_IO_IN = 0;

export type RunExit =
  | { reason: 'io'; in: boolean; size: number; port: number; dataOffset: number }
  | { reason: 'mmio'; write: boolean; gpa: bigint; len: number }
  | { reason: 'other'; code: number };

/** The exit that KVM_RUN reported in the shared kvm_run page. */
export function decodeRunExit(run: Uint8Array): RunExit {
  const dv = view(run);
  const code = dv.getUint32(8, LE);
  if (code === KVM_EXIT_IO) return { reason: 'io', in: run[32] === KVM_EXIT_IO_IN, size: run[33], port: dv.getUint16(34, LE), dataOffset: Number(dv.getBigUint64(40, LE)) };
  if (code === KVM_EXIT_MMIO) return { reason: 'mmio', gpa: dv.getBigUint64(32, LE), len: dv.getUint32(48, LE), write: run[52] !== 0 };
  return { reason: 'other', code };
}

/** Fill the data of a KVM_EXIT_IO `in` (completed by the next KVM_RUN). */
export function answerIoIn(run: Uint8Array, dataOffset: number, value: number): void {
  view(run).setUint32(dataOffset, value >>> 0, LE);
}

/** Fill the data of a KVM_EXIT_MMIO read. */
export function answerMmioRead(run: Uint8Array, value: bigint): void {
  view(run).setBigUint64(40, value, LE);
}
