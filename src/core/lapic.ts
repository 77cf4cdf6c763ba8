/**
 * One vCPU's in-kernel local APIC register page and its read/write rules.
 *
 * Models arch/x86/kvm/lapic.c: kvm_lapic_readable_reg_mask, kvm_lapic_reg_read, __apic_read,
 * kvm_lapic_reg_write, apic_mmio_read / apic_mmio_write, kvm_lapic_msr_read / _write
 * (kvm_x2apic_msr_read / _write), __kvm_x2apic_icr_write, kvm_x2apic_icr_read,
 * apic_set_spiv, apic_update_ppr, apic_set_eoi, apic_update_lvtt, kvm_apic_set_version,
 * kvm_apic_ack_interrupt and kvm_lapic_reset.
 *
 * The timer is timer.ts; kvm_apic_local_deliver (the LVT sources) is here.
 *
 * Inaccuracies (known, deliberate):
 * - EOI does not notify an I/O APIC or Hyper-V SynIC (neither is modelled); PV EOI is absent.
 * - The CPU's interrupt window (RFLAGS.IF, STI shadow) is not modelled: `ack` takes the
 *   highest IRR vector above PPR whenever one exists.
 */
import { ApicTimer } from './timer';
import { LVT_NAMES } from './decisions';
import { acceptIrq } from './delivery';
import { deliveryModeOf, high32, low32 } from './codec';
import { loadImage, newPage, oddWord, pageImage, setOddWord } from './registerPage';
import {
  APIC_ARBPRI, APIC_DFR, APIC_DFR_FLAT, APIC_EOI, APIC_ESR, APIC_ICR, APIC_ICR2, APIC_ICR_BUSY, APIC_ID, APIC_IRR,
  APIC_ISR, APIC_LDR, APIC_LDR_MASK, APIC_LVR, APIC_LVR_DIRECTED_EOI, APIC_LVT0, APIC_LVT1, APIC_LVTCMCI, APIC_LVTERR, APIC_LVT_LEVEL_TRIGGER,
  APIC_LVTPC, APIC_LVTT, APIC_LVTTHMR, APIC_LVT_MASKED, APIC_LVT_TIMER_TSCDEADLINE, APIC_LVT_WRITE_MASK,
  APIC_MODE_EXTINT, APIC_MODE_MASK, APIC_DM_NMI, APIC_PROCPRI, APIC_SELF_IPI, APIC_DEST_SELF, APIC_SPIV,
  APIC_SPIV_APIC_ENABLED, APIC_SPIV_DIRECTED_EOI, APIC_TASKPRI, APIC_TDCR, APIC_TMCCT, APIC_TMICT, APIC_TMR,
  APIC_VECTOR_MASK, APIC_VERSION, KVM_APIC_MAX_NR_LVT_ENTRIES, LAPIC_MMIO_LENGTH, LVT_TIMER,
  X2APIC_ICR_RESERVED_BITS, lvtIndex, lvtOffset,
} from './apicdef';
import type { KvmFunction, RefusalCode } from './decisions';
import { ApicAccessTrace } from './traceFormat';
import type { Vcpu } from './vcpu';

/** APIC_REG_MASK(): one bit per 16-byte slot. */
const regBit = (offset: number): bigint => 1n << BigInt(offset >> 4);
const regsBits = (first: number, count: number): bigint => regBit(first) * ((1n << BigInt(count)) - 1n);

const BASE_READABLE =
  regBit(APIC_ID) | regBit(APIC_LVR) | regBit(APIC_TASKPRI) | regBit(APIC_PROCPRI) | regBit(APIC_LDR) |
  regBit(APIC_SPIV) | regsBits(APIC_ISR, 8) | regsBits(APIC_TMR, 8) | regsBits(APIC_IRR, 8) | regBit(APIC_ESR) |
  regBit(APIC_ICR) | regBit(APIC_LVTT) | regBit(APIC_LVTTHMR) | regBit(APIC_LVTPC) | regBit(APIC_LVT0) |
  regBit(APIC_LVT1) | regBit(APIC_LVTERR) | regBit(APIC_TMICT) | regBit(APIC_TMCCT) | regBit(APIC_TDCR);

