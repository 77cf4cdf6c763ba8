import { useState } from 'react';
import { labStore } from '../store/labStore';
import { Tip, WithTip } from './Panel';

/** MSR_IA32_APICBASE of one vCPU, decoded (BSP, EXTD, EN, base) and writable as guest or host. */
export function ApicBaseEditor({ vcpu, value }: { vcpu: number; value: string }) {
  const [draft, setDraft] = useState<string | null>(null);
  const [host, setHost] = useState(false);
  const v = BigInt(value);
  const write = (next: bigint | string) => {
    const r = labStore.getState().apply({ op: 'wrmsr', vcpu, msr: '0x1b', value: typeof next === 'string' ? next : '0x' + next.toString(16), host });
    if (r) setDraft(null);
  };
  const bit = (b: bigint, name: string, title: string) => (
    <WithTip tip={title}>
      <label className="bitbox">
        <input type="checkbox" checked={(v & b) !== 0n} onChange={() => write(v ^ b)} /> {name}
      </label>
    </WithTip>
  );
  return (
    <div className="apicbase" aria-label={`MSR_IA32_APICBASE of vCPU ${vcpu}`} role="group">
      <Tip className="mono" tip="MSR_IA32_APICBASE (0x1b)">
        APICBASE
      </Tip>
      <input
        className="mono hexin"
        aria-label="APICBASE value"
        data-testid="apicbase"
        value={draft ?? value}
        // Clicking the value to edit it selects the old text, so typing replaces it.
        onFocus={(e) => e.currentTarget.select()}
        onMouseUp={(e) => {
          if (draft === null) e.preventDefault(); // keep the selection the focus made
        }}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') write(e.currentTarget.value.trim());
          if (e.key === 'Escape') setDraft(null);
        }}
      />
      {bit(1n << 8n, 'BSP', 'bit 8: bootstrap processor')}
      {bit(1n << 10n, 'EXTD', 'bit 10: x2APIC mode')}
      {bit(1n << 11n, 'EN', 'bit 11: APIC globally enabled')}
      <Tip className="mono muted" tip="bits MAXPHYADDR-1:12: where the xAPIC MMIO window decodes">
        base 0x{(v & ~0xfffn).toString(16)}
      </Tip>
      <WithTip tip="a guest WRMSR (#GP on illegal transitions) or host-initiated KVM_SET_MSRS">
        <label className="small">
          <input type="checkbox" checked={host} onChange={(e) => setHost(e.target.checked)} /> host
        </label>
      </WithTip>
    </div>
  );
}
