/**
 * A small "KVM source" link to the function that made a decision, at the release the VM models:
 * shown wherever the app explains something.
 */
import type { KvmFunction } from '../core/decisions';
import { kvmSourceUrl } from '../explain/source';
import { useLab } from '../store/labStore';

export function KvmSource({ fn }: { fn: KvmFunction | string }) {
  const release = useLab((s) => s.vmInput.kvm ?? 'current');
  return (
    <a className="kvm-source" href={kvmSourceUrl(fn, release)} target="_blank" rel="noreferrer noopener" title={`Read ${fn}() in Linux ${release === 'current' ? '(newest)' : release}`}>
      <code>{fn}</code> ↗
    </a>
  );
}
