/**
 * The APIC timer of one LAPIC, on the VM's virtual clock (`Vm.clockNs`, moved only by `advance`).
 *
 * Models lapic.c: update_divide_count, limit_periodic_timer_frequency, cancel_apic_timer,
 * apic_update_lvtt (its timer part), tmict_to_ns, set_target_expiration,
 * update_target_expiration, advance_periodic_target_expiration, start_sw_period,
 * start_sw_tscdeadline, __start_apic_timer, restart_apic_timer, apic_timer_expired,
 * apic_timer_fn, apic_get_tmcct, apic_has_pending_timer, kvm_inject_apic_timer_irqs /
 * kvm_apic_inject_pending_timer_irqs, kvm_get/set_lapic_tscdeadline_msr; the timer parts of
 * kvm_lapic_reset, kvm_apic_set_state (restart from the supplied TMCCT) and the SPIV write.
 *
 * Inaccuracies: the software (hrtimer) path only: no VMX preemption timer (hv timer) and no posted
 * timer interrupts; timer_advance_ns is 0 (KVM fires a TSC-deadline timer up to
 * timer_advance_ns early and busy-waits to the deadline, so the outcome is the same); the bus cycle
 * is 1 ns (KVM_CAP_X86_APIC_BUS_CYCLES_NS not modelled); the guest TSC is clock * tscKhz / 10^6
 * from 0 at VM creation. advance_periodic_target_expiration() is the form that never sets a target
 * in the past ("don't play catch-up": 18ab3fc8e880, with apic_timer_fn() re-arming at the target,
 * 9633f180ce99; both 6.19, backported to stable); older releases differ only when the timer fires
 * a period late, which the virtual clock never lets it do, so it is not a release-profile entry. KVM_SET_LAPIC restarting from the image's TMCCT (and its clamp
 * to TMICT) is 24647e0a39b6 (5.8), older than every modelled release. Not modelled: 6.3 - 6.6 with
 * APICv (VMX) lost the interrupt of a one-shot that KVM_SET_LAPIC fired at once (fixed by
 * "KVM: x86: Fix lapic timer interrupt lost after loading a snapshot", 6.7).
 */
import { APIC_LVT_MASKED, APIC_LVT_TIMER_PERIODIC, APIC_LVT_TIMER_TSCDEADLINE, APIC_LVTT, APIC_TDCR, APIC_TMCCT, APIC_TMICT } from './apicdef';
import type { EventDecision } from './decisions';
import type { Lapic } from './lapic';

/** min_timer_period_us (x86.c module parameter, default 200): the shortest periodic timer. */
export const MIN_TIMER_PERIOD_NS = 200_000;
/** APIC_BUS_CYCLE_NS: KVM's APIC bus runs at 1 GHz. */
export const APIC_BUS_CYCLE_NS = 1;

export type TimerModeName = 'one-shot' | 'periodic' | 'tsc-deadline';

export class ApicTimer {
  /** apic->divide_count. */
  divideCount = 2;
  /** lapic_timer.period (ns): TMICT * bus cycle * divide, at least MIN_TIMER_PERIOD_NS when periodic. */
  period = 0;
  /** lapic_timer.target_expiration (ns on the VM clock). */
  target = 0;
  /** lapic_timer.tscdeadline (guest TSC). */
  tscDeadline = 0n;
  /** lapic_timer.pending: an expiry not yet injected. */
  pending = 0;
  /** The hrtimer: when it fires (ns on the VM clock), or null when it is not running. */
  armedAt: number | null = null;

  constructor(private readonly apic: Lapic) {}

  private get now(): number {
    return this.apic.vm.clockNs;
  }
  private get mode(): number {
    return this.apic.timerMode;
  }
  get modeName(): TimerModeName {
    return this.mode === APIC_LVT_TIMER_TSCDEADLINE ? 'tsc-deadline' : this.mode === APIC_LVT_TIMER_PERIODIC ? 'periodic' : 'one-shot';
  }
  private get periodic(): boolean {
    return this.mode === APIC_LVT_TIMER_PERIODIC;
  }
  private get tscMode(): boolean {
    return this.mode === APIC_LVT_TIMER_TSCDEADLINE;
  }

  private event(code: EventDecision['code'], kvm: EventDecision['kvm'], facts: Partial<EventDecision> = {}): void {
    this.apic.vm.recordEvent({ kind: 'event', code, kvm, vcpus: [this.apic.vcpu.id], timerMode: this.modeName, atNs: this.now, ...facts });
  }

