import { memo, useCallback, useMemo, useState } from 'react';
import { labStore, useLab, type Hover } from '../../store/labStore';
import { Panel } from '../Panel';
import { findConflicts, hex8, type ApicMode, type ConflictReport, type KvmPick, type LogicalConflict, type PhysicalConflict } from './aliases';
import './conflicts.css';

/** vCPU chips shown per conflict before "+N more" (a 4096-vCPU VM has 16 vCPUs per xAPIC ID). */
const MAX_CHIPS = 4;
/** Truncated xAPIC IDs listed before "+N more". */
const MAX_TRUNCATED = 48;

const hover = (h: Hover) => labStore.getState().setHover(h);
const select = (vcpu: number) => labStore.getState().select(vcpu);

function VcpuChip({ vcpu, mode, selected, label }: { vcpu: number; mode?: ApicMode; selected: boolean; label?: string }) {
  return (
    <button
      className={`cf-chip ${mode ? `cf-${mode}` : ''} ${selected ? 'cf-sel' : ''}`}
      aria-label={`select vCPU ${vcpu}${mode ? ` (${mode === 'x2apic' ? 'x2APIC' : 'xAPIC'} mode)` : ''}`}
      aria-pressed={selected}
      title={`vCPU ${vcpu}${mode ? `, ${mode === 'x2apic' ? 'x2APIC ID' : 'xAPIC ID'}` : ''}: click to open its register page`}
      onClick={() => select(vcpu)}
      onMouseEnter={() => hover({ vcpu })}
      onFocus={() => hover({ vcpu })}
      onMouseLeave={() => hover(null)}
      onBlur={() => hover(null)}
    >
      {label ?? vcpu}
    </button>
  );
}

function Chips({ items, selected }: { items: { vcpu: number; mode?: ApicMode }[]; selected: number | null }) {
  return (
    <span className="cf-vcpus">
      {items.slice(0, MAX_CHIPS).map((m) => (
        <VcpuChip key={m.vcpu} vcpu={m.vcpu} mode={m.mode} selected={m.vcpu === selected} />
      ))}
      {items.length > MAX_CHIPS && <span className="muted" title={items.slice(MAX_CHIPS).map((m) => m.vcpu).join(', ')}>+{items.length - MAX_CHIPS}</span>}
    </span>
  );
}

function Verdict({ kvm }: { kvm: KvmPick }) {
  return (
    <span className={`cf-verdict cf-${kvm.path}`}>
      <span className="cf-path">{kvm.path}</span> {kvm.verdict}
    </span>
  );
}

function Explain({ kvm, hardware }: { kvm: KvmPick; hardware: string }) {
  return (
    <div className="cf-explain">
      <p>
        <strong>KVM</strong> <code>{kvm.fn}()</code>: {kvm.why}
      </p>
      <p>
        <strong>Architecture</strong>: {hardware}
      </p>
    </div>
  );
}

const PhysRow = memo(function PhysRow({ c, hot, selected, open, toggle }: { c: PhysicalConflict; hot: boolean; selected: number | null; open: boolean; toggle: (key: string) => void }) {
  const key = `p${c.apicId}`;
  return (
    <li className={`cf-row ${hot ? 'cf-hot' : ''}`} data-testid={`conflict-phys-${c.apicId}`} onMouseEnter={() => hover({ apicId: c.apicId })} onMouseLeave={() => hover(null)}>
      <div className="cf-line">
        <button
          className="cf-id"
          aria-expanded={open}
          aria-label={`APIC ID ${c.apicId}: ${open ? 'hide' : 'show'} why`}
          title={`${c.kvm.why}\n${c.hardware}`}
          onClick={() => toggle(key)}
          onFocus={() => hover({ apicId: c.apicId })}
        >
          <span aria-hidden="true">{open ? '▾' : '▸'}</span> ID <span className="mono">{c.apicId}</span>
        </button>
        <Chips items={c.members} selected={selected} />
        <Verdict kvm={c.kvm} />
        <span className="cf-hw" title={c.hardware}>
          HW: {c.members.length === 2 ? 'both' : 'all'}
        </span>
      </div>
      {open && <Explain kvm={c.kvm} hardware={c.hardware} />}
    </li>
  );
});

