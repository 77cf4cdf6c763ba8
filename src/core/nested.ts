/**
 * What blocks INIT and SIPI, and what they do to a vCPU that runs a nested guest (L2).
 *
 * Models vmx/nested.c vmx_check_nested_events() (INIT and SIPI part, bf0cd88ce363, v5.11),
 * nested_vmx_run() entering L2 in the wait-for-SIPI activity state, nested_vmx_vmexit();
 * svm/nested.c svm_check_nested_events() (INIT part) and nested_svm_vmexit() clearing GIF;
 * svm.c svm_apic_init_signal_blocked() (GIF); vmx.c vmx_apic_init_signal_blocked() (VMX root);
 * smm.c entering and leaving SMM as far as they gate INIT.
 *
 * Inaccuracies: a pending nested VM-Enter or event reinjection (-EBUSY) never delays the check;
 * SMIs are not injected into the guest (enter_smm is an explicit op) and SMM cannot be entered
 * from L2; EFER.SVME is not modelled (VMRUN is always allowed on AMD).
 */
import type { Vcpu } from './vcpu';

/** A nested VM-exit to L1, as the `run` result reports it. */
export interface NestedExit {
  reason: 'INIT' | 'SIPI';
  /** VMX basic exit reason (3 INIT, 4 SIPI) or the SVM exit code (0x63 INIT). */
  code: number;
  qualification: number;
}

export const EXIT_REASON_INIT_SIGNAL = 3;
export const EXIT_REASON_SIPI_SIGNAL = 4;
export const SVM_EXIT_INIT = 0x63;

/** Why the vCPU cannot take INIT/SIPI now (kvm_apic_init_sipi_allowed), or null. */
export function initSipiBlocker(v: Vcpu): string | null {
  if (v.smm) return 'in SMM';
  if (v.vm.config.vendor === 'intel' && v.vmxon && !v.guestMode) return 'in VMX root operation';
  if (v.vm.config.vendor === 'amd' && !v.gif) return 'GIF is clear';
  return null;
}

/** nested_vmx_vmexit() / nested_svm_vmexit(): back to L1. */
function nestedVmexit(v: Vcpu, exit: NestedExit): void {
  v.guestMode = false;
  v.mpState = 'RUNNABLE'; // "in case we halted in L2"
  if (v.vm.config.vendor === 'amd') v.gif = false;
  v.lastVmexit = exit;
  v.vm.updateNestedInhibit();
  v.vm.trace({ event: 'kvm_nested_vmexit', vcpu: v.id, detail: `${exit.reason} signal: exit ${exit.code.toString(16)}, qualification ${exit.qualification}` });
}

/** kvm_check_nested_events() for INIT and SIPI while the vCPU is in L2. */
export function checkNestedEvents(v: Vcpu): void {
  const apic = v.apic;
  if (v.vm.config.vendor === 'amd') {
    // SVM has no SIPI intercept; INIT exits only if vmcb12 intercepts it, and stays pending.
    if (apic.pendingInit && v.interceptInit) nestedVmexit(v, { reason: 'INIT', code: SVM_EXIT_INIT, qualification: 0 });
    return;
  }
  if (apic.pendingInit) {
    apic.pendingInit = false;
    if (v.mpState !== 'INIT_RECEIVED') nestedVmexit(v, { reason: 'INIT', code: EXIT_REASON_INIT_SIGNAL, qualification: 0 });
    else v.vm.trace({ event: 'kvm_check_nested_events', vcpu: v.id, detail: 'INIT while L2 waits for SIPI: consumed, no VM-exit' });
    return;
  }
  if (apic.pendingSipi && v.vm.profile.hasNew('nestedWaitForSipi')) {
    apic.pendingSipi = false;
    if (v.mpState === 'INIT_RECEIVED') {
      nestedVmexit(v, { reason: 'SIPI', code: EXIT_REASON_SIPI_SIGNAL, qualification: apic.sipiVector & 0xff });
      return;
    }
    v.vm.trace({ event: 'kvm_check_nested_events', vcpu: v.id, detail: 'SIPI while L2 is not waiting for SIPI: ignored' });
  }
}

export type NestedOpResult = { ok: true } | { ok: false; reason: string };
const refuse = (reason: string): NestedOpResult => ({ ok: false, reason });
const OK: NestedOpResult = { ok: true };

export function vmxon(v: Vcpu): NestedOpResult {
  if (v.vm.config.vendor !== 'intel') return refuse('VMXON needs an Intel (VMX) vCPU');
  if (v.vmxon) return refuse('already in VMX operation');
  if (v.smm) return refuse('VMXON in SMM is not modelled');
  v.vmxon = true;
  return OK;
}

export function vmxoff(v: Vcpu): NestedOpResult {
  if (!v.vmxon) return refuse('not in VMX operation');
  if (v.guestMode) return refuse('VMXOFF is executed by L1, not while L2 runs');
  v.vmxon = false;
  return OK;
}

/** VMLAUNCH (Intel, from VMX root) or VMRUN (AMD, sets GIF). */
export function enterGuest(v: Vcpu, activity: 'active' | 'wait-for-sipi', interceptInit: boolean): NestedOpResult {
  if (v.guestMode) return refuse('already running L2');
  if (v.smm) return refuse('VM-entry from SMM is not modelled');
  if (v.vm.config.vendor === 'intel') {
    if (!v.vmxon) return refuse('VMLAUNCH needs VMX operation (vmxon)');
    if (activity === 'wait-for-sipi' && !v.vm.profile.hasNew('nestedWaitForSipi')) return refuse('this KVM does not offer the wait-for-SIPI activity state to L1 (5.11+)');
    v.mpState = activity === 'wait-for-sipi' ? 'INIT_RECEIVED' : 'RUNNABLE';
  } else {
    if (activity !== 'active') return refuse('SVM has no wait-for-SIPI activity state');
    v.gif = true;
    v.interceptInit = interceptInit;
  }
  v.guestMode = true;
  v.lastVmexit = null;
  v.vm.updateNestedInhibit();
  return OK;
}

/** A VM-exit from L2 to L1 for a reason unrelated to INIT/SIPI. */
export function leaveGuest(v: Vcpu): NestedOpResult {
  if (!v.guestMode) return refuse('not running L2');
  v.guestMode = false;
  v.mpState = 'RUNNABLE';
  if (v.vm.config.vendor === 'amd') v.gif = false;
  v.vm.updateNestedInhibit();
  return OK;
}

export function enterSmm(v: Vcpu): NestedOpResult {
  if (!v.vm.config.smm) return refuse('this KVM has no SMM support');
  if (v.smm) return refuse('already in SMM');
  if (v.guestMode) return refuse('entering SMM from L2 is not modelled');
  v.smm = true;
  v.smiPending = 0;
  return OK;
}

export function rsm(v: Vcpu): NestedOpResult {
  if (!v.smm) return refuse('RSM outside SMM is #UD');
  v.smm = false;
  return OK;
}

/** CLGI / STGI (AMD). */
export function setGif(v: Vcpu, gif: boolean): NestedOpResult {
  if (v.vm.config.vendor !== 'amd') return refuse('GIF exists on AMD (SVM) only');
  v.gif = gif;
  return OK;
}