  /** update_divide_count(): TDCR bits 3, 1:0 select 2, 4, ... 128, or 1 (0b1011). */
  updateDivideCount(): void {
    const tdcr = this.apic.getReg(APIC_TDCR) & 0xf;
    this.divideCount = 1 << ((((tdcr & 0x3) | ((tdcr & 0x8) >> 1)) + 1) & 0x7);
  }

  /** limit_periodic_timer_frequency(). */
  limitPeriodicFrequency(): void {
    if (this.periodic && this.period && this.period < MIN_TIMER_PERIOD_NS) this.period = MIN_TIMER_PERIOD_NS;
  }

  private tmictToNs(count: number): number {
    return count * APIC_BUS_CYCLE_NS * this.divideCount;
  }

  /** The guest TSC now (kvm_read_l1_tsc). */
  guestTsc(at = this.now): bigint {
    return (BigInt(Math.floor(at)) * BigInt(this.apic.vm.config.tscKhz)) / 1_000_000n;
  }
  private nsToCycles(ns: number): bigint {
    return (BigInt(Math.floor(ns)) * BigInt(this.apic.vm.config.tscKhz)) / 1_000_000n;
  }

  /** cancel_apic_timer(): stop the hrtimer, drop a pending expiry. */
  cancel(): void {
    this.armedAt = null;
    this.pending = 0;
  }

  /** apic_update_lvtt()'s timer part, called when the mode changed: into or out of TSC-deadline stops it. */
  modeChanged(wasTscDeadline: boolean): void {
    if (wasTscDeadline !== this.tscMode) {
      this.cancel();
      this.apic.setReg(APIC_TMICT, 0);
      this.period = 0;
      this.tscDeadline = 0n;
    }
    this.limitPeriodicFrequency();
  }

  /** set_target_expiration(): false when TMICT is 0 (no timer). */
  private setTargetExpiration(countReg: number): boolean {
    this.period = this.tmictToNs(this.apic.getReg(APIC_TMICT));
    if (!this.period) {
      this.tscDeadline = 0n;
      return false;
    }
    this.limitPeriodicFrequency();
    let deadline = this.period;
    if (countReg !== APIC_TMICT) {
      deadline = this.tmictToNs(this.apic.getReg(countReg));
      // A one-shot restored with TMCCT 0 has expired: fire it at once (8e6ed96cdd50, 6.3); before,
      // every timer restored with TMCCT 0 restarted for a whole period.
      if (deadline <= 0) deadline = this.periodic || !this.apic.vm.profile.has.oneshotRestoreFiresExpired ? this.period : 0;
      else if (deadline > this.period) {
        this.apic.setReg(countReg, 0); // "requested lapic timer restore with starting count > initial count"
        deadline = this.period;
      }
    }
    this.tscDeadline = this.guestTsc() + this.nsToCycles(deadline);
    this.target = this.now + deadline;
    return true;
  }

  /** __start_apic_timer() (TMICT write, TSC-deadline MSR write; TMCCT from KVM_SET_LAPIC). */
  start(countReg = APIC_TMICT): void {
    this.pending = 0;
    if (!this.tscMode && !this.setTargetExpiration(countReg)) return;
    this.restart();
  }

  /** restart_apic_timer() / start_sw_timer(). */
  private restart(): void {
    if (!this.periodic && this.pending) return;
    if (this.tscMode) this.startSwTscDeadline();
    else this.startSwPeriod();
  }

  /**
   * start_sw_period(). KVM tests ktime_after(ktime_get(), target_expiration) with a clock read
   * later than the one the target was computed from, so a target of "now" (a deadline of 0: a
   * one-shot restored with TMCCT 0, or a TDCR change when nothing remained) has already passed;
   * on the virtual clock no time passes inside one step, hence >=.
   */
  private startSwPeriod(): void {
    if (!this.period) return;
    if (this.now >= this.target) {
      this.expired(false);
      if (!this.periodic) return;
      this.advancePeriodicTarget();
    }
    this.armedAt = this.target;
  }

  /** start_sw_tscdeadline(): a deadline already passed expires at once. */
  private startSwTscDeadline(): void {
    const deadline = this.tscDeadline;
    if (!deadline) return;
    const tsc = this.guestTsc();
    const ns = deadline > tsc ? Number(((deadline - tsc) * 1_000_000n) / BigInt(this.apic.vm.config.tscKhz)) : 0;
    if (ns > 0) this.armedAt = this.now + ns; // ns > timer_advance_ns, which is 0 here
    else this.expired(false);
  }

  /** advance_periodic_target_expiration(): the next period, never in the past. */
  private advancePeriodicTarget(): void {
    this.target = Math.max(this.target + this.period, this.now);
    this.tscDeadline = this.guestTsc() + this.nsToCycles(this.target - this.now);
  }