const LogRow = memo(function LogRow({ c, hot, selected, open, toggle }: { c: LogicalConflict; hot: boolean; selected: number | null; open: boolean; toggle: (key: string) => void }) {
  const key = `l${c.mode}${c.cluster}${c.bit}`;
  const where = c.mode === 'XAPIC_FLAT' ? `flat bit ${c.bit}` : `cluster ${c.cluster} bit ${c.bit}`;
  return (
    <li className={`cf-row ${hot ? 'cf-hot' : ''}`} data-testid={`conflict-log-${hex8(c.logicalId)}`}>
      <div className="cf-line">
        <button className="cf-id" aria-expanded={open} aria-label={`logical ID ${hex8(c.logicalId)}, ${where}: ${open ? 'hide' : 'show'} why`} title={`${c.kvm.why}\n${c.hardware}`} onClick={() => toggle(key)}>
          <span aria-hidden="true">{open ? '▾' : '▸'}</span> LDR <span className="mono">{hex8(c.logicalId)}</span>
        </button>
        <span className="cf-where muted">{where}</span>
        <Chips items={c.vcpus.map((vcpu) => ({ vcpu }))} selected={selected} />
        <Verdict kvm={c.kvm} />
      </div>
      {open && <Explain kvm={c.kvm} hardware={c.hardware} />}
    </li>
  );
});

function Truncated({ report, selected }: { report: ConflictReport; selected: number | null }) {
  const t = report.truncated;
  if (!t.length) return null;
  return (
    <details className="cf-trunc" open={t.length <= 4}>
      <summary>
        <span className="cf-h">Truncated xAPIC IDs ({t.length})</span> <span className="muted">vcpu_id &gt; 255 in xAPIC mode: xAPIC ID = vcpu_id &amp; 0xff</span>
      </summary>
      <span className="cf-vcpus cf-wrap">
        {t.slice(0, MAX_TRUNCATED).map((x) => (
          <VcpuChip key={x.vcpu} vcpu={x.vcpu} mode="xapic" selected={x.vcpu === selected} label={`${x.vcpu}→${x.xapicId}`} />
        ))}
        {t.length > MAX_TRUNCATED && <span className="muted">+{t.length - MAX_TRUNCATED} more</span>}
      </span>
    </details>
  );
}

/**
 * Alias conflicts: every physical APIC ID and logical ID that more than one vCPU answers to, who
 * KVM delivers to under the current settings and why, and what the architecture says; plus
 * multi-bit LDRs, mixed logical modes and truncated xAPIC IDs.
 */