/** kvm_lapic_readable_reg_mask() for a mode and LVT count: one bit per readable 16-byte slot. */
export function readableRegMask(x2apic: boolean, nrLvtEntries: number): bigint {
  let mask = BASE_READABLE;
  if (nrLvtEntries > 6) mask |= regBit(APIC_LVTCMCI);
  if (!x2apic) mask |= regBit(APIC_ARBPRI) | regBit(APIC_DFR) | regBit(APIC_ICR2);
  return mask;
}

/** Is `offset` readable in this mode (MMIO read returns data / RDMSR does not #GP)? */
export function slotReadable(offset: number, x2apic: boolean, nrLvtEntries: number): boolean {
  return offset <= 0x3f0 && (readableRegMask(x2apic, nrLvtEntries) & regBit(offset)) !== 0n;
}

/**
 * Does kvm_lapic_reg_write() take a write to `offset` in this mode (in x2APIC mode: no #GP for a
 * value of 0)? A description of the switch below, checked against it by lapic.test.ts.
 */
export function slotWritable(offset: number, x2apic: boolean, nrLvtEntries: number): boolean {
  const lvt = lvtIndex(offset);
  if (lvt >= 0) return lvt < nrLvtEntries;
  switch (offset) {
    case APIC_TASKPRI: case APIC_EOI: case APIC_SPIV: case APIC_ESR: case APIC_ICR: case APIC_TMICT: case APIC_TDCR:
      return true;
    case APIC_ID: case APIC_LDR: case APIC_DFR: case APIC_ICR2:
      return !x2apic;
    case APIC_SELF_IPI:
      return x2apic;
    default:
      return false;
  }
}

/** Result of a 32-bit register write handler: 0 accepted, 1 rejected (#GP in x2APIC, ignored in xAPIC). */
/** 0, or the rule that made kvm_lapic_reg_write() return 1. */
type WriteRet = 0 | RefusalCode;

export class Lapic {
  /** The register page (registerPage.ts): the first word of each 16-byte slot, index offset >> 4. */
  readonly slots: Uint32Array;
  /** The same words in their shared block, from index `pageStart` (registerPage.ts newPage): what the hot paths index. */
  readonly pageBlock: Uint32Array;
  readonly pageStart: number;
  /** The page's other words, as a 1 KiB image, or null while they are all zero (registerPage.ts). */
  odd: Uint32Array | null = null;
  swEnabled = false;
  nrLvtEntries: number;
  /** lapic_timer.timer_mode_mask: bit 17, plus bit 18 when the guest has TSC-deadline. */
  timerModeMask: number;
  timerMode = 0;
  readonly timer: ApicTimer = new ApicTimer(this);
  lvt0InNmiMode = false;
  /** apic->base_address: where the MMIO window decodes. */
  baseAddress = 0;
  /**
   * apic->isr_count and apic->highest_isr_cache: without APICv, KVM finds the highest in-service
   * vector through this cache, which KVM_SET_LAPIC refreshes only after recomputing PPR.
   */
  isrCount = 0;
  highestIsrCache = -1;
  /** apic->pending_events: KVM_APIC_INIT, KVM_APIC_SIPI. */
  pendingInit = false;
  pendingSipi = false;
  sipiVector = 0;
  /**
   * The ID, LDR and DFR words as the register page has them, kept beside it (not KVM state): the
   * slow path's loop over every vCPU compares them, and with 4096 vCPUs reading them from 4096
   * register pages took most of that loop's time. setReg() and syncMatchWords() keep them equal
   * to the page, and the fuzzer checks that they are.
   */
  idWord = 0;
  ldrWord = 0;
  dfrWord = 0;

  constructor(readonly vcpu: Vcpu) {
    const page = newPage();
    this.slots = page.slots;
    this.pageBlock = page.block;
    this.pageStart = page.at;
    this.nrLvtEntries = this.calcNrLvtEntries();
    this.timerModeMask = vcpu.vm.config.tscDeadline ? 3 << 17 : 1 << 17;
  }

