/**
 * The guest program the kernel backend runs, as bytes: a real-mode start stub, a flat 32-bit
 * protected-mode entry and, per vCPU, a command loop, an IDT and one handler per vector. Pure code.
 *
 * How it works. Every vCPU starts in real mode, at the reset vector (0xfffffff0, at creation and
 * after INIT) or at a SIPI's page (vector << 12). Each of those places holds the same stub: it
 * reports the start (`out 0x13`), loads the GDT, switches to 32-bit protected mode and asks the
 * host which vCPU it is (`in 0x11`: the host answers with the vCPU's region). The region's loop
 * then asks the host for work (`in 0x10`: the host answers with the address of a snippet it has just
 * written: one guest access, then `ret`), calls it and asks again. The host reads the outcome with
 * KVM_GET_REGS at the next `in 0x10`: EAX/EDX hold what the snippet read; ESI holds the vector of an
 * exception or interrupt the vCPU took (else -1) and EDI the stack pointer at that moment, which
 * tells an interrupt (no error code) from #GP (error code); the EIP the event saved there tells one
 * taken at entry, before the snippet ran, from one taken inside it or after it returned. Handlers
 * never IRET (this backend does not emulate a protected-mode IRET): the loop resets the stack instead, so after an NMI the vCPU blocks NMIs for good (until INIT), which
 * the model assumes too. The guest runs with IF = 0 except inside the `ack` snippet.
 *
 * Guest memory: 0 - 1 MiB the stub at the start of every page (any SIPI vector), 1 MiB the GDT and
 * protected-mode entry, 16 MiB + 16 KiB per vCPU id the regions, and a 64 KiB slot at 0xffff0000
 * for the reset vector. An APIC base inside guest RAM is memory, not MMIO, so such a base cannot be
 * reached by guest MMIO here.
 */

export const PORT_CMD = 0x10;
export const PORT_WHOAMI = 0x11;
export const PORT_ACK = 0x12;
export const PORT_STARTED = 0x13;

export const LOW_RAM_SIZE = 0x100000;
export const GDT_ADDR = 0x100000;
export const PM_ENTRY = 0x100040;
export const BOOT_IDT = 0x100100;
const BOOT_HANDLER = 0x100900;
export const REGIONS_BASE = 0x1000000;
export const REGION_SIZE = 0x4000;
export const MAX_VCPU_ID = 4095;
/** Slot 0: guest RAM from 0 up to the last region. */
export const RAM_SIZE = REGIONS_BASE + (MAX_VCPU_ID + 1) * REGION_SIZE;
/** Slot 1: the reset vector's page (CS base 0xffff0000, IP 0xfff0 after RESET or INIT). */
export const RESET_SLOT_BASE = 0xffff0000;
export const RESET_SLOT_SIZE = 0x10000;

const SNIPPET = 0x100;
const IDTR = 0x400;
const IDT = 0x800;
const HANDLERS = 0x1000;
const SNIPPET_MAX = IDTR - SNIPPET;
const LOOP_ENTRY = 5; // after `mov esi, -1`
/** The loop's `call eax`, and the instructions after it (`jmp loop`, `mov esi`, `mov esp`, `in`). */
export const LOOP_CALL = 0xc;
export const LOOP_AFTER_CALL = [0xe, 0, LOOP_ENTRY, 0xa];
export const STACK_TOP = REGION_SIZE;

const CODE_SEL = 0x08;
const DATA_SEL = 0x10;

const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const le16 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff];

export const regionBase = (vcpuId: number): number => REGIONS_BASE + vcpuId * REGION_SIZE;
export const snippetAddress = (vcpuId: number): number => regionBase(vcpuId) + SNIPPET;

/** Whether a guest physical address is RAM of this guest (so not MMIO). */
export function isGuestRam(gpa: bigint): boolean {
  return gpa < BigInt(RAM_SIZE) || (gpa >= BigInt(RESET_SLOT_BASE) && gpa < BigInt(RESET_SLOT_BASE + RESET_SLOT_SIZE));
}

/**
 * The real-mode stub, at `origin` in its code segment (whatever the segment's base). It loads the
 * boot IDT before entering protected mode: an NMI injected at the next entry (when the `in 0x11`
 * completes, before the vCPU's own IDT is loaded) then goes somewhere sane.
 */
