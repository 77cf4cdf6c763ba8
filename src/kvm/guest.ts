/**
 * Guest code on the real kernel: sets up the guest program of guestCode.ts in a VM's memory and
 * runs one guest access on a vCPU with KVM_RUN, answering the program's port I/O, until the vCPU
 * asks for its next command. Node only.
 *
 * What a step sees is the kernel's: KVM_RUN enters the guest (processing INIT/SIPI, injecting NMIs
 * and, with IF set, interrupts), and the access itself goes through KVM's instruction emulator
 * into lapic.c (MMIO) or the MSR handlers (WRMSR/RDMSR, #GP as a guest exception).
 */
import {
  bootIdtArea, gdt, lowMemory, LOW_RAM_SIZE, GDT_ADDR, PM_ENTRY, PORT_ACK, PORT_CMD, PORT_STARTED, PORT_WHOAMI,
  protectedModeEntry, RAM_SIZE, region, regionBase, RESET_SLOT_BASE, RESET_SLOT_SIZE, resetSlot, snippet, snippetAddress,
  takenAt, eventMeaning, BOOT_IDT, type GuestAccess,
} from './guestCode';
import type { KvmVcpu, KvmVm } from './kvmIoctl';
import { answerIoIn, answerMmioRead, decodeRunExit } from './structs';

/** What one guest step did on the kernel. */
export interface GuestOutcome {
  /** EDX:EAX after RDMSR, EAX after an MMIO read. */
  value?: bigint;
  /** An exception the access raised (13 = #GP). */
  fault?: number;
  /** The interrupt vector the vCPU took in `ack`. */
  interrupt?: number;
  /** Events taken before the access ran (when KVM_RUN entered the guest, or inside the snippet before the access instruction): an NMI is vector 2. */
  takenAtEntry: number[];
  /**
   * Events the guest took during the step after its access (for `ack`: after its snippet returned):
   * the kernel entered the guest again mid-step, which this backend does only when the host
   * preempts the vCPU thread (KVM then injects at the next vcpu_enter_guest; otherwise only at
   * the next KVM_RUN).
   */
  takenAfterAccess: number[];
  /** The access reached no in-kernel device: KVM exited to userspace with KVM_EXIT_MMIO. */
  unclaimed?: { gpa: bigint; write: boolean };
  /** Real-mode starts seen (RESET/INIT at the reset vector, or a SIPI's page): CS selector and base. */
  started: { selector: number; base: bigint }[];
}

/** The guest did something the program does not expect (a triple fault, an unexpected exit). */
export class GuestError extends Error {}

const MAX_EXITS = 64;

/** The guest program's fixed parts, built once per process (every VM gets a copy). */
let IMAGES: Record<'low' | 'gdt' | 'entry' | 'bootIdt' | 'reset', Uint8Array> | undefined;

export class GuestMachine {
  constructor(vm: KvmVm) {
    const ram = vm.addMemory(0, 0, RAM_SIZE).bytes;
    const img = (IMAGES ??= { low: lowMemory(), gdt: gdt(), entry: protectedModeEntry(), bootIdt: bootIdtArea(), reset: resetSlot() });
    ram.set(img.low.subarray(0, LOW_RAM_SIZE), 0);
    ram.set(img.gdt, GDT_ADDR);
    ram.set(img.entry, PM_ENTRY);
    ram.set(img.bootIdt, BOOT_IDT);
    vm.addMemory(1, RESET_SLOT_BASE, RESET_SLOT_SIZE).bytes.set(img.reset);
    vm.setTssAddr(0xfffbd000);
    this.ram = ram;
  }
  private readonly ram: Uint8Array;

  /** Writes the vCPU's region (loop, IDT, handlers). */
  addVcpu(id: number): void {
    this.ram.set(region(id), regionBase(id));
  }

