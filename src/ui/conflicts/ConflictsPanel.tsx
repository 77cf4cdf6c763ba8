import { memo, useCallback, useMemo, useState } from 'react';
import type { MapDecision, RouteDecision } from '../../core/decisions';
import { explain, type Now } from '../../explain/explain';
import {
  aliasVerdict, CONFLICTS_CHECKED, conflictCount, count, hardwareShort, logicalAliasArchitecture, logicalPreviewHelp, logicalSlotWords,
  NO_PHYSICAL_ALIAS, physicalAliasArchitecture, physicalPreviewHelp, routeWords, TRUNCATED_HELP, truncatedHeading,
} from '../../explain/panels';
import { labStore, useLab, type Hover } from '../../store/labStore';
import { KvmSource } from '../KvmSource';
import { Expandable, Panel, Tip } from '../Panel';
import { hex8, type ApicMode, type ConflictReport, type LogicalConflict, type PhysicalConflict } from './aliases';
import { useConflictReport } from './useConflictReport';
import './conflicts.css';

/** vCPU chips shown per conflict before "+N more" (a 4096-vCPU VM has 16 vCPUs per xAPIC ID). */
const MAX_CHIPS = 4;
/** Truncated xAPIC IDs listed before "+N more". */
const MAX_TRUNCATED = 48;
/** Conflict rows of each kind listed before "show all" (a big aliased VM has hundreds; the selected vCPU's are always listed). */
export const MAX_CONFLICT_ROWS = 32;

/** The first `limit` items and any others `keep` asks for, with their indices. */
function firstAnd<T>(items: readonly T[], limit: number, keep: (i: number) => boolean): [T, number][] {
  const out: [T, number][] = [];
  items.forEach((x, i) => {
    if (i < limit || keep(i)) out.push([x, i]);
  });
  return out;
}

/** "Show all N" under a list cut at `limit` (nothing when it is not cut). */
function ShowAll({ total, limit, what, onClick }: { total: number; limit: number; what: string; onClick(): void }) {
  if (total <= limit) return null;
  return (
    <button type="button" className="linkish small" onClick={onClick}>
      Show all {count(total)} {what} ({count(total - limit)} more)
    </button>
  );
}

const hover = (h: Hover) => labStore.getState().setHover(h);
const select = (vcpu: number) => labStore.getState().select(vcpu);

function VcpuChip({ vcpu, mode, selected, label }: { vcpu: number; mode?: ApicMode; selected: boolean; label?: string }) {
  return (
    <button
      className={`cf-chip ${mode ? `cf-${mode}` : ''} ${selected ? 'cf-sel' : ''}`}
      aria-label={`select vCPU ${vcpu}${mode ? ` (${mode === 'x2apic' ? 'x2APIC' : 'xAPIC'} mode)` : ''}`}
      aria-pressed={selected}
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
      {items.length > MAX_CHIPS && (
        <Tip className="muted" tip={`also vCPU ${items.slice(MAX_CHIPS).map((m) => m.vcpu).join(', ')}`}>
          +{items.length - MAX_CHIPS}
        </Tip>
      )}
    </span>
  );
}

/** The path badge, who of the sharing vCPUs KVM reaches, and the first finding about them. */
function Verdict({ c, now, onClick }: { c: PhysicalConflict | LogicalConflict; now: Now; onClick: () => void }) {
  const sharing = c.kind === 'physical' ? c.members.map((m) => m.vcpu) : c.vcpus;
  // Clicking the words opens the row (the ID button is the keyboard way): the full text wraps.
  return (
    <span className={`cf-verdict ${c.route ? `cf-${c.route.path}` : ''}`} onClick={onClick}>
      {c.route && <span className="cf-path">{c.route.path}</span>} {aliasVerdict(sharing, c.reached)}
      {c.why[0] && <span className="cf-why"> — {explain(c.why[0], 'short', now)}</span>}
    </span>
  );
}