  /** update_target_expiration(): a TDCR change rescales what remains of the period. */
  private updateTargetExpiration(oldDivisor: number): void {
    this.period = this.tmictToNs(this.apic.getReg(APIC_TMICT));
    this.limitPeriodicFrequency();
    const remainingOld = Math.max(0, this.target - this.now);
    const remainingNew = Math.floor((remainingOld * this.divideCount) / oldDivisor);
    this.tscDeadline += this.nsToCycles(remainingNew) - this.nsToCycles(remainingOld);
    this.target = this.now + remainingNew;
  }

  /** The TDCR write: a new divisor rescales a running timer. */
  divideWritten(): void {
    const old = this.divideCount;
    this.updateDivideCount();
    if (this.divideCount !== old && this.period) {
      this.armedAt = null;
      this.updateTargetExpiration(old);
      this.restart();
    }
  }

  /** apic_timer_expired(): the expiry is pending until the vCPU next enters the guest. */
  private expired(fromTimerFn: boolean): void {
    if (this.pending) return;
    if (!fromTimerFn && this.apic.vcpu.apicvActive) {
      this.event('TIMER_EXPIRED', 'apic_timer_expired', { injectedNow: true });
      this.injectPending(); // APICv: injected at once, the vCPU is running
      return;
    }
    this.pending++;
    this.event('TIMER_EXPIRED', 'apic_timer_expired');
  }

  /** apic_timer_fn(): the hrtimer fired at `armedAt`; a periodic timer re-arms one period later. */
  fire(): void {
    this.expired(true);
    if (this.periodic && this.period) {
      this.advancePeriodicTarget();
      this.armedAt = this.target;
    } else this.armedAt = null;
  }

  /** apic_has_pending_timer(): an expiry waits and the timer LVT can deliver it. */
  hasPendingTimer(): boolean {
    const lvtt = this.apic.getReg(APIC_LVTT);
    return this.apic.hwEnabled && this.apic.swEnabled && !(lvtt & APIC_LVT_MASKED) && this.pending > 0;
  }

  /** kvm_apic_inject_pending_timer_irqs(): deliver through the LVT timer entry; a one-shot is spent. */
  private injectPending(): void {
    this.apic.localDeliver(APIC_LVTT);
    if (this.tscMode) this.tscDeadline = 0n;
    else if (!this.periodic) {
      this.tscDeadline = 0n;
      this.target = 0;
    }
  }

  /** kvm_inject_apic_timer_irqs(), from the vCPU run loop. */
  injectIfPending(): void {
    if (!this.hasPendingTimer()) return;
    this.event('TIMER_INJECTED', 'kvm_inject_apic_timer_irqs', { vector: this.apic.getReg(APIC_LVTT) & 0xff });
    this.injectPending();
    this.pending = 0;
  }

  /** apic_get_tmcct() (0 in TSC-deadline mode, __apic_read). */
  currentCount(): number {
    if (this.tscMode) return 0;
    if (this.apic.getReg(APIC_TMICT) === 0 || this.period === 0) return 0;
    const remaining = Math.max(0, this.target - this.now);
    // remaining is at most one period. KVM's `remaining mod period` is 0 only at the very instant a
    // period starts, which the kernel never observes (time passes between starting a period and
    // reading TMCCT); on the virtual clock it would make a TMICT write read back 0 and a
    // KVM_GET_LAPIC then KVM_SET_LAPIC of a just-started one-shot fire it, so a whole period left
    // reads as the whole count.
    const left = remaining === this.period ? remaining : remaining % this.period;
    return Math.floor(left / (APIC_BUS_CYCLE_NS * this.divideCount)) >>> 0;
  }

  /** kvm_get_lapic_tscdeadline_msr(). */
  readTscDeadline(): bigint {
    return this.apic.hwEnabled && this.tscMode ? this.tscDeadline : 0n;
  }

  /** kvm_set_lapic_tscdeadline_msr(): ignored unless the APIC is enabled and in TSC-deadline mode. */
  writeTscDeadline(value: bigint): boolean {
    if (!this.apic.hwEnabled || !this.tscMode) return false;
    this.armedAt = null;
    this.tscDeadline = value;
    this.start();
    return true;
  }

  /** kvm_apic_set_state(), after cancel and apic_update_lvtt: restart from the image's TMCCT. */
  restoreFromImage(): void {
    this.updateDivideCount();
    this.start(APIC_TMCCT);
    this.apic.setReg(APIC_TMCCT, 0);
  }

  /** kvm_lapic_reset(), after the caller stopped the hrtimer and zeroed TMICT and TDCR. */
  reset(): void {
    this.updateDivideCount();
    this.pending = 0;
  }
}
