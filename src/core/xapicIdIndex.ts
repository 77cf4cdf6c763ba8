/**
 * The vCPUs in xAPIC mode by xAPIC ID, for the slow path's physical unicasts. Models no KVM
 * structure: kvm_irq_delivery_to_apic() walks every vCPU and asks kvm_apic_match_dest() of each.
 * For a physical destination that is no broadcast, kvm_apic_match_physical_addr() can say yes only
 * to an xAPIC-mode vCPU whose xAPIC ID it is, or to the vCPU whose vcpu_id it is (x2APIC mode, or
 * the hotplug hack above 0xff). So delivery.ts asks just those candidates, in vcpu_idx order, the
 * same question, and finds the same vCPUs in the same order; the walk's count of vCPUs examined is
 * the count of hardware-enabled ones, which the Vm keeps (enabledCount).
 *
 * Why: with 4096 vCPUs in xAPIC mode, IDs alias (8 bits), the optimized map is off and every IPI
 * takes the slow path; walking them all made a 200,000-step log of IPIs take seconds to load.
 *
 * Kept by place(), which Lapic calls when the xAPIC ID changes, Vcpu when the mode changes, and
 * Vm.createVcpu when a vCPU comes online. A field of the Vm (and each vCPU's listedXapicId a field
 * of the vCPU), so a snapshot holds it with the rest. The fuzzer checks it after every step.
 */
import type { Vcpu } from './vcpu';

const NONE: readonly Vcpu[] = Object.freeze([]);

export class XapicIdIndex {
  /** For each xAPIC ID (bits 31:24 of the ID register), the online xAPIC-mode vCPUs that have it, in vcpu_idx order. */
  private readonly buckets: Vcpu[][] = Array.from({ length: 256 }, () => []);

  /** List `v` under its xAPIC ID if it is online and in xAPIC mode, else under none. */
  place(v: Vcpu): void {
    const id = v.vm.vcpu(v.id) === v && !v.x2apicMode ? v.apic.xapicId : -1;
    if (id === v.listedXapicId) return;
    if (v.listedXapicId >= 0) {
      const b = this.buckets[v.listedXapicId];
      b.splice(b.indexOf(v), 1);
    }
    if (id >= 0) {
      const b = this.buckets[id];
      let at = b.length;
      while (at > 0 && b[at - 1].idx > v.idx) at--;
      b.splice(at, 0, v);
    }
    v.listedXapicId = id;
  }

  /** The online xAPIC-mode vCPUs with xAPIC ID `id`, in vcpu_idx order (read only). */
  withId(id: number): readonly Vcpu[] {
    return id >= 0 && id <= 0xff ? this.buckets[id] : NONE;
  }

  /**
   * Every vCPU that kvm_apic_match_physical_addr() could match to `mda`, a physical destination
   * that is no broadcast (neither 0xff nor 0xffffffff), in vcpu_idx order: the xAPIC-mode ones
   * whose xAPIC ID is `mda`, and the one whose vcpu_id is (`byId`). The caller asks each.
   */
  candidates(mda: number, byId: Vcpu | undefined): readonly Vcpu[] {
    const same = this.withId(mda);
    if (!byId || same.includes(byId)) return same;
    const out = same.filter((v) => v.idx < byId.idx);
    out.push(byId, ...same.slice(out.length));
    return out;
  }
}
