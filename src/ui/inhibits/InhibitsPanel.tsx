import { useMemo } from 'react';
import {
  CAUSE_NOT_RECORDED, engineStateTitle, notYetHelp, notYetSummary, STICKY_HELP, unusedHelp, unusedSummary,
} from '../../explain/panels';
import { useLab } from '../../store/labStore';
import { KvmSource } from '../KvmSource';
import { Expandable, Panel, Tip } from '../Panel';
import { accessPageDeleter, inhibitView } from './inhibitRows';
import './inhibits.css';

/** A small padlock: sticky inhibits (KVM never clears them once set). */
function Lock() {
  return (
    <svg className="ih-lock" viewBox="0 0 10 12" width="9" height="11" aria-hidden="true">
      <path d="M2.5 5V3.5a2.5 2.5 0 0 1 5 0V5" fill="none" stroke="currentColor" strokeWidth="1.4" />
      <rect x="1" y="5" width="8" height="6.5" rx="1" fill="currentColor" />
    </svg>
  );
}

/**
 * APICv / AVIC inhibits: every reason of enum kvm_apicv_inhibit the vendor honours, set or clear,
 * sticky or not, what set it and what it means; whether APICv/AVIC is active and the APIC-access
 * page's state.
 */
export function InhibitsPanel() {
  const snapshot = useLab((s) => s.snapshot);
  const vendor = useLab((s) => s.vmInput.vendor ?? 'intel');
  const release = useLab((s) => s.vmInput.kvm ?? 'current');
  const log = useLab((s) => s.log);
  const cursor = useLab((s) => s.cursor);
  const deletedBy = useMemo(
    () => (snapshot.apicAccessPage === 'deleted' ? accessPageDeleter(log.slice(0, cursor).map((e) => e.result)) : null),
    [snapshot, log, cursor],
  );
  const v = useMemo(() => inhibitView(snapshot, vendor, { deletedBy, release }), [snapshot, vendor, deletedBy, release]);

  return (
    <Panel
      title="APICv inhibits"
      className="area-inhibits ih-panel"
      actions={
        <Tip
          className={`ih-active ${v.active ? 'ih-on' : 'ih-off'}`}
          testId="apicv-active"
          tip={engineStateTitle(v.vendor, v.active, v.rows.filter((r) => r.set).map((r) => r.reason))}
        >
          <span aria-hidden="true">{v.active ? '● ' : '⊘ '}</span>
          {v.engine} {v.active ? 'active' : 'inhibited'}
        </Tip>
      }
    >
      <p className={`ih-page ih-page-${v.accessPage.state}`} data-testid="apic-access-page">
        <span className="ih-k">APIC-access page:</span> <strong>{v.accessPage.label}</strong>{' '}
        <span className="ih-page-why">{v.accessPage.why}</span>
        {v.accessPage.kvm && <KvmSource fn={v.accessPage.kvm} />}
      </p>
      <ul className="ih-list" aria-label={`${v.engine} inhibit reasons`}>
        {v.rows.map((r) => (
          <li key={r.reason} className={r.set ? 'ih-set' : 'ih-clear'} data-testid={`inhibit-${r.reason}`}>
            <div className="ih-line">
              <span className="ih-state">{r.set ? 'SET' : 'clear'}</span>
              <Tip className="ih-name" tip={r.title}>
                <code>{r.reason}</code>
              </Tip>
              {r.sticky && (
                <Tip className="ih-sticky" tip={STICKY_HELP}>
                  <Lock />
                  sticky
                </Tip>
              )}
              <Expandable className="ih-meaning">{r.meaning}</Expandable>
            </div>
            {r.set && (
              <div className="ih-cause">
                set by: {r.causeText ?? CAUSE_NOT_RECORDED}
                <KvmSource fn={r.cause?.kvm ?? r.kvm} />
              </div>
            )}
          </li>
        ))}
      </ul>
      {v.notYet.length > 0 && (
        <details className="ih-unused">
          <summary>
            {notYetSummary(v.notYet.length, v.release)}
          </summary>
          <p>
            {v.notYet.map((r) => (
              <code key={r}>{r}</code>
            ))}
          </p>
          <p className="muted">{notYetHelp(v.release)}</p>
        </details>
      )}
      {v.unused.length > 0 && (
        <details className="ih-unused">
          <summary>
            {unusedSummary(v.unused.length, v.vendor)}
          </summary>
          <p>
            {v.unused.map((r) => (
              <code key={r}>{r}</code>
            ))}
          </p>
          <p className="muted">{unusedHelp(v.vendor)}</p>
        </details>
      )}
    </Panel>
  );
}