export function realModeStub(origin = 0): Uint8Array {
  const GDTR_AT = origin + 0x30;
  const IDTR_AT = origin + 0x38;
  const FAR_AT = origin + 0x40;
  const code = [
    0xe6, PORT_STARTED, //          out 0x13, al        ; "started here": the host reads CS and IP
    0xfa, //                         cli
    0x2e, 0x66, 0x0f, 0x01, 0x16, ...le16(GDTR_AT), // o32 lgdt cs:[GDTR_AT]
    0x2e, 0x66, 0x0f, 0x01, 0x1e, ...le16(IDTR_AT), // o32 lidt cs:[IDTR_AT]
    0x0f, 0x20, 0xc0, //             mov eax, cr0
    0x66, 0x83, 0xc8, 0x01, //       or eax, 1           ; PE
    0x0f, 0x22, 0xc0, //             mov cr0, eax
    0x2e, 0x66, 0xff, 0x2e, ...le16(FAR_AT), // o32 jmp far cs:[FAR_AT]
  ];
  const out = new Uint8Array(0x48);
  out.set(code);
  out.set([...le16(0x17), ...le32(GDT_ADDR)], 0x30);
  out.set([...le16(256 * 8 - 1), ...le32(BOOT_IDT)], 0x38);
  out.set([...le32(PM_ENTRY), ...le16(CODE_SEL)], 0x40);
  return out;
}

/**
 * Page 0 (SIPI vector 0) also holds the real-mode IVT, so its stub sits at 0x40 behind a short
 * jump. The IVT's NMI entry (an NMI injected at the first entry, still in real mode) points at that
 * stub too: the start goes on and NMIs stay blocked, as after any NMI this guest takes (no IRET).
 */
export function lowMemory(): Uint8Array {
  const mem = new Uint8Array(LOW_RAM_SIZE);
  for (let page = 1; page < 256; page++) mem.set(realModeStub(), page << 12);
  mem.set([0xeb, 0x3e], 0); //       jmp short 0x40
  mem.set([...le16(0x40), 0, 0], 2 * 4); // IVT[2] = 0000:0040
  mem.set(realModeStub(0x40), 0x40);
  return mem;
}

/** The reset vector's slot: the stub at its start, `jmp 0` at 0xfff0 (CS base 0xffff0000). */
export function resetSlot(): Uint8Array {
  const slot = new Uint8Array(RESET_SLOT_SIZE);
  slot.set(realModeStub(), 0);
  slot.set([0xe9, 0x0d, 0x00], 0xfff0); // jmp near 0 (IP wraps at 64 KiB)
  return slot;
}

/** The boot IDT: every vector goes to a handler that finishes the protected-mode entry. */
export function bootIdtArea(): Uint8Array {
  const area = new Uint8Array(BOOT_HANDLER + 16 - BOOT_IDT);
  for (let v = 0; v < 256; v++) area.set([...le16(BOOT_HANDLER & 0xffff), ...le16(CODE_SEL), 0, 0x8e, ...le16(BOOT_HANDLER >>> 16)], v * 8);
  // EAX still holds the region the host gave (the event was taken right after `in eax, 0x11`).
  area.set([0x0f, 0x01, 0x98, ...le32(IDTR), 0xff, 0xe0], BOOT_HANDLER - BOOT_IDT); // lidt [eax + IDTR]; jmp eax
  return area;
}

/** The flat GDT: null, 32-bit code (0x08), 32-bit data (0x10), all base 0 limit 4 GiB. */
export function gdt(): Uint8Array {
  return new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]);
}

/** The protected-mode entry: data segments, then "which vCPU am I" and its IDT and loop. */
export function protectedModeEntry(): Uint8Array {
  return new Uint8Array([
    0x66, 0xb8, ...le16(DATA_SEL), // mov ax, 0x10
    0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0x8e, 0xe0, 0x8e, 0xe8, // mov ds/es/ss/fs/gs, ax
    0xe5, PORT_WHOAMI, //             in eax, 0x11        ; the host answers with this vCPU's region
    0x0f, 0x01, 0x98, ...le32(IDTR), // lidt [eax + IDTR]
    0xff, 0xe0, //                    jmp eax
  ]);
}

/** One vCPU's region: loop, IDTR, IDT and handlers (the snippet and stack areas stay zero). */
export function region(vcpuId: number): Uint8Array {
  const base = regionBase(vcpuId);
  const r = new Uint8Array(REGION_SIZE);
  r.set([
    0xbe, ...le32(0xffffffff), //     loop:  mov esi, -1
    0xbc, ...le32(base + STACK_TOP), // entry: mov esp, top
    0xe5, PORT_CMD, //                       in eax, 0x10  ; the host answers with a snippet's address
    0xff, 0xd0, //                           call eax
    0xeb, 0xf0, //                           jmp loop
  ]);
  r.set([...le16(256 * 8 - 1), ...le32(base + IDT)], IDTR);
  for (let v = 0; v < 256; v++) {
    const h = base + HANDLERS + v * 16;
    // Interrupt gate, present, DPL 0, 32-bit: IF is cleared on entry.
    r.set([...le16(h & 0xffff), ...le16(CODE_SEL), 0, 0x8e, ...le16(h >>> 16)], IDT + v * 8);
    const rel = base + LOOP_ENTRY - (h + 12);
    r.set([0xbe, ...le32(v), 0x89, 0xe7, 0xe9, ...le32(rel >>> 0)], HANDLERS + v * 16); // mov esi, v; mov edi, esp; jmp entry
  }
  return r;
}