function Explain({ route, why, hardware, now }: { route: RouteDecision | null; why: MapDecision[]; hardware: string; now: Now }) {
  return (
    <div className="cf-explain">
      {route && (
        <p>
          <strong>KVM</strong>: {routeWords(route, 'long')}
          <KvmSource fn={route.kvm} />
        </p>
      )}
      {why.map((d, i) => (
        <p key={i}>
          <strong>Why</strong>: {explain(d, 'long', now)}
          <KvmSource fn={d.kvm} />
        </p>
      ))}
      <p>
        <strong>Architecture</strong>: {hardware}
      </p>
    </div>
  );
}

interface RowProps<C> {
  c: C;
  hot: boolean;
  selected: number | null;
  open: boolean;
  toggle: (key: string) => void;
  now: Now;
}

const PhysRow = memo(function PhysRow({ c, hot, selected, open, toggle, now }: RowProps<PhysicalConflict>) {
  const key = `p${c.apicId}`;
  const hardware = physicalAliasArchitecture(c.apicId, c.members.map((m) => m.vcpu));
  return (
    <li className={`cf-row ${hot ? 'cf-hot' : ''}${open ? ' cf-open' : ''}`} data-testid={`conflict-phys-${c.apicId}`} onMouseEnter={() => hover({ apicId: c.apicId })} onMouseLeave={() => hover(null)}>
      <div className="cf-line">
        <button
          className="cf-id"
          aria-expanded={open}
          aria-label={`APIC ID ${c.apicId}: ${open ? 'hide' : 'show'} why`}
          onClick={() => toggle(key)}
          onFocus={() => hover({ apicId: c.apicId })}
        >
          <span aria-hidden="true">{open ? '▾' : '▸'}</span> ID <span className="mono">{c.apicId}</span>
        </button>
        <Chips items={c.members} selected={selected} />
        <Verdict c={c} now={now} onClick={() => toggle(key)} />
        <Tip className="cf-hw" tip={hardware}>
          {hardwareShort(c.members.length)}
        </Tip>
      </div>
      {open && <Explain route={c.route} why={[...c.why, ...c.routeWhy]} hardware={hardware} now={now} />}
    </li>
  );
});

const LogRow = memo(function LogRow({ c, hot, selected, open, toggle, now }: RowProps<LogicalConflict>) {
  const key = `l${c.mode}${c.cluster}${c.bit}`;
  const where = logicalSlotWords(c.cluster, c.bit);
  const hardware = logicalAliasArchitecture(c.cluster, c.bit, c.vcpus);
  return (
    <li className={`cf-row ${hot ? 'cf-hot' : ''}${open ? ' cf-open' : ''}`} data-testid={`conflict-log-${hex8(c.logicalId)}`}>
      <div className="cf-line">
        <button className="cf-id" aria-expanded={open} aria-label={`logical ID ${hex8(c.logicalId)}, ${where}: ${open ? 'hide' : 'show'} why`} onClick={() => toggle(key)}>
          <span aria-hidden="true">{open ? '▾' : '▸'}</span> LDR <span className="mono">{hex8(c.logicalId)}</span>
        </button>
        <span className="cf-where muted">{where}</span>
        <Chips items={c.vcpus.map((vcpu) => ({ vcpu }))} selected={selected} />
        <Verdict c={c} now={now} onClick={() => toggle(key)} />
      </div>
      {open && <Explain route={c.route} why={[...c.why, ...c.routeWhy]} hardware={hardware} now={now} />}
    </li>
  );
});