  // ---- raw register access (kvm_lapic_get_reg / kvm_lapic_set_reg / *_reg64) ----
  getReg(offset: number): number {
    return offset & 0xf ? oddWord(this, offset) : this.pageBlock[this.pageStart + (offset >> 4)];
  }
  setReg(offset: number, value: number): void {
    const word = value >>> 0;
    if (offset & 0xf) return setOddWord(this, offset, word);
    this.pageBlock[this.pageStart + (offset >> 4)] = word;
    if (offset === APIC_ID) this.setIdWord(word);
    else if (offset === APIC_LDR) this.ldrWord = word;
    else if (offset === APIC_DFR) this.dfrWord = word;
  }
  getReg64(offset: number): bigint {
    return BigInt(this.getReg(offset)) | (BigInt(this.getReg(offset + 4)) << 32n);
  }
  setReg64(offset: number, value: bigint): void {
    this.setReg(offset, Number(value & 0xffffffffn));
    this.setReg(offset + 4, Number((value >> 32n) & 0xffffffffn));
  }
  /** The page as KVM_GET_LAPIC copies it: a new 1 KiB image (index offset >> 2). */
  image(): Uint32Array {
    return pageImage(this);
  }
  /** KVM_SET_LAPIC's copy of a 1 KiB image into the page (no rule applied: the caller's). */
  loadImage(image: Uint32Array): void {
    loadImage(this, image);
    this.syncMatchWords();
  }
  /** The ID word's copy; the VM's index by xAPIC ID follows a new xAPIC ID. */
  private setIdWord(word: number): void {
    const before = this.idWord;
    this.idWord = word;
    if (word >>> 24 !== before >>> 24) this.vcpu.vm.xapicIds.place(this.vcpu);
  }
  /** The page's words were put back as a whole (a snapshot restored): copy the words the slow path compares. */
  syncMatchWords(): void {
    this.setIdWord(this.slots[APIC_ID >> 4]);
    this.ldrWord = this.slots[APIC_LDR >> 4];
    this.dfrWord = this.slots[APIC_DFR >> 4];
  }

  get hwEnabled(): boolean {
    return this.vcpu.hwEnabled;
  }
  get x2apicMode(): boolean {
    return this.vcpu.x2apicMode;
  }
  /** kvm_xapic_id(): bits 31:24 of the ID register. */
  get xapicId(): number {
    return this.idWord >>> 24;
  }
  /** kvm_x2apic_id(): always the vcpu_id. */
  get x2apicId(): number {
    return this.vcpu.id;
  }

  get vm() {
    return this.vcpu.vm;
  }

  /** kvm_apic_calc_nr_lvt_entries(): 7 with MCG_CMCI_P (since 6.0), else 6. */
  private calcNrLvtEntries(): number {
    const cmci = this.vm.config.cmci && this.vm.profile.has.cmciLvt;
    return KVM_APIC_MAX_NR_LVT_ENTRIES - (cmci ? 0 : 1);
  }

  /** kvm_apic_set_version(). The in-kernel I/O APIC hides directed EOI. */
  setVersion(): void {
    let v = APIC_VERSION | ((this.nrLvtEntries - 1) << 16);
    if (this.vm.config.x2apicCpuid && !this.vm.ioapicInKernel) v |= APIC_LVR_DIRECTED_EOI;
    this.setReg(APIC_LVR, v);
  }

  /** kvm_lapic_readable_reg_mask(). */
  readableRegMask(): bigint {
    return readableRegMask(this.x2apicMode, this.nrLvtEntries);
  }

  // ---- PPR / ISR / IRR ----
  private highestVector(base: number): number {
    for (let w = 7; w >= 0; w--) {
      const v = this.getReg(base + 0x10 * w);
      if (v !== 0) return w * 32 + (31 - Math.clz32(v));
    }
    return -1;
  }
  /** apic_find_highest_isr(). */
  highestIsr(): number {
    if (this.vcpu.apicvActive) return this.highestVector(APIC_ISR); // isr_count is pinned to 1
    if (!this.isrCount) return -1;
    if (this.highestIsrCache !== -1) return this.highestIsrCache;
    return this.highestVector(APIC_ISR);
  }

