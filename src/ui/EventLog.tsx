import { useEffect, useMemo, useState } from 'react';
import { labStore, useLab } from '../store/labStore';
import { Panel } from './Panel';
import { resultLine, searchText, stepLine } from './stepText';
import { VirtualRows } from './VirtualRows';

const ROW = 20;

/**
 * Every step with its result, filterable; clicking a step shows the state after it (time travel);
 * undo and redo move through the log; the trace of the current step is shown below the list.
 */
export function EventLog() {
  const log = useLab((s) => s.log);
  const cursor = useLab((s) => s.cursor);
  const [filter, setFilter] = useState('');
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const all = log.map((_, i) => i);
    return f ? all.filter((i) => searchText(log[i]).includes(f)) : all;
  }, [log, filter]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || (e.target as HTMLElement)?.tagName === 'INPUT') return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey) labStore.getState().undo();
      else if (k === 'y' || (k === 'z' && e.shiftKey)) labStore.getState().redo();
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const current = log[cursor - 1];
  const trace = (current?.result.trace as { event: string; vcpu?: number; detail: string }[] | undefined) ?? [];
  const store = labStore.getState();
  return (
    <Panel
      title="Event log"
      className="log area-log"
      actions={
        <div className="actions">
          <button onClick={() => store.undo()} disabled={cursor === 0} aria-label="Undo (Ctrl+Z)" title="Undo (Ctrl+Z)">
            ↶
          </button>
          <button onClick={() => store.redo()} disabled={cursor === log.length} aria-label="Redo (Ctrl+Y)" title="Redo (Ctrl+Y)">
            ↷
          </button>
          <input className="filter" type="search" placeholder="filter" aria-label="Filter the event log" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
      }
    >
      <div className="logwrap">
        {log.length === 0 ? (
          <p className="muted">No steps yet: every action in the other panels is logged here as a scenario step.</p>
        ) : (
          <VirtualRows
            count={shown.length}
            rowHeight={ROW}
            label="Steps"
            scrollTo={shown.indexOf(cursor - 1)}
            render={(n) => {
              const i = shown[n];
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
          <div className="tracebox" aria-label={`Trace of step ${cursor - 1}`}>
            {trace.length === 0 ? (
              <span className="muted">step {cursor - 1}: no trace events</span>
            ) : (
              trace.map((t, k) => (
                <div key={k} className="mono">
                  <span className="tp">{t.event}</span>
                  {t.vcpu !== undefined ? ` vcpu ${t.vcpu}` : ''}: {t.detail}
                </div>
              ))
            )}
          </div>
        )}
      </div>
    </Panel>
  );
}
