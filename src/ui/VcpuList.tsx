import { useState } from 'react';
import type { FinalVcpu } from '../scenario/result';
import { labStore, useLab } from '../store/labStore';
import { KvmSource } from './KvmSource';
import { Panel, Tip, WithTip } from './Panel';
import { failureName, refusalWords } from './stepText';
import { VirtualRows } from './VirtualRows';
import { timerWords } from '../explain/panels';

const MODE_LABEL: Record<string, string> = { disabled: 'off', xapic: 'xAPIC', x2apic: 'x2APIC' };
const MP_SHORT: Record<string, string> = { RUNNABLE: 'run', UNINITIALIZED: 'uninit', INIT_RECEIVED: 'wfs', HALTED: 'hlt', AP_RESET_HOLD: 'hold' };
const ROW = 24;

/** The IA32_APIC_BASE value that toggles EN (bit 11) or EXTD (bit 10). */
function toggled(apicBase: string, bit: 10 | 11): string {
  const v = BigInt(apicBase) ^ (1n << BigInt(bit));
  // Turning EN off also clears EXTD: disabled, not the invalid EXTD-only mode.
  return '0x' + (bit === 11 && !(v & 0x800n) ? v & ~0x400n : v).toString(16);
}

function Events({ v }: { v: FinalVcpu }) {
  const flags = [
    !v.swEnabled && v.mode !== 'disabled' && ['sw-off', 'software-disabled: SPIV bit 8 clear, Fixed interrupts are dropped'],
    v.pendingInit && ['INIT', 'INIT pending'],
    v.pendingSipi && ['SIPI', `SIPI pending, vector 0x${v.sipiVector.toString(16)}`],
    v.nmiPending > 0 && [`NMI${v.nmiPending > 1 ? '×2' : ''}`, `${v.nmiPending} NMI pending`],
    v.smiPending > 0 && ['SMI', 'SMI pending'],
    v.timer.pending && [timerWords.pendingBadge, timerWords.pendingBadgeHelp],
    v.guestMode && ['L2', 'running a nested guest'],
    v.vmxon && !v.guestMode && ['VMX', 'VMX root operation'],
    v.smm && ['SMM', 'in System Management Mode'],
  ].filter(Boolean) as [string, string][];
  return (
    <span className="vflags">
      {flags.map(([t, title]) => (
        <Tip key={t} className="badge" tip={title}>
          {t}
        </Tip>
      ))}
    </span>
  );
}

function VcpuRow({ index, host }: { index: number; host: boolean }) {
  const v = useLab((s) => s.snapshot.vcpus[index]);
  const selected = useLab((s) => s.selectedVcpu === v?.vcpu);
  const hovered = useLab((s) => s.hover !== null && 'vcpu' in s.hover && s.hover.vcpu === v?.vcpu);
  const fault = useLab((s) => {
    const last = s.log[s.cursor - 1];
    if (!last || last.result.ok || !('vcpu' in last.step) || last.step.vcpu !== v?.vcpu) return null;
    return last.result;
  });
  if (!v) return null;
  const store = labStore.getState();
  const write = (bit: 10 | 11) => store.apply({ op: 'wrmsr', vcpu: v.vcpu, msr: '0x1b', value: toggled(v.apicBase, bit), host });
  const irrTop = v.irr.length ? v.irr[v.irr.length - 1] : null;
  return (
    <div
      role="listitem"
      className={`vrow${selected ? ' selected' : ''}${hovered ? ' hovered' : ''}`}
      style={{ height: ROW }}
      data-testid={`vcpu-row-${v.vcpu}`}
      aria-current={selected || undefined}
      onMouseEnter={() => store.setHover({ vcpu: v.vcpu })}
      onMouseLeave={() => store.setHover(null)}
    >
      <button className="linkish mono" onClick={() => store.select(v.vcpu)} aria-label={`Select vCPU ${v.vcpu}`}>
        {v.vcpu}
      </button>
      {/* Software-disabled shows as the sw-off badge under ev; what each column is, on its heading. */}
      <span className={`mode mode-${v.mode}`}>{MODE_LABEL[v.mode]}</span>
      <span className="mono">{v.xapicId}</span>
      <span className="mono">{v.x2apicId}</span>
      <span className="mono">{v.ldr}</span>
      <span className="mono">{MP_SHORT[v.mpState] ?? v.mpState}</span>
      {irrTop === null && v.isr.length === 0 ? (
        <span className="mono">·</span>
      ) : (
        <Tip className="mono" tip={`IRR: ${v.irr.join(', ') || 'empty'}; ISR: ${v.isr.join(', ') || 'empty'}`}>
          {irrTop === null ? '·' : `${irrTop}${v.irr.length > 1 ? `+${v.irr.length - 1}` : ''}`}
        </Tip>
      )}
      <Events v={v} />
      <span className="vtoggles">
        <WithTip tip={`WRMSR IA32_APIC_BASE ${toggled(v.apicBase, 11)}${host ? ' (host-initiated)' : ''}`}>
          <button
            aria-pressed={v.mode !== 'disabled'}
            aria-label={`${v.mode === 'disabled' ? 'Enable' : 'Disable'} the APIC of vCPU ${v.vcpu} (APICBASE.EN)`}
            onClick={() => write(11)}
          >
            EN
          </button>
        </WithTip>
        <WithTip tip={`WRMSR IA32_APIC_BASE ${toggled(v.apicBase, 10)}${host ? ' (host-initiated)' : ''}`}>
          <button
            aria-pressed={v.mode === 'x2apic'}
            aria-label={`${v.mode === 'x2apic' ? 'Leave' : 'Enter'} x2APIC mode on vCPU ${v.vcpu} (APICBASE.EXTD)`}
            onClick={() => write(10)}
          >
            x2
          </button>
        </WithTip>
      </span>
      {fault && (
        // The rule that fired is spelled out in full under the list (LastFault).
        <span className="row-fault" role="alert" aria-describedby="vcpu-fault">
          {failureName(fault)}
        </span>
      )}
    </div>
  );
}