  /** kvm_apic_update_apicv(): resynchronise the ISR cache with the ISR. */
  updateApicv(): void {
    this.isrCount = this.vcpu.apicvActive ? 1 : this.vectors(APIC_ISR).length;
    this.highestIsrCache = -1;
  }

  /** apic_set_isr(). */
  setIsr(vec: number): void {
    if (this.testVector(APIC_ISR, vec)) return;
    this.setVector(APIC_ISR, vec, true);
    if (!this.vcpu.apicvActive) {
      this.isrCount++;
      this.highestIsrCache = vec;
    }
  }

  /** apic_clear_isr(). */
  clearIsr(vec: number): void {
    if (!this.testVector(APIC_ISR, vec)) return;
    this.setVector(APIC_ISR, vec, false);
    if (!this.vcpu.apicvActive) {
      this.isrCount--;
      this.highestIsrCache = -1;
    }
  }
  highestIrr(): number {
    return this.highestVector(APIC_IRR);
  }
  testVector(base: number, vec: number): boolean {
    return ((this.getReg(base + 0x10 * (vec >> 5)) >>> (vec & 31)) & 1) === 1;
  }
  /** Set or clear `vec` in IRR, ISR or TMR (`base`): straight into the slot, as none of them is a word setReg() copies. */
  setVector(base: number, vec: number, on: boolean): void {
    const i = this.pageStart + (base >> 4) + (vec >> 5);
    const bit = 1 << (vec & 31);
    const block = this.pageBlock;
    block[i] = on ? block[i] | bit : block[i] & ~bit;
  }
  /** Ascending vectors set in ISR, IRR or TMR. */
  vectors(base: number): number[] {
    const out: number[] = [];
    // Word by word: most are zero (a VM's results list three registers of every vCPU).
    for (let w = 0; w < 8; w++) {
      const word = this.pageBlock[this.pageStart + (base >> 4) + w];
      if (word) for (let b = 0; b < 32; b++) if ((word >>> b) & 1) out.push(w * 32 + b);
    }
    return out;
  }

  /** __apic_update_ppr(). */
  updatePpr(): number {
    const tpr = this.getReg(APIC_TASKPRI);
    const isr = this.highestIsr();
    const isrv = isr !== -1 ? isr : 0;
    const ppr = (tpr & 0xf0) >= (isrv & 0xf0) ? tpr & 0xff : isrv & 0xf0;
    this.setReg(APIC_PROCPRI, ppr);
    return ppr;
  }

  /** apic_set_spiv(): store, and track software enable (which dirties the map). */
  setSpiv(val: number): void {
    const enabled = (val & APIC_SPIV_APIC_ENABLED) !== 0;
    this.setReg(APIC_SPIV, val);
    if (enabled !== this.swEnabled) {
      this.swEnabled = enabled;
      this.vm.markMapDirty();
    }
  }

  /** kvm_apic_set_xapic_id(). */
  setXapicId(id: number): void {
    this.setReg(APIC_ID, (id & 0xff) << 24);
    this.vm.markMapDirty();
  }
  setLdr(val: number): void {
    this.setReg(APIC_LDR, val);
    this.vm.markMapDirty();
  }
  setDfr(val: number): void {
    this.setReg(APIC_DFR, val);
    this.vm.markMapDirty();
  }
  /** kvm_apic_set_x2apic_id(): ID := vcpu_id, LDR := cluster << 16 | 1 << (id & 0xf). */
  setX2apicId(id: number): void {
    this.setReg(APIC_ID, id);
    this.setReg(APIC_LDR, calcX2apicLdr(id));
    this.vm.markMapDirty();
  }

  /** apic_update_lvtt(): leaving or entering TSC-deadline mode cancels the timer and zeroes TMICT. */
  updateLvtt(): void {
    const mode = this.getReg(APIC_LVTT) & this.timerModeMask;
    if (this.timerMode !== mode) {
      const wasDeadline = this.timerMode === APIC_LVT_TIMER_TSCDEADLINE;
      this.timerMode = mode;
      this.timer.modeChanged(wasDeadline);
    }
  }

