/**
 * A small "KVM source" link to the function that made a decision, at the release the VM models:
 * shown wherever the app explains something.
 */
import type { KvmFunction } from '../core/decisions';
import { kvmSourceUrl } from '../explain/source';
import { useLab } from '../store/labStore';
import { WithTip } from './Panel';

export function KvmSource({ fn }: { fn: KvmFunction | string }) {
  const release = useLab((s) => s.vmInput.kvm ?? 'current');
  return (
    <WithTip tip={`Read ${fn}() in Linux ${release === 'current' ? '(newest)' : release}`}>
      <a className="kvm-source" href={kvmSourceUrl(fn, release)} target="_blank" rel="noreferrer noopener">
        <code>{fn}</code> ↗
      </a>
    </WithTip>
  );
}
