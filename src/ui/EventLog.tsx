import { useEffect, useMemo, useState } from 'react';
import { KVM_FORMAT_EVENTS, traceToText } from '../core/traceFormat';
import type { Decision } from '../core/decisions';
import { explain } from '../explain/explain';
import { timerLogWords } from '../explain/panels';
import { labStore, useLab } from '../store/labStore';
import { KvmSource } from './KvmSource';
import { Panel, WithTip } from './Panel';
import { decisionsOf, failureName, resultLine, searchText, stepLine } from './stepText';
import { VirtualRows } from './VirtualRows';

const ROW = 20;
/** How many of a step's decisions (a broadcast's drops can be thousands) are explained one by one. */
const MAX_WHY = 8;
const STATUS_LINE = { margin: '2px 0', flex: 'none', fontSize: 12 } as const;

/**
 * Every step with its result, filterable; clicking a step shows the state after it (time travel);
 * undo and redo move through the log; why the current step did what it did (its decisions, in
 * words) and its trace are shown below the list; "Copy trace" copies the trace up to the shown
 * step as `trace-cmd report` text.
 */
export function EventLog() {
  const log = useLab((s) => s.log);
  const cursor = useLab((s) => s.cursor);
  const x2apicFormat = useLab((s) => s.snapshot.caps.x2apicFormat);
  const [filter, setFilter] = useState('');
  const [copied, setCopied] = useState<{ ok: boolean; text: string } | null>(null);
  // The steps the filter keeps (null: all of them, with no list of 200,000 indices built per step).
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    if (!f) return null;
    const out: number[] = [];
    log.forEach((e, i) => searchText(e).includes(f) && out.push(i));
    return out;
  }, [log, filter]);

  // Ctrl+Z / Ctrl+Y: useUndoKeys (called by the VM bar).
  // What the copy said applies to the log it copied.
  useEffect(() => setCopied(null), [log, cursor]);

  const copyTrace = async () => {
    // Only KVM's own tracepoints: the lab's notes (map rebuilds, IPI virtualization) are not trace-cmd lines.
    const text = traceToText(log.slice(0, cursor).map((e) => e.result.trace ?? []), { events: KVM_FORMAT_EVENTS });
    if (!text) return setCopied({ ok: false, text: `no KVM trace events up to step ${cursor - 1}` });
    const lines = text.split('\n').length - 1;
    try {
      await navigator.clipboard.writeText(text);
      setCopied({ ok: true, text: `copied ${lines} trace line${lines === 1 ? '' : 's'} (steps 0-${cursor - 1})` });
    } catch (e) {
      setCopied({ ok: false, text: `could not copy the trace: ${e instanceof Error ? e.message : String(e)}` });
    }
  };

  const current = log[cursor - 1];
  const why = current ? decisionsOf(current.result) : [];
  const explained = new Set<Decision>(why);
  const trace = current?.result.trace ?? [];
  // A timer that expired leaves no trace line (only its later delivery does): say so where the trace is.
  const untracedExpiry = why.some((d) => d.kind === 'event' && d.code === 'TIMER_EXPIRED' && !d.injectedNow);
  const store = labStore.getState();
  return (
    <Panel
      title="Event log"
      className="log area-log"
      actions={
        <div className="actions">
          <button onClick={() => store.undo()} disabled={cursor === 0} aria-label="Undo (Ctrl+Z)">
            ↶
          </button>
          <button onClick={() => store.redo()} disabled={cursor === log.length} aria-label="Redo (Ctrl+Y)">
            ↷
          </button>
          <WithTip tip={`Copy the KVM trace events (${KVM_FORMAT_EVENTS.join(', ')}) of steps 0 to ${cursor - 1} as trace-cmd report text`}>
            <button className="mini" onClick={copyTrace} disabled={cursor === 0}>
              Copy trace
            </button>
          </WithTip>
          <input className="filter" type="search" placeholder="filter" aria-label="Filter the event log" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
      }
    >
      <div className="logwrap">
        {copied && (
          <p role="status" className={copied.ok ? 'muted' : 'error'} style={STATUS_LINE} data-testid="copy-trace-status">
            {copied.text}
          </p>
        )}
        {log.length === 0 ? (
          <p className="muted">No steps yet: every action in the other panels is logged here as a scenario step.</p>
        ) : (
          <VirtualRows
            count={shown ? shown.length : log.length}
            rowHeight={ROW}
            label="Steps"
            scrollTo={shown ? shown.indexOf(cursor - 1) : cursor - 1}
            render={(n) => {
              const i = shown ? shown[n] : n;
              const e = log[i];
              const state = i === cursor - 1 ? 'current' : i >= cursor ? 'future' : '';
              return (
                <div key={i} role="listitem" className={`logrow ${state} ${e.result.ok ? '' : 'fault'}`} style={{ height: ROW }}>
                  <button className="linkish mono" onClick={() => store.travel(i + 1)} aria-label={`Show the state after step ${i}`} aria-current={state === 'current' || undefined}>
                    <span className="muted">{i}</span> {stepLine(e)} <span className="res">→ {resultLine(e)}</span>
                  </button>
                </div>
              );
            }}
          />
        )}
        {current && (
          <div className="tracebox" role="region" tabIndex={0} aria-label={`Trace of step ${cursor - 1}`}>
            {why.length > 0 && (
              <ul className="log-list" aria-label={`Why step ${cursor - 1} did what it did`} data-testid="log-why">
                {why.slice(0, MAX_WHY).map((d, k) => (
                  <li key={k} className={d.kind === 'refusal' ? 'fault' : ''}>
                    {d.kind === 'refusal' && <strong>{failureName(current.result)}: </strong>}
                    {explain(d, 'long', { x2apicFormat })} <KvmSource fn={d.kvm} />
                  </li>
                ))}
                {why.length > MAX_WHY && <li className="muted">and {why.length - MAX_WHY} more decisions</li>}
              </ul>
            )}
            {trace.length === 0 ? (
              <span className="muted">
                step {cursor - 1}: no trace events{untracedExpiry ? ` (${timerLogWords.noExpiryTracepoint})` : ''}
              </span>
            ) : (
              trace.map((t, k) => (
                <div key={k} className="mono">
                  <span className="tp">{t.event}</span>
                  {t.vcpu !== undefined ? ` vcpu ${t.vcpu}` : ''}: {t.detail}
                  {t.decision && !explained.has(t.decision) && (
                    <div className="muted">
                      why: {explain(t.decision, 'long', { x2apicFormat })} <KvmSource fn={t.decision.kvm} />
                    </div>
                  )}
                </div>
              ))
            )}
          </div>
        )}
      </div>
    </Panel>
  );
}
