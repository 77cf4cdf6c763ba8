/**
 * ioctl request numbers and capability / MSR constants for /dev/kvm (x86-64 only).
 *
 * Request numbers are computed with the generic Linux `_IO/_IOR/_IOW/_IOWR` encoding
 * (include/uapi/asm-generic/ioctl.h: nr bits 0-7, type bits 8-15, size bits 16-29,
 * direction bits 30-31; _IOC_WRITE = 1, _IOC_READ = 2) from the definitions in
 * include/uapi/linux/kvm.h, with struct sizes from ./structs.ts (which follow
 * arch/x86/include/uapi/asm/kvm.h). Pure code: no FFI, safe to import anywhere.
 */

import {
  SIZEOF_KVM_CPUID2_HEADER,
  SIZEOF_KVM_ENABLE_CAP,
  SIZEOF_KVM_LAPIC_STATE,
  SIZEOF_KVM_MP_STATE,
  SIZEOF_KVM_MSI,
  SIZEOF_KVM_MSRS_HEADER,
  SIZEOF_KVM_VCPU_EVENTS,
  SIZEOF_KVM_REGS,
  SIZEOF_KVM_SREGS,
  SIZEOF_KVM_USERSPACE_MEMORY_REGION,
} from './structs';

const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = 8;
const IOC_SIZESHIFT = 16;
const IOC_DIRSHIFT = 30;
const IOC_SIZEMASK = (1 << 14) - 1;

export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

/** `_IOC(dir, type, nr, size)`; result is an unsigned 32-bit number. */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (!Number.isInteger(size) || size < 0 || size > IOC_SIZEMASK) {
    throw new RangeError(`ioctl size ${size} does not fit in 14 bits`);
  }
  if (type < 0 || type > 0xff || nr < 0 || nr > 0xff || dir < 0 || dir > 3) {
    throw new RangeError(`bad ioctl fields dir=${dir} type=${type} nr=${nr}`);
  }
  return (
    ((dir << IOC_DIRSHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT) | (size << IOC_SIZESHIFT)) >>> 0
  );
}
export const _IO = (type: number, nr: number): number => _IOC(IOC_NONE, type, nr, 0);
export const _IOR = (type: number, nr: number, size: number): number => _IOC(IOC_READ, type, nr, size);
export const _IOW = (type: number, nr: number, size: number): number => _IOC(IOC_WRITE, type, nr, size);
export const _IOWR = (type: number, nr: number, size: number): number =>
  _IOC(IOC_READ | IOC_WRITE, type, nr, size);

export const KVMIO = 0xae;

// --- system ioctls (on the /dev/kvm fd) ---
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, SIZEOF_KVM_CPUID2_HEADER);

// --- VM ioctls ---
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, SIZEOF_KVM_USERSPACE_MEMORY_REGION);
export const KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47);
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_REGS = _IOR(KVMIO, 0x81, SIZEOF_KVM_REGS);
export const KVM_SET_REGS = _IOW(KVMIO, 0x82, SIZEOF_KVM_REGS);
export const KVM_GET_SREGS = _IOR(KVMIO, 0x83, SIZEOF_KVM_SREGS);
export const KVM_SET_SREGS = _IOW(KVMIO, 0x84, SIZEOF_KVM_SREGS);
export const KVM_CREATE_IRQCHIP = _IO(KVMIO, 0x60);
export const KVM_SET_BOOT_CPU_ID = _IO(KVMIO, 0x78);
export const KVM_ENABLE_CAP = _IOW(KVMIO, 0xa3, SIZEOF_KVM_ENABLE_CAP);
export const KVM_SIGNAL_MSI = _IOW(KVMIO, 0xa5, SIZEOF_KVM_MSI);
/** struct kvm_pit_config { u32 flags; u32 pad[15]; } */
export const SIZEOF_KVM_PIT_CONFIG = 64;
/** struct kvm_pit_state2 { struct kvm_pit_channel_state channels[3] (24 each); u32 flags; u32 reserved[9]; } */
export const SIZEOF_KVM_PIT_STATE2 = 112;
/** struct kvm_irqchip { u32 chip_id; u32 pad; union { char dummy[512]; struct kvm_pic_state pic; ... } chip; } */
export const SIZEOF_KVM_IRQCHIP = 520;
/** struct kvm_reinject_control { u8 pit_reinject; u8 reserved[31]; } */
export const SIZEOF_KVM_REINJECT_CONTROL = 32;
export const KVM_GET_IRQCHIP = _IOWR(KVMIO, 0x62, SIZEOF_KVM_IRQCHIP);
export const KVM_SET_IRQCHIP = _IOR(KVMIO, 0x63, SIZEOF_KVM_IRQCHIP);
export const KVM_REINJECT_CONTROL = _IO(KVMIO, 0x71);
export const KVM_CREATE_PIT2 = _IOW(KVMIO, 0x77, SIZEOF_KVM_PIT_CONFIG);
export const KVM_GET_PIT2 = _IOR(KVMIO, 0x9f, SIZEOF_KVM_PIT_STATE2);
export const KVM_SET_PIT2 = _IOW(KVMIO, 0xa0, SIZEOF_KVM_PIT_STATE2);