/** What a snippet does: one guest access, or letting interrupts in (`ack`), or nothing (`run`). */
export type GuestAccess =
  | { kind: 'mmio_write'; gpa: number; value: number }
  | { kind: 'mmio_read'; gpa: number }
  | { kind: 'wrmsr'; msr: number; value: bigint }
  | { kind: 'rdmsr'; msr: number }
  | { kind: 'ack' }
  | { kind: 'nothing' };

/** The snippet's bytes: the access, then `ret`. */
export function snippet(a: GuestAccess): Uint8Array {
  const movEbx = (n: number) => [0xbb, ...le32(n)];
  const movEax = (n: number) => [0xb8, ...le32(n)];
  const movEcx = (n: number) => [0xb9, ...le32(n)];
  const movEdx = (n: number) => [0xba, ...le32(n)];
  switch (a.kind) {
    case 'mmio_write':
      return new Uint8Array([...movEbx(a.gpa), ...movEax(a.value >>> 0), 0x89, 0x03, 0xc3]); // mov [ebx], eax
    case 'mmio_read':
      return new Uint8Array([...movEbx(a.gpa), 0x8b, 0x03, 0xc3]); // mov eax, [ebx]
    case 'wrmsr':
      return new Uint8Array([...movEcx(a.msr), ...movEax(Number(a.value & 0xffffffffn)), ...movEdx(Number(a.value >> 32n)), 0x0f, 0x30, 0xc3]);
    case 'rdmsr':
      return new Uint8Array([...movEcx(a.msr), 0x0f, 0x32, 0xc3]);
    case 'ack':
      // Interrupts are injected when KVM_RUN enters the guest, so open IF and exit once.
      return new Uint8Array([0xfb, 0xe6, PORT_ACK, 0xfa, 0xc3]); // sti; out 0x12, al; cli; ret
    case 'nothing':
      return new Uint8Array([0xc3]);
  }
}

/**
 * Where the vCPU took an event, from ESP at the handler (EDI) and the EIP the event saved there:
 * - `entry`: at the loop's `call eax`, where a vCPU rests between steps: the snippet was not called;
 * - `snippet`: inside it, before the instruction at `offset` (the access is done once `offset`
 *   reaches accessDone());
 * - `after-snippet`: back in the loop after the snippet's `ret`, on its way to the next `in`;
 * - `snippet-with-error-code`: an exception with an error code (#GP) raised by the access.
 * ESP alone cannot tell `entry` from `after-snippet`: both frames sit on the loop's stack.
 */
export type TakenAt =
  | { at: 'entry' }
  | { at: 'snippet'; offset: number }
  | { at: 'after-snippet' }
  | { at: 'snippet-with-error-code' };

export function takenAt(vcpuId: number, edi: number, savedEip: number): TakenAt | null {
  const base = regionBase(vcpuId);
  const top = base + STACK_TOP;
  if (edi === top - 20) return { at: 'snippet-with-error-code' };
  if (edi === top - 16 && savedEip >= base + SNIPPET && savedEip < base + SNIPPET + SNIPPET_MAX) return { at: 'snippet', offset: savedEip - base - SNIPPET };
  if (edi !== top - 12) return null; // EFLAGS, CS and EIP on the loop's stack
  if (savedEip === base + LOOP_CALL) return { at: 'entry' };
  if (LOOP_AFTER_CALL.includes(savedEip - base)) return { at: 'after-snippet' };
  return null;
}

/** The offset of `a`'s `ret` in its snippet: an event taken there or later came after the access. */
export function accessDone(a: GuestAccess): number {
  return snippet(a).length - 1;
}

/**
 * What an event taken `at` means for a step running `access`: the interrupt an `ack` takes; one
 * taken before the access (at entry, or inside the snippet before the access instruction), after
 * which the snippet runs again; one taken after the access ran; or the access's own fault.
 */
export type EventMeaning = 'interrupt' | 'before-access' | 'after-access' | 'fault';

export function eventMeaning(access: GuestAccess, at: TakenAt): EventMeaning {
  switch (at.at) {
    case 'entry':
      return 'before-access';
    case 'snippet-with-error-code':
      return 'fault';
    case 'after-snippet':
      return 'after-access';
    case 'snippet':
      if (access.kind === 'ack') return 'interrupt';
      return at.offset < accessDone(access) ? 'before-access' : 'after-access';
  }
}