const FAULT_LINE = { margin: 0, padding: '4px 2px 0', fontSize: 12, flex: 'none', borderTop: '1px solid var(--line)' } as const;

/** Why the step at the cursor faulted on a vCPU: the rule that fired, in full, under the list. */
function LastFault() {
  const last = useLab((s) => s.log[s.cursor - 1]);
  if (!last || last.result.ok || !('vcpu' in last.step)) return null;
  const r = last.result;
  return (
    <p className="error" style={FAULT_LINE} data-testid="vcpu-fault" id="vcpu-fault">
      <strong>{failureName(r)}</strong> at step {r.i}: {refusalWords(r)} {r.refusal && <KvmSource fn={r.refusal.kvm} />}
    </p>
  );
}

/** Every vCPU: APIC mode, IDs, LDR, MP state, pending events, IRR; EN and x2APIC toggles write APICBASE. */
export function VcpuList() {
  const count = useLab((s) => s.snapshot.vcpus.length);
  const selectedIndex = useLab((s) => (s.selectedVcpu === null ? -1 : (s.vcpuIndex.get(s.selectedVcpu) ?? -1)));
  const [host, setHost] = useState(false);
  return (
    <Panel
      title="vCPUs"
      className="vcpus area-vcpus"
      actions={
        <WithTip tip="APICBASE writes from the toggles: a guest WRMSR (#GP on illegal transitions) or KVM_SET_MSRS from userspace">
          <label className="small">
            <input type="checkbox" checked={host} onChange={(e) => setHost(e.target.checked)} /> as host
          </label>
        </WithTip>
      }
    >
      {/* Column headings; the short ones say what they stand for on hover, focus or tap. */}
      <div className="vrow vhead">
        <span>vCPU</span>
        <Tip tip="APIC mode: off, xAPIC or x2APIC (from IA32_APIC_BASE)">mode</Tip>
        <Tip tip="xAPIC ID: bits 31:24 of APIC_ID (kvm_xapic_id)">xID</Tip>
        <Tip tip="x2APIC ID: always the vcpu_id (kvm_x2apic_id)">x2ID</Tip>
        <Tip tip="APIC_LDR, the logical destination register">LDR</Tip>
        <Tip tip={`mp_state: ${Object.entries(MP_SHORT).map(([k, v]) => `${v} = ${k}`).join(', ')}`}>mp</Tip>
        <Tip tip="highest IRR vector, +N more pending (the full IRR and ISR on the cell)">IRR</Tip>
        <Tip tip="pending events and state (each badge says what it is)">ev</Tip>
        <Tip tip="APICBASE toggles: EN (bit 11) and EXTD (bit 10), written as a guest WRMSR or, with as host, KVM_SET_MSRS">base</Tip>
      </div>
      <VirtualRows count={count} rowHeight={ROW} label="vCPUs" scrollTo={selectedIndex} render={(i) => <VcpuRow key={i} index={i} host={host} />} />
      <LastFault />
    </Panel>
  );
}