  /** kvm_apic_local_deliver(): an LVT source raises its entry's interrupt on this LAPIC. */
  localDeliver(lvtReg: number): boolean {
    const reg = this.getReg(lvtReg);
    const lvt = LVT_NAMES[lvtIndex(lvtReg)];
    const vcpus = [this.vcpu.id];
    if (!this.hwEnabled || reg & APIC_LVT_MASKED) {
      this.vm.recordEvent({ kind: 'event', code: 'LOCAL_MASKED', kvm: 'kvm_apic_local_deliver', vcpus, lvt, apicDisabled: !this.hwEnabled });
      return false;
    }
    const mode = deliveryModeOf(reg);
    const irq = { vector: reg & APIC_VECTOR_MASK, deliveryMode: mode, logical: false, level: true, trigLevel: (reg & APIC_LVT_LEVEL_TRIGGER) !== 0, shorthand: 0, destId: 0, msiRedirHint: false };
    const a = acceptIrq(this.vcpu, irq);
    this.vm.recordEvent({ kind: 'event', code: 'LOCAL_DELIVERED', kvm: 'kvm_apic_local_deliver', vcpus, lvt, mode: a.mode, vector: irq.vector, accepted: a.accepted });
    if (a.accepted && lvtReg === APIC_LVTPC && this.lvtpcSelfMasks()) {
      this.setReg(APIC_LVTPC, (reg | APIC_LVT_MASKED) >>> 0);
      this.vm.recordEvent({ kind: 'event', code: 'LVTPC_SELF_MASKED', kvm: 'kvm_apic_local_deliver', vcpus, lvt });
    }
    return a.accepted;
  }

  /**
   * Does a delivered PMI mask LVTPC? Never before 6.6 (a16eb25b09c0); on every guest in 6.6 - 6.8;
   * since 6.9 (49ff3b4aec51) only when guest_cpuid_is_intel_compatible(), which for the lab's guest
   * (whose CPUID vendor is the host's) means the Intel vendor.
   */
  private lvtpcSelfMasks(): boolean {
    const profile = this.vm.profile;
    if (!profile.has.lvtpcMaskOnPmi) return false;
    return !profile.has.lvtpcMaskIntelOnly || this.vm.config.vendor === 'intel';
  }

  /** apic_manage_nmi_watchdog(). */
  manageNmiWatchdog(lvt0: number): void {
    this.lvt0InNmiMode = (lvt0 & (APIC_MODE_MASK | APIC_LVT_MASKED)) === APIC_DM_NMI;
  }

  // ---- reads ----
  /** __apic_read(). */
  private apicRead(offset: number): number {
    switch (offset) {
      case APIC_ARBPRI:
        return 0;
      case APIC_TMCCT:
        return this.timer.currentCount();
      case APIC_PROCPRI:
        this.updatePpr();
        return this.getReg(APIC_PROCPRI);
      default:
        return this.getReg(offset);
    }
  }

  /** kvm_lapic_reg_read(): the bytes read, or null when the access is refused. */
  regRead(offset: number, len: number): number | null {
    const alignment = offset & 0xf;
    if (alignment + len > 4) return null;
    if (offset > 0x3f0 || (this.readableRegMask() & regBit(offset)) === 0n) return null;
    const result = this.apicRead(offset & ~0xf);
    this.vm.trace(new ApicAccessTrace(this.vcpu.id, false, offset, result));
    if (len === 4) return result >>> 0;
    return (result >>> (alignment * 8)) & (len === 1 ? 0xff : 0xffff);
  }

  inMmioRange(gpa: bigint): boolean {
    const base = BigInt(this.baseAddress);
    return gpa >= base && gpa < base + BigInt(LAPIC_MMIO_LENGTH);
  }