export function ConflictsPanel() {
  const snapshot = useLab((s) => s.snapshot);
  const h = useLab((s) => s.hover);
  const selected = useLab((s) => s.selectedVcpu);
  const release = useLab((s) => s.vmInput.kvm ?? 'current');
  const report = useMemo(() => findConflicts(snapshot, { release }), [snapshot, release]);
  const physIndex = useMemo(() => new Map(report.physical.map((c, i) => [c.apicId, i])), [report]);
  const total = report.physical.length + report.logical.length;
  const [toggled, setToggled] = useState<ReadonlySet<string>>(new Set());
  const toggle = useCallback((key: string) => setToggled((t) => {
    const n = new Set(t);
    if (n.has(key)) n.delete(key);
    else n.add(key);
    return n;
  }), []);
  // Rows open by default when there are only a couple; a click flips the default.
  const isOpen = (key: string) => (total <= 2) !== toggled.has(key);

  // Highlight: O(1) look-ups, never a walk over the vCPUs per hover.
  const hotPhys = new Set<number>();
  const hotLog = new Set<number>();
  if (h && 'vcpu' in h) {
    const e = report.byVcpu.get(h.vcpu);
    e?.physical.forEach((i) => hotPhys.add(i));
    e?.logical.forEach((i) => hotLog.add(i));
  } else if (h && 'apicId' in h) {
    const i = physIndex.get(h.apicId);
    if (i !== undefined) hotPhys.add(i);
  }
  const selEntry = selected === null ? undefined : report.byVcpu.get(selected);
  const selPhys = new Set(selEntry?.physical);
  const selLog = new Set(selEntry?.logical);

  const summary = total === 0 ? 'none' : `${report.physical.length} physical · ${report.logical.length} logical`;
  return (
    <Panel
      title="Alias conflicts"
      className="area-conflicts cf-panel"
      actions={
        <span className={`cf-count ${total ? 'cf-count-bad' : ''}`} data-testid="conflict-count">
          {total > 0 && <span aria-hidden="true">⚠ </span>}
          {summary}
        </span>
      }
    >
      {report.physical.length > 0 ? (
        <section aria-label="Shared physical APIC IDs">
          <h3 className="cf-h">
            Physical IDs ({report.physical.length}) <span className="cf-policy">— {report.physicalPolicy}</span>
          </h3>
          <ul className="cf-list">
            {report.physical.map((c, i) => (
              <PhysRow key={c.apicId} c={c} hot={hotPhys.has(i)} selected={selPhys.has(i) ? selected : null} open={isOpen(`p${c.apicId}`)} toggle={toggle} />
            ))}
          </ul>
        </section>
      ) : (
        <p className="cf-none">
          <span aria-hidden="true">✓ </span>No shared physical APIC ID: every hardware-enabled vCPU has its own.
        </p>
      )}
      {(report.logical.length > 0 || report.multiBit.length > 0 || report.mixed) && (
        <section aria-label="Shared logical IDs">
          <h3 className="cf-h">
            Logical IDs ({report.logical.length}) <span className="cf-policy">— {report.logicalPolicy}</span>
          </h3>
          {report.mixed && (
            <p className="cf-note" data-testid="conflict-mixed">
              <span aria-hidden="true">⚠ </span>Mixed logical modes:{' '}
              {report.mixed.modes.map((m, i) => (
                <span key={m.mode}>
                  {i > 0 && ', '}
                  <code>{m.mode}</code> ({m.vcpus.slice(0, 4).join(', ')}
                  {m.vcpus.length > 4 ? ` +${m.vcpus.length - 4}` : ''})
                </span>
              ))}{' '}
              → {report.modern ? 'MAP_DISABLED' : 'slow path'}
            </p>
          )}
          {report.multiBit.map((m) => (
            <p className="cf-note" key={m.vcpu}>
              <span aria-hidden="true">⚠ </span>vCPU {m.vcpu}: logical ID <code>{hex8(m.logicalId)}</code> has more than one bit set ({m.mode === 'XAPIC_FLAT' ? 'flat' : 'cluster'}) → {report.modern ? 'MAP_DISABLED' : 'its lowest bit takes the slot'}
            </p>
          ))}
          <ul className="cf-list">
            {report.logical.map((c, i) => (
              <LogRow key={`${c.mode}${c.cluster}${c.bit}`} c={c} hot={hotLog.has(i)} selected={selLog.has(i) ? selected : null} open={isOpen(`l${c.mode}${c.cluster}${c.bit}`)} toggle={toggle} />
            ))}
          </ul>
        </section>
      )}
      <Truncated report={report} selected={selected} />
      {total === 0 && !report.mixed && !report.multiBit.length && !report.truncated.length && (
        <p className="cf-policy muted">
          Checked: the physical IDs of hardware-enabled vCPUs (8-bit xAPIC ID in xAPIC mode, 32-bit ID in x2APIC mode), the logical IDs of
          software-enabled APICs with a non-zero LDR ({report.logicalPolicy}), and the xAPIC IDs of vCPUs above 255.
        </p>
      )}
    </Panel>
  );
}