  /** Runs `access` on `v` (which must be RUNNABLE: KVM_RUN would block otherwise). */
  perform(v: KvmVcpu, access: GuestAccess): GuestOutcome {
    const id = v.id;
    const page = v.runPage();
    const addr = snippetAddress(id);
    this.ram.set(snippet(access), addr);
    const out: GuestOutcome = { takenAtEntry: [], takenAfterAccess: [], started: [] };
    // Between steps a vCPU rests at its loop's `call eax`, EAX = its snippet's address (settle());
    // if INIT or SIPI restarted it meanwhile, the stub's `out 0x13` comes first and clears `given`.
    let given = this.settled.has(id);
    for (let exits = 0; exits < MAX_EXITS; exits++) {
      const err = v.run();
      if (err === 'EAGAIN' || err === 'EINTR') continue; // an AP's first run after INIT/SIPI
      if (err) throw new GuestError(`vCPU ${id}: KVM_RUN failed with ${err}`);
      const exit = decodeRunExit(page);
      if (exit.reason === 'io' && exit.in && exit.port === PORT_WHOAMI) {
        answerIoIn(page, exit.dataOffset, regionBase(id));
      } else if (exit.reason === 'io' && !exit.in && exit.port === PORT_STARTED) {
        // RESET, INIT or SIPI restarted the vCPU: it runs the stub to its loop, then gets the snippet.
        out.started.push(v.getCs());
        given = false;
      } else if (exit.reason === 'io' && !exit.in && exit.port === PORT_ACK) {
        // IF is set now: the next entry injects the highest pending interrupt.
      } else if (exit.reason === 'io' && exit.in && exit.port === PORT_CMD) {
        if (!given) {
          answerIoIn(page, exit.dataOffset, addr); // the vCPU (re)started and reached its loop
          given = true;
          continue;
        }
        const r = v.getRegs();
        this.settle(v, exit.dataOffset);
        // What the access read stays in EAX/EDX: an event's handler on the way back here keeps them.
        const done = () => {
          if (access.kind === 'rdmsr') out.value = (BigInt(r.rdx) << 32n) | BigInt(r.rax);
          if (access.kind === 'mmio_read' && !out.unclaimed) out.value = BigInt(r.rax);
          return out;
        };
        if (r.rsi === 0xffffffff) return done();
        const at = takenAt(id, r.rdi, this.savedEip(r.rdi));
        if (!at) throw new GuestError(`vCPU ${id}: took vector ${r.rsi} with an unexpected stack (ESP ${r.rdi.toString(16)}, EIP ${this.savedEip(r.rdi).toString(16)})`);
        switch (eventMeaning(access, at)) {
          case 'interrupt':
            out.interrupt = r.rsi;
            return out;
          case 'fault':
            out.fault = r.rsi;
            return out;
          case 'after-access':
            out.takenAfterAccess.push(r.rsi);
            return done();
          case 'before-access':
            // The access has not run (its snippet's moves only set registers): settled, the next entry calls the snippet again.
            out.takenAtEntry.push(r.rsi);
        }
      } else if (exit.reason === 'mmio') {
        out.unclaimed = { gpa: exit.gpa, write: exit.write };
        if (!exit.write) answerMmioRead(page, 0n);
      } else {
        const what = exit.reason === 'io' ? `port ${exit.in ? 'in' : 'out'} 0x${exit.port.toString(16)}` : `exit reason ${exit.code}`;
        throw new GuestError(`vCPU ${id}: unexpected KVM_RUN exit (${what}) at RIP 0x${v.getRegs().rip.toString(16)}`);
      }
    }
    throw new GuestError(`vCPU ${id}: no answer after ${MAX_EXITS} exits`);
  }

  /** The EIP an event saved at `esp` (a handler's EDI): where the vCPU was when it took the event. */
  private savedEip(esp: number): number {
    const b = this.ram;
    return esp >= 0 && esp + 4 <= b.length ? (b[esp] | (b[esp + 1] << 8) | (b[esp + 2] << 16) | (b[esp + 3] << 24)) >>> 0 : -1;
  }

  /** vCPUs resting at `call eax` with no I/O left for KVM to complete. */
  private readonly settled = new Set<number>();

  /**
   * Complete the `in 0x10` now, with KVM_RUN and immediate_exit (KVM completes pending I/O, then
   * returns EINTR without entering the guest): otherwise an INIT or SIPI that KVM_GET_MP_STATE
   * processes before the next KVM_RUN would have that completion applied to the restarted vCPU.
   */
  private settle(v: KvmVcpu, dataOffset: number): void {
    const page = v.runPage();
    answerIoIn(page, dataOffset, snippetAddress(v.id));
    page[1] = 1; // kvm_run.immediate_exit
    const err = v.run();
    page[1] = 0;
    if (err !== 'EINTR') throw new GuestError(`vCPU ${v.id}: KVM_RUN with immediate_exit gave ${err ?? 'success'}, not EINTR`);
    this.settled.add(v.id);
  }
}
