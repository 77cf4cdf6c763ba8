/**
 * `--kvm`'s run (runOnKvm, src/kvm/kvmRun.ts) plus each vCPU's final KVM_GET_LAPIC image from the
 * same VM. Node only.
 *
 * Why a wrapper around KvmBackend.close: runOnKvm builds its own KvmBackend and closes it before it
 * returns, and its result carries decoded fields, not the 1024-byte image. Running the scenario a
 * second time for the images would give a VM the trace never saw. So, for the duration of one call,
 * close() first reads every vCPU's image (KVM_GET_LAPIC is not traced). src/kvm is not ours to
 * change; if runOnKvm ever offers the final images itself, use that and drop this file.
 */
import { KvmBackend } from '../kvm/kvmBackend';
import { runOnKvm } from '../kvm/kvmRun';
import { imageBytes } from '../scenario/lapicImage';
import type { ScenarioResult } from '../scenario/result';
import type { Scenario } from '../scenario/schema';

export interface FinalImage {
  vcpu: number;
  image: Uint8Array;
}

export async function runOnKvmWithImages(scenario: Scenario): Promise<{ result: ScenarioResult; images: FinalImage[] }> {
  const original = Object.getOwnPropertyDescriptor(KvmBackend.prototype, 'close')!;
  let images: FinalImage[] | null = null;
  KvmBackend.prototype.close = function (this: KvmBackend) {
    // observe() is KVM_GET_LAPIC (plus untraced reads) of every vCPU, in creation order.
    images ??= this.observe().map((o) => ({ vcpu: o.vcpu, image: imageBytes(o.regs) }));
    original.value.call(this);
  };
  try {
    const result = await runOnKvm(scenario);
    if (!images) throw new Error('runOnKvm closed no KvmBackend: cannot read the final LAPIC images (has src/kvm/kvmRun.ts changed?)');
    return { result, images };
  } finally {
    Object.defineProperty(KvmBackend.prototype, 'close', original);
  }
}