  /** apic_mmio_read(): null when the LAPIC does not claim the address. */
  mmioRead(gpa: bigint, len: number): number | null | 'unreadable' {
    if (!this.inMmioRange(gpa)) return null;
    if (!this.hwEnabled || this.x2apicMode) {
      if (!this.vm.config.quirks.lapicMmioHole) return null;
      return len === 4 ? 0xffffffff : len === 2 ? 0xffff : 0xff;
    }
    const offset = Number(gpa - BigInt(this.baseAddress));
    // kvm_lapic_reg_read() refuses an unreadable offset without writing the data, and
    // apic_mmio_read() ignores that: the guest gets whatever the emulator's buffer held.
    return this.regRead(offset, len) ?? 'unreadable';
  }

  /** apic_mmio_write(): false when the LAPIC does not claim the address. */
  mmioWrite(gpa: bigint, len: number, val: number): boolean {
    if (!this.inMmioRange(gpa)) return false;
    if (!this.hwEnabled || this.x2apicMode) return this.vm.config.quirks.lapicMmioHole;
    const offset = Number(gpa - BigInt(this.baseAddress));
    if (len !== 4 || offset & 0xf) return true;
    this.regWrite(offset & 0xff0, val >>> 0);
    return true;
  }

  // ---- writes ----
  /** kvm_lapic_reg_write(). */
  regWrite(reg: number, val: number): WriteRet {
    val >>>= 0;
    this.vm.trace(new ApicAccessTrace(this.vcpu.id, true, reg, val));
    const ret = this.regWriteInner(reg, val);
    this.vm.recalculateApicMap();
    return ret;
  }

  private regWriteInner(reg: number, val: number): WriteRet {
    switch (reg) {
      case APIC_ID:
        if (this.x2apicMode) return 'REG_READ_ONLY_IN_X2APIC';
        this.setXapicId(val >>> 24);
        this.vm.xapicIdUpdated(this);
        return 0;
      case APIC_TASKPRI:
        this.setReg(APIC_TASKPRI, val & 0xff);
        this.updatePpr();
        return 0;
      case APIC_EOI:
        this.setEoi();
        return 0;
      case APIC_LDR:
        if (this.x2apicMode) return 'REG_READ_ONLY_IN_X2APIC';
        this.setLdr(val & APIC_LDR_MASK);
        return 0;
      case APIC_DFR:
        if (this.x2apicMode) return 'REG_NOT_WRITABLE';
        this.setDfr((val | 0x0fffffff) >>> 0);
        return 0;
      case APIC_SPIV: {
        let mask = 0x3ff;
        if (this.getReg(APIC_LVR) & APIC_LVR_DIRECTED_EOI) mask |= APIC_SPIV_DIRECTED_EOI;
        this.setSpiv(val & mask);
        if (!(val & APIC_SPIV_APIC_ENABLED)) {
          for (let i = 0; i < this.nrLvtEntries; i++) {
            this.setReg(lvtOffset(i), this.getReg(lvtOffset(i)) | APIC_LVT_MASKED);
          }
          this.updateLvtt();
          this.timer.pending = 0;
        }
        return 0;
      }
      case APIC_ICR: {
        // xAPIC only: in x2APIC mode the ICR is reached through kvm_x2apic_icr_write().
        const low = (val & ~APIC_ICR_BUSY) >>> 0;
        this.vm.sendIpi(this, low, this.getReg(APIC_ICR2));
        this.setReg(APIC_ICR, low);
        return 0;
      }
      case APIC_ICR2:
        if (this.x2apicMode) {
          if (this.vm.profile.has.x2apicIcr64) return 'X2APIC_ICR2_ABSENT';
          this.setReg(APIC_ICR2, val); // <= 5.17: WRMSR 0x830 wrote ICR2 := bits 63:32 unmasked
          return 0;
        }
        this.setReg(APIC_ICR2, (val & 0xff000000) >>> 0);
        return 0;
      case APIC_LVT0:
      case APIC_LVTTHMR:
      case APIC_LVTPC:
      case APIC_LVT1:
      case APIC_LVTERR:
      case APIC_LVTCMCI: {
        if (reg === APIC_LVT0) this.manageNmiWatchdog(val);
        const index = lvtIndex(reg);
        if (index >= this.nrLvtEntries) return 'LVT_CMCI_ABSENT';
        if (!this.swEnabled) val |= APIC_LVT_MASKED;
        this.setReg(reg, val & APIC_LVT_WRITE_MASK[index]);
        return 0;
      }
      case APIC_LVTT:
        if (!this.swEnabled) val |= APIC_LVT_MASKED;
        this.setReg(APIC_LVTT, val & (APIC_LVT_WRITE_MASK[LVT_TIMER] | this.timerModeMask));
        this.updateLvtt();
        return 0;
      case APIC_TMICT:
        if (this.timerMode === APIC_LVT_TIMER_TSCDEADLINE) return 0;
        this.timer.cancel();
        this.setReg(APIC_TMICT, val);
        this.timer.start();
        return 0;
      case APIC_TDCR:
        this.setReg(APIC_TDCR, val & 0xb);
        this.timer.divideWritten();
        return 0;
      case APIC_ESR:
        return this.x2apicMode && val !== 0 ? 'ESR_NONZERO_WRITE' : 0;
      case APIC_SELF_IPI:
        if (!this.x2apicMode) return 'REG_NOT_WRITABLE';
        if (!this.vm.profile.has.selfIpiKeepsIcr) {
          // <= 5.17: the SELF_IPI write went through the ICR write path and overwrote the ICR.
          return this.regWriteInner(APIC_ICR, (APIC_DEST_SELF | (val & APIC_VECTOR_MASK)) >>> 0);
        }
        if (val & ~APIC_VECTOR_MASK) {
          if (this.vm.profile.has.selfIpiReservedGp) return 'SELF_IPI_RESERVED_BITS';
          val &= APIC_VECTOR_MASK; // 5.18 - 6.2: bits 31:8 ignored
        }
        this.vm.sendIpi(this, (APIC_DEST_SELF | val) >>> 0, 0, true);
        return 0;
      default:
        return 'REG_NOT_WRITABLE';
    }
  }

