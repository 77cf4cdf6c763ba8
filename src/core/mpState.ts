/**
 * MP states and the processing of pending INIT/SIPI.
 *
 * Models lapic.c kvm_apic_accept_events() and lapic.h kvm_apic_init_sipi_allowed(); x86.c
 * kvm_arch_vcpu_ioctl_get_mpstate() (which runs kvm_apic_accept_events first),
 * kvm_arch_vcpu_ioctl_set_mpstate() as of 6.17+, kvm_set_mp_state() (RUNNABLE clears pv_unhalted),
 * and the INIT part of kvm_vcpu_reset().
 *
 * Nested guests are in nested.ts. Inaccuracies: SEV-ES AP reset hold is not modelled; the register
 * state other than the LAPIC, CS and RIP is not reset by INIT.
 */
import { checkNestedEvents, initSipiBlocker } from './nested';
import type { EventDecision, RefusalCode, RefusalDecision } from './decisions';
import { explain } from '../explain/explain';
import { LazyTraceEvent, type MpState } from './types';
import type { Vcpu } from './vcpu';

/** kvm_vcpu_reset(vcpu, init_event = true), the parts this model holds. */
export function initReset(v: Vcpu): void {
  if (v.guestMode) {
    v.guestMode = false; // kvm_leave_nested(): INIT drops L2 (SVM without an INIT intercept)
    v.vm.updateNestedInhibit();
  }
  v.gif = true;
  v.apic.reset(true);
  v.nmiPending = 0;
  v.nmiMasked = false;
  v.smiPending = 0;
  v.vm.recalculateApicMap();
}

/** kvm_apic_accept_events(). */
export function acceptEvents(v: Vcpu): void {
  const apic = v.apic;
  if (!apic.pendingInit && !apic.pendingSipi) return;
  // In L2 the nested check runs first; processing continues even after a nested VM-exit.
  if (v.guestMode) checkNestedEvents(v);
  const event = (code: EventDecision['code'], facts: Partial<EventDecision> = {}) => {
    const d: EventDecision = { kind: 'event', code, kvm: 'kvm_apic_accept_events', vcpus: [v.id], ...facts };
    v.vm.recordEvent(d);
    v.vm.trace(new LazyTraceEvent('kvm_apic_accept_events', v.id, () => explain(d), d));
  };
  const blocker = initSipiBlocker(v);
  if (blocker) {
    if (apic.pendingSipi) event('SIPI_DROPPED_BLOCKED', { blocker });
    if (apic.pendingInit) event('INIT_LATCHED', { blocker });
    apic.pendingSipi = false;
    return;
  }
  if (apic.pendingInit) {
    apic.pendingInit = false;
    initReset(v);
    setMpStateRaw(v, v.isBsp ? 'RUNNABLE' : 'INIT_RECEIVED');
    event('INIT_RESET', { mpState: v.mpState });
  }
  if (apic.pendingSipi) {
    apic.pendingSipi = false;
    if (v.mpState === 'INIT_RECEIVED') {
      v.csSelector = apic.sipiVector << 8;
      v.csBase = apic.sipiVector << 12;
      v.rip = 0;
      setMpStateRaw(v, 'RUNNABLE');
      event('SIPI_STARTED', { sipiVector: apic.sipiVector, mpState: v.mpState });
    } else {
      event('SIPI_IGNORED_NOT_WAITING', { mpState: v.mpState });
    }
  }
}

/** KVM_GET_MP_STATE: processes pending INIT/SIPI first, so reading can change the state. */
export function getMpState(v: Vcpu): MpState {
  acceptEvents(v);
  return reportedMpState(v);
}

/** The state KVM_GET_MP_STATE reports without processing events: a PV-unhalted HALTED vCPU is RUNNABLE. */
export function reportedMpState(v: Vcpu): MpState {
  if ((v.mpState === 'HALTED' || v.mpState === 'AP_RESET_HOLD') && v.pvUnhalted) return 'RUNNABLE';
  return v.mpState;
}

/** kvm_set_mp_state(): becoming RUNNABLE clears pv_unhalted. */
export function setMpStateRaw(v: Vcpu, state: MpState): void {
  v.mpState = state;
  if (state === 'RUNNABLE') v.pvUnhalted = false;
}

/**
 * KVM_RUN entry, as far as INIT/SIPI go: refuse a vCPU parked in wait-for-SIPI while INIT/SIPI
 * are blocked (6.17+), then kvm_apic_accept_events(). Returns the refusal or null.
 */
export function runVcpu(v: Vcpu): RefusalDecision | null {
  const blocker = initSipiBlocker(v);
  if (v.vm.profile.has.mpStateCheckedAtRun && v.mpState === 'INIT_RECEIVED' && blocker) {
    return { kind: 'refusal', code: 'RUN_WAIT_FOR_SIPI_BLOCKED', kvm: 'kvm_arch_vcpu_ioctl_run', vcpus: [v.id], error: 'EINVAL', mpState: v.mpState, blocker, since: '6.17' };
  }
  v.lastVmexit = null;
  acceptEvents(v);
  wakeFromHalt(v);
  if (v.mpState === 'RUNNABLE') v.enterGuest(); // a vCPU that waits (SIPI, HLT) does not enter
  return null;
}

/**
 * vcpu_block(): a halted vCPU with an event (kvm_vcpu_has_events: a PV kick, an NMI it can take, a
 * pending timer expiry) becomes RUNNABLE, which clears pv_unhalted. Interrupts are left out: they wake a halted vCPU only with IF set, which the lab's
 * guest never has outside `ack`.
 */
function wakeFromHalt(v: Vcpu): void {
  if (v.mpState !== 'HALTED' && v.mpState !== 'AP_RESET_HOLD') return;
  const wakeBy = v.pvUnhalted ? 'PV_UNHALT' : v.nmiPending > 0 && !v.nmiMasked ? 'NMI' : v.apic.timer.hasPendingTimer() ? 'TIMER' : null;
  if (!wakeBy) return;
  setMpStateRaw(v, 'RUNNABLE');
  v.vm.recordEvent({ kind: 'event', code: 'HALT_WOKEN', kvm: 'vcpu_block', vcpus: [v.id], wakeBy, mpState: 'RUNNABLE' });
}

/** KVM_SET_MP_STATE (in-kernel LAPIC); the refusal (EINVAL) or null. */
export function setMpState(v: Vcpu, state: MpState): RefusalDecision | null {
  const refuse = (code: RefusalCode, facts: Partial<RefusalDecision> = {}): RefusalDecision =>
    ({ kind: 'refusal', code, kvm: 'kvm_arch_vcpu_ioctl_set_mpstate', vcpus: [v.id], error: 'EINVAL', mpState: state, ...facts });
  const blocker = initSipiBlocker(v) ?? (v.smiPending ? 'SMI_PENDING' : null);
  if (!v.vm.profile.has.mpStateCheckedAtRun && (state === 'INIT_RECEIVED' || state === 'SIPI_RECEIVED') && blocker) {
    return refuse('MP_STATE_INIT_BLOCKED', { blocker }); // <= 6.16: refused up front
  }
  switch (state) {
    case 'RUNNABLE':
    case 'UNINITIALIZED':
    case 'HALTED':
    case 'AP_RESET_HOLD':
    case 'INIT_RECEIVED':
    case 'SIPI_RECEIVED':
      break;
    default:
      return refuse('MP_STATE_INVALID');
  }
  if (state === 'SIPI_RECEIVED') {
    setMpStateRaw(v, 'INIT_RECEIVED');
    v.apic.pendingSipi = true;
  } else {
    setMpStateRaw(v, state);
  }
  return null;
}
