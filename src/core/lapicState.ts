/**
 * KVM_GET_LAPIC / KVM_SET_LAPIC: the 1 KiB struct kvm_lapic_state image.
 *
 * Models lapic.c kvm_apic_get_state(), kvm_apic_set_state() and kvm_apic_state_fixup(): in
 * x2APIC mode the ID slot is the x2APIC ID (32-bit IDs) or vcpu_id << 24 (legacy), LDR is forced
 * to the x2APIC formula on SET, and when the ICR is not split (Intel) its high half is shown in
 * the ICR2 slot (0x310) and merged back from it on SET. The image's TMCCT is the timer's current
 * count on GET; on SET the timer restarts from it (timer.ts).
 */
import { APIC_ICR, APIC_ICR2, APIC_ID, APIC_LDR, APIC_LVT0, APIC_SPIV, APIC_TMCCT, LAPIC_STATE_SIZE } from './apicdef';
import { calcX2apicLdr } from './lapic';
import type { Vcpu } from './vcpu';

/** kvm_apic_state_fixup(); returns false for -EINVAL. */
function stateFixup(vcpu: Vcpu, regs: Uint32Array, set: boolean): boolean {
  const apic = vcpu.apic;
  if (!apic.x2apicMode) return true;
  const vm = vcpu.vm;
  const x2apicId = apic.x2apicId;
  const id = APIC_ID >> 2;
  let ldrId = x2apicId;
  if (vm.x2apicFormat) {
    if (regs[id] !== x2apicId) return false;
  } else if (!vm.profile.has.setLapicX2apicIdLocked) {
    // Before 6.11: `*id >>= 24` on SET (userspace chose the x2APIC ID register, and the LDR
    // followed it), `*id <<= 24` on GET (of whatever the register held).
    if (set) regs[id] = ldrId = regs[id] >>> 24;
    else regs[id] = (regs[id] << 24) >>> 0;
  } else if (set) {
    regs[id] = x2apicId;
  } else {
    regs[id] = (x2apicId << 24) >>> 0;
  }
  if (set) regs[APIC_LDR >> 2] = calcX2apicLdr(ldrId);
  if (!vm.icrIsSplit && vm.profile.has.x2apicIcr64) {
    if (set) regs[(APIC_ICR >> 2) + 1] = regs[APIC_ICR2 >> 2];
    else regs[APIC_ICR2 >> 2] = regs[(APIC_ICR >> 2) + 1];
  }
  return true;
}

/** kvm_apic_get_state(): the image as KVM_GET_LAPIC returns it (see getLapicFails). */
export function getLapicState(vcpu: Vcpu): Uint32Array {
  const regs = vcpu.apic.image();
  regs[APIC_TMCCT >> 2] = vcpu.apic.timer.currentCount(); // __apic_read(APIC_TMCCT)
  stateFixup(vcpu, regs, false);
  return regs;
}

/**
 * KVM_GET_LAPIC fails with EINVAL when, with 32-bit IDs, an x2APIC-mode vCPU's ID register is
 * not its vcpu_id: the fixup checks on GET too. Only pre-6.11 KVM can get there (its SET shifted
 * the userspace ID, truncating ids above 255).
 */
export function getLapicFails(vcpu: Vcpu): boolean {
  return !stateFixup(vcpu, vcpu.apic.image(), false);
}

/** kvm_apic_set_state(); returns false for -EINVAL. */
export function setLapicState(vcpu: Vcpu, image: Uint32Array): boolean {
  if (image.length !== LAPIC_STATE_SIZE / 4) throw new RangeError('a LAPIC image is 1024 bytes');
  const apic = vcpu.apic;
  const vm = vcpu.vm;
  const regs = new Uint32Array(image);
  apic.setSpiv(regs[APIC_SPIV >> 2]);
  if (!stateFixup(vcpu, regs, true)) {
    vm.recalculateApicMap();
    return false;
  }
  apic.loadImage(regs);
  vm.xapicIdUpdated(apic);
  vm.markMapDirty();
  vm.recalculateApicMap();
  apic.setVersion();
  apic.updatePpr(); // still with the old ISR cache: without APICv, PPR can come out stale
  apic.timer.cancel();
  apic.updateLvtt();
  apic.manageNmiWatchdog(apic.getReg(APIC_LVT0));
  apic.timer.restoreFromImage();
  apic.updateApicv();
  vcpu.arbPrio = 0;
  return true;
}