  /** apic_set_eoi(): clear the highest ISR bit. Returns the vector, or -1. */
  setEoi(): number {
    const vector = this.highestIsr();
    // trace.h kvm_eoi: "apicid %x vector %d", traced before the -1 (nothing in service) check.
    this.vm.trace({ event: 'kvm_eoi', vcpu: this.vcpu.id, detail: `apicid ${this.vcpu.id.toString(16)} vector ${vector}` });
    if (vector === -1) return -1;
    this.clearIsr(vector);
    this.updatePpr();
    return vector;
  }

  /** kvm_x2apic_icr_read(). */
  x2apicIcrRead(): bigint {
    if (!this.vm.profile.has.x2apicIcr64) {
      return BigInt(this.getReg(APIC_ICR)) | (BigInt(this.getReg(APIC_ICR2)) << 32n);
    }
    if (this.vm.icrIsSplit) return BigInt(this.getReg(APIC_ICR)) | (BigInt(this.getReg(APIC_ICR2)) << 32n);
    return this.getReg64(APIC_ICR);
  }

  /** __kvm_x2apic_icr_write() (slow path: kvm_apic_send_ipi). */
  x2apicIcrWrite(data: bigint): WriteRet {
    let low = low32(data);
    const high = high32(data);
    if (!this.vm.profile.has.x2apicIcr64) {
      // <= 5.17: ICR2 := bits 63:32 (unmasked), then the 32-bit ICR write sends the IPI.
      this.regWrite(APIC_ICR2, high);
      return this.regWrite(APIC_ICR, low);
    }
    if ((low & X2APIC_ICR_RESERVED_BITS) !== 0 && this.vm.profile.has.x2apicIcrReservedGp) return 'X2APIC_ICR_RESERVED_BITS';
    low = (low & ~APIC_ICR_BUSY) >>> 0;
    this.vm.sendIpi(this, low, high);
    this.setReg(APIC_ICR, low);
    if (this.vm.icrIsSplit) this.setReg(APIC_ICR2, high);
    else this.setReg(APIC_ICR + 4, high);
    this.vm.trace(new ApicAccessTrace(this.vcpu.id, true, APIC_ICR, low, high));
    return 0;
  }