function Truncated({ report, selected, now }: { report: ConflictReport; selected: number | null; now: Now }) {
  const t = report.truncated;
  if (!t.length) return null;
  const hack = report.reachedBy32BitId;
  return (
    <details className="cf-trunc" open={t.length <= 4}>
      <summary>
        <span className="cf-h">{truncatedHeading(t.length)}</span> <span className="muted">{TRUNCATED_HELP}</span>
      </summary>
      {hack && (
        <p className="cf-policy">
          <Expandable className="cf-more" full={explain(hack, 'long', now)}>
            {explain(hack, 'short', now)}
          </Expandable>
          <KvmSource fn={hack.kvm} />
        </p>
      )}
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
 * Alias conflicts: every physical APIC ID and logical ID that more than one vCPU answers to, whom
 * KVM would deliver a Fixed IPI to now and why (the core's route and map findings, in explain's
 * words), and what the architecture says; plus the logical map's other findings and truncated
 * xAPIC IDs.
 */
export function ConflictsPanel() {
  const report = useConflictReport();
  const x2apicFormat = useLab((s) => s.snapshot.caps.x2apicFormat);
  const now = useMemo(() => ({ x2apicFormat }), [x2apicFormat]);
  const h = useLab((s) => s.hover);
  const selected = useLab((s) => s.selectedVcpu);
  const physIndex = useMemo(() => new Map(report.physical.map((c, i) => [c.apicId, i])), [report]);
  const total = report.physical.length + report.logical.length;
  const [toggled, setToggled] = useState<ReadonlySet<string>>(new Set());
  const [allRows, setAllRows] = useState(false);
  const limit = allRows ? Infinity : MAX_CONFLICT_ROWS;
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

  return (
    <Panel
      title="Alias conflicts"
      className="area-conflicts cf-panel"
      actions={
        <span className={`cf-count ${total ? 'cf-count-bad' : ''}`} data-testid="conflict-count">
          {total > 0 && <span aria-hidden="true">⚠ </span>}
          {conflictCount(report.physical.length, report.logical.length)}
        </span>
      }
    >
      {report.physical.length > 0 ? (
        <section aria-label="Shared physical APIC IDs">
          <h3 className="cf-h">
            Physical IDs ({report.physical.length}) <span className="cf-policy">— {physicalPreviewHelp}</span>
          </h3>
          <ul className="cf-list">
            {firstAnd(report.physical, limit, (i) => selPhys.has(i) || hotPhys.has(i)).map(([c, i]) => (
              <PhysRow key={c.apicId} c={c} hot={hotPhys.has(i)} selected={selPhys.has(i) ? selected : null} open={isOpen(`p${c.apicId}`)} toggle={toggle} now={now} />
            ))}
          </ul>
          <ShowAll total={report.physical.length} limit={limit} what="shared physical IDs" onClick={() => setAllRows(true)} />
        </section>
      ) : (
        <p className="cf-none">
          <span aria-hidden="true">✓ </span>
          {NO_PHYSICAL_ALIAS}
        </p>
      )}
      {(report.logical.length > 0 || report.logicalNotes.length > 0) && (
        <section aria-label="Shared logical IDs">
          <h3 className="cf-h">
            Logical IDs ({report.logical.length}) {report.logical.length > 0 && <span className="cf-policy">— {logicalPreviewHelp}</span>}
          </h3>
          {report.logicalNotes.map((d, i) => (
            <p className="cf-note" key={i} data-testid={`conflict-note-${d.code}`}>
              <span aria-hidden="true">⚠ </span>
              <Expandable className="cf-more" full={explain(d, 'long', now)}>
                {explain(d, 'short', now)}
              </Expandable>
              <KvmSource fn={d.kvm} />
            </p>
          ))}
          <ul className="cf-list">
            {firstAnd(report.logical, limit, (i) => selLog.has(i) || hotLog.has(i)).map(([c, i]) => (
              <LogRow key={`${c.mode}${c.cluster}${c.bit}`} c={c} hot={hotLog.has(i)} selected={selLog.has(i) ? selected : null} open={isOpen(`l${c.mode}${c.cluster}${c.bit}`)} toggle={toggle} now={now} />
            ))}
          </ul>
          <ShowAll total={report.logical.length} limit={limit} what="shared logical IDs" onClick={() => setAllRows(true)} />
        </section>
      )}
      <Truncated report={report} selected={selected} now={now} />
      {total === 0 && !report.logicalNotes.length && !report.truncated.length && <p className="cf-policy muted">{CONFLICTS_CHECKED}</p>}
    </Panel>
  );
}
