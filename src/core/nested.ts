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
import type { InitBlocker, KvmFunction, RefusalCode, RefusalDecision } from './decisions';
import type { Vcpu } from './vcpu';

const entry = (v: Vcpu): KvmFunction => (v.vm.config.vendor === 'amd' ? 'nested_svm_vmrun' : 'nested_vmx_run');

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

/** What blocks INIT/SIPI for the vCPU now (kvm_apic_init_sipi_allowed), or null. */
export function initSipiBlocker(v: Vcpu): InitBlocker | null {
  if (v.smm) return 'SMM';
  if (v.vm.config.vendor === 'intel' && v.vmxon && !v.guestMode) return 'VMX_ROOT';
  if (v.vm.config.vendor === 'amd' && !v.gif) return 'GIF_CLEAR';
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
  v.vm.recordEvent({
    kind: 'event', code: exit.reason === 'INIT' ? 'NESTED_INIT_VMEXIT' : 'NESTED_SIPI_VMEXIT',
    kvm: v.vm.config.vendor === 'amd' ? 'svm_check_nested_events' : 'vmx_check_nested_events', vcpus: [v.id],
    ...(exit.reason === 'SIPI' ? { sipiVector: exit.qualification } : {}),
  });
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
  if (apic.pendingSipi && v.vm.profile.has.nestedWaitForSipi) {
    apic.pendingSipi = false;
    if (v.mpState === 'INIT_RECEIVED') {
      nestedVmexit(v, { reason: 'SIPI', code: EXIT_REASON_SIPI_SIGNAL, qualification: apic.sipiVector & 0xff });
      return;
    }
    v.vm.trace({ event: 'kvm_check_nested_events', vcpu: v.id, detail: 'SIPI while L2 is not waiting for SIPI: ignored' });
  }
}

export type NestedOpResult = { ok: true } | { ok: false; refusal: RefusalDecision };
const OK: NestedOpResult = { ok: true };
function refuse(v: Vcpu, code: RefusalCode, kvm: KvmFunction, facts: Partial<RefusalDecision> = {}): NestedOpResult {
  return { ok: false, refusal: { kind: 'refusal', code, kvm, vcpus: [v.id], error: 'EINVAL', ...facts } };
}

export function vmxon(v: Vcpu): NestedOpResult {
  if (v.vm.config.vendor !== 'intel') return refuse(v, 'NOT_VMX_VENDOR', 'handle_vmon');
  if (v.vmxon) return refuse(v, 'ALREADY_VMXON', 'handle_vmon');
  if (v.smm) return refuse(v, 'NOT_MODELLED_IN_SMM', 'handle_vmon');
  v.vmxon = true;
  return OK;
}

export function vmxoff(v: Vcpu): NestedOpResult {
  if (!v.vmxon) return refuse(v, 'NOT_VMXON', 'handle_vmxoff');
  if (v.guestMode) return refuse(v, 'IN_L2', 'handle_vmxoff');
  v.vmxon = false;
  return OK;
}

/** VMLAUNCH (Intel, from VMX root) or VMRUN (AMD, sets GIF). */
export function enterGuest(v: Vcpu, activity: 'active' | 'wait-for-sipi', interceptInit: boolean): NestedOpResult {
  if (v.guestMode) return refuse(v, 'IN_L2', entry(v));
  if (v.smm) return refuse(v, 'NOT_MODELLED_IN_SMM', entry(v));
  if (v.vm.config.vendor === 'intel') {
    if (!v.vmxon) return refuse(v, 'NOT_VMXON', 'nested_vmx_run');
    if (activity === 'wait-for-sipi' && !v.vm.profile.has.nestedWaitForSipi) return refuse(v, 'NO_WAIT_FOR_SIPI_STATE', 'nested_vmx_run', { since: '5.11' });
    v.mpState = activity === 'wait-for-sipi' ? 'INIT_RECEIVED' : 'RUNNABLE';
  } else {
    if (activity !== 'active') return refuse(v, 'NO_WAIT_FOR_SIPI_STATE', 'nested_svm_vmrun');
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
  if (!v.guestMode) return refuse(v, 'NOT_IN_L2', 'nested_vmx_vmexit');
  v.guestMode = false;
  v.mpState = 'RUNNABLE';
  if (v.vm.config.vendor === 'amd') v.gif = false;
  v.vm.updateNestedInhibit();
  return OK;
}

export function enterSmm(v: Vcpu): NestedOpResult {
  if (!v.vm.config.smm) return refuse(v, 'NO_SMM_SUPPORT', 'kvm_smm_transition');
  if (v.smm) return refuse(v, 'ALREADY_IN_SMM', 'kvm_smm_transition');
  if (v.guestMode) return refuse(v, 'NOT_MODELLED_FROM_L2', 'kvm_smm_transition');
  v.smm = true;
  v.smiPending = 0;
  return OK;
}

export function rsm(v: Vcpu): NestedOpResult {
  if (!v.smm) return refuse(v, 'NOT_IN_SMM', 'emulator_leave_smm');
  v.smm = false;
  return OK;
}

/** CLGI / STGI (AMD). */
export function setGif(v: Vcpu, gif: boolean): NestedOpResult {
  if (v.vm.config.vendor !== 'amd') return refuse(v, 'NOT_SVM_VENDOR', 'svm_set_gif');
  v.gif = gif;
  return OK;
}