  /** kvm_x2apic_msr_read(): the value, or null for #GP. */
  x2apicMsrRead(msr: number): bigint | null {
    if (!this.x2apicMode) return null;
    const reg = (msr - 0x800) << 4;
    if (reg === APIC_ICR) return this.x2apicIcrRead();
    if (reg === APIC_ICR2 && !this.vm.profile.has.x2apicIcr64) return null;
    const low = this.regRead(reg, 4);
    return low === null ? null : BigInt(low);
  }

  /** kvm_x2apic_msr_write(): null, or the refusal (#GP) and the function whose rule fired. */
  x2apicMsrWrite(msr: number, data: bigint): { code: RefusalCode; kvm: KvmFunction } | null {
    if (!this.x2apicMode) return { code: 'X2APIC_MSR_IN_XAPIC_MODE', kvm: 'kvm_x2apic_msr_write' };
    const reg = (msr - 0x800) << 4;
    if (reg === APIC_ICR) {
      const ret = this.x2apicIcrWrite(data);
      return ret ? { code: ret, kvm: this.vm.profile.has.x2apicIcr64 ? 'kvm_x2apic_icr_write' : 'kvm_lapic_reg_write' } : null;
    }
    if (!this.vm.profile.has.x2apicIcr64 && reg === APIC_ICR2) return { code: 'X2APIC_ICR2_ABSENT', kvm: 'kvm_x2apic_msr_write' };
    if (data >> 32n !== 0n && this.vm.profile.has.x2apicHighBitsGp) return { code: 'X2APIC_HIGH_BITS_RESERVED', kvm: 'kvm_lapic_msr_write' };
    const ret = this.regWrite(reg, low32(data));
    return ret ? { code: ret, kvm: 'kvm_lapic_reg_write' } : null;
  }

  /** kvm_apic_has_interrupt(): the vector the CPU would take, or -1. */
  hasInterrupt(): number {
    if (!this.hwEnabled) return -1;
    const ppr = this.updatePpr();
    const irr = this.highestIrr();
    if (irr === -1 || (irr & 0xf0) <= ppr) return -1;
    return irr;
  }

  /** kvm_apic_ack_interrupt(): IRR -> ISR, PPR raised. */
  ackInterrupt(vector: number): void {
    this.setVector(APIC_IRR, vector, false);
    this.setIsr(vector);
    this.updatePpr();
  }

  /** kvm_lapic_reset(): the register part (APICBASE is handled by the caller for RESET). */
  reset(initEvent: boolean): void {
    this.timer.armedAt = null; // "Stop the timer in case it's a reset to an active apic"
    if (!initEvent) this.setXapicId(this.vcpu.id);
    this.setVersion();
    for (let i = 0; i < this.nrLvtEntries; i++) this.setReg(lvtOffset(i), APIC_LVT_MASKED);
    this.updateLvtt();
    if (this.vcpu.isResetBsp && this.vm.config.quirks.lint0Reenabled) {
      this.setReg(APIC_LVT0, APIC_MODE_EXTINT << 8);
    }
    this.manageNmiWatchdog(this.getReg(APIC_LVT0));
    this.setDfr(APIC_DFR_FLAT);
    this.setSpiv(0xff);
    this.setReg(APIC_TASKPRI, 0);
    if (!this.x2apicMode) this.setLdr(0);
    this.setReg(APIC_ESR, 0);
    if (!this.x2apicMode) {
      this.setReg(APIC_ICR, 0);
      this.setReg(APIC_ICR2, 0);
    } else {
      this.setReg64(APIC_ICR, 0n);
    }
    this.setReg(APIC_TDCR, 0);
    this.setReg(APIC_TMICT, 0);
    this.timer.reset();
    for (let i = 0; i < 8; i++) {
      this.setReg(APIC_IRR + 0x10 * i, 0);
      this.setReg(APIC_ISR + 0x10 * i, 0);
      this.setReg(APIC_TMR + 0x10 * i, 0);
    }
    this.updateApicv();
    this.updatePpr();
    this.vcpu.arbPrio = 0;
  }
}

/** kvm_apic_calc_x2apic_ldr(). */
export function calcX2apicLdr(id: number): number {
  return (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0;
}