// --- vCPU ioctls ---
export const KVM_GET_MSRS = _IOWR(KVMIO, 0x88, SIZEOF_KVM_MSRS_HEADER);
export const KVM_SET_MSRS = _IOW(KVMIO, 0x89, SIZEOF_KVM_MSRS_HEADER);
export const KVM_GET_LAPIC = _IOR(KVMIO, 0x8e, SIZEOF_KVM_LAPIC_STATE);
export const KVM_SET_LAPIC = _IOW(KVMIO, 0x8f, SIZEOF_KVM_LAPIC_STATE);
export const KVM_SET_CPUID2 = _IOW(KVMIO, 0x90, SIZEOF_KVM_CPUID2_HEADER);
export const KVM_GET_MP_STATE = _IOR(KVMIO, 0x98, SIZEOF_KVM_MP_STATE);
export const KVM_SET_MP_STATE = _IOW(KVMIO, 0x99, SIZEOF_KVM_MP_STATE);
export const KVM_GET_VCPU_EVENTS = _IOR(KVMIO, 0x9f, SIZEOF_KVM_VCPU_EVENTS);
/** The vCPU's guest TSC rate in kHz (vcpu->arch.virtual_tsc_khz), as the ioctl's return value. */
export const KVM_GET_TSC_KHZ = _IO(KVMIO, 0xa3);

/** Expected API version (KVM_GET_API_VERSION); stable since 2.6.22. */
export const KVM_API_VERSION = 12;

// --- capabilities (KVM_CHECK_EXTENSION / KVM_ENABLE_CAP) ---
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_SET_BOOT_CPU_ID = 34;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_SIGNAL_MSI = 77;
export const KVM_CAP_MAX_VCPU_ID = 128;
export const KVM_CAP_X2APIC_API = 129;

/** KVM_CAP_X2APIC_API flags (args[0] of KVM_ENABLE_CAP). */
export const KVM_X2APIC_API_USE_32BIT_IDS = 1n << 0n;
export const KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK = 1n << 1n;
/** Newer kernels; needs a split irqchip (refused with KVM_CREATE_IRQCHIP's in-kernel IOAPIC). */
export const KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST = 1n << 2n;
export const KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST = 1n << 3n;

// --- mp states ---
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;

// --- MSRs ---
/** The guest TSC (a host KVM_GET_MSRS reads the guest's value: host TSC scaled plus the L1 offset). */
export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_APICBASE = 0x1b;
export const MSR_IA32_APICBASE_BSP = 1n << 8n;
export const MSR_IA32_APICBASE_EXTD = 1n << 10n;
export const MSR_IA32_APICBASE_ENABLE = 1n << 11n;
/** The TSC-deadline timer's deadline (guest TSC cycles). */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
export const X2APIC_MSR_BASE = 0x800;
/** x2APIC MSR index for an xAPIC MMIO register offset (e.g. 0x20 ID -> 0x802, 0x300 ICR -> 0x830). */
export const x2apicMsr = (mmioOffset: number): number => X2APIC_MSR_BASE + (mmioOffset >>> 4);
