/**
 * Review a trace import before loading it: the threads the importer found, the vCPU it tied each
 * one to and how (the report's own words), and a box per thread to change the vCPU or skip the
 * thread; Load re-imports with that mapping (options.threads) and loads the scenario.
 */
import { useState, type FormEvent } from 'react';
import { importTrace, MAX_VCPU_ID, TraceImportError, type TraceImportReport, type TraceImportResult } from '../../import/traceCmd';
import { labStore } from '../../store/labStore';
import './importReview.css';

interface Row {
  pid: string;
  comm: string;
  /** The vCPU the importer tied the thread to, or undefined when it could not. */
  inferred?: number;
  /** How it did, or why it could not: the report's words. */
  how: string;
}

/** The threads of a report, tied ones first (by vCPU), then the ones left unresolved. */
function rowsOf(report: TraceImportReport): Row[] {
  const tied = report.vcpus.flatMap((v) => v.threads.map((t) => ({ pid: String(t.pid), comm: t.comm, inferred: v.vcpu, how: v.how })));
  const loose = report.unresolvedThreads.map((t) => ({ pid: String(t.pid), comm: t.comm, how: t.reason }));
  return [...tied, ...loose];
}

/** The one-line summary of an import (also the notice shown once it is loaded). */
export function traceSummary(report: TraceImportReport, vcpus: number[]): string {
  return `${report.steps.length} steps from ${report.eventLines} events on vCPUs ${vcpus.join(', ')}; ${report.checks.length} deliveries and ${report.final.length} values of the end state to check; ${report.skippedCount} events skipped, ${report.notUnderstoodCount} lines not understood`;
}

/** What the boxes ask for, as options.threads: only the threads whose vCPU changed. */
type Parsed = { threads: Record<string, number | null> } | { bad: string; pid: string };
function parse(rows: Row[], draft: Record<string, string>): Parsed {
  const threads: Record<string, number | null> = {};
  for (const r of rows) {
    const t = draft[r.pid].trim();
    if (t === '' || t.toLowerCase() === 'skip') {
      if (r.inferred !== undefined) threads[r.pid] = null;
    } else if (!/^\d+$/.test(t)) {
      return { pid: r.pid, bad: t };
    } else if (Number(t) !== r.inferred) {
      threads[r.pid] = Number(t);
    }
  }
  return { threads };
}

export function ImportReview({ text, fileName, first, onClose }: { text: string; fileName: string; first: TraceImportResult; onClose: () => void }) {
  const rows = rowsOf(first.report);
  const [draft, setDraft] = useState<Record<string, string>>(() => Object.fromEntries(rows.map((r) => [r.pid, r.inferred === undefined ? '' : String(r.inferred)])));
  const [shown, setShown] = useState(first);
  const [error, setError] = useState<{ pid?: string; message: string } | null>(null);
  /** The trace has PV IPI hypercalls, whose reading depends on the guest's mode, which no trace line shows. */
  const hasPvIpis = first.scenario.steps.some((st) => st.op === 'pv_send_ipi');
  const [guest32, setGuest32] = useState(false);

  /** Import with the mapping in the boxes; null (and a message) when the mapping is not valid. */
  const reimport = (hypercall64 = !guest32): TraceImportResult | null => {
    const p = parse(rows, draft);
    const comm = (pid?: string) => rows.find((r) => r.pid === pid)?.comm;
    const invalid = (pid: string, what: string) => `Thread “${comm(pid)}” (pid ${pid}): “${what}” is not a vCPU id. Type a whole number from 0 to ${MAX_VCPU_ID - 1}, or leave the box empty to skip the thread.`;
    if ('bad' in p) {
      setError({ pid: p.pid, message: invalid(p.pid, p.bad) });
      return null;
    }
    try {
      const r = importTrace(text, { threads: p.threads, hypercall64 });
      setError(null);
      setShown(r);
      return r;
    } catch (e) {
      if (!(e instanceof TraceImportError)) throw e;
      setError(e.pid ? { pid: e.pid, message: invalid(e.pid, draft[e.pid]?.trim() ?? '') } : { message: e.message });
      return null;
    }
  };
  const load = (e: FormEvent) => {
    e.preventDefault();
    const r = reimport();
    if (!r) return;
    if (r.report.steps.length === 0) {
      setError({ message: 'With this mapping no event becomes a step, so there is nothing to load: give a vCPU to a thread that has APIC events.' });
      return;
    }
    const store = labStore.getState();
    if (store.importScenario(JSON.stringify(r.scenario))) {
      store.setNotice(`trace: ${traceSummary(r.report, r.scenario.vm.vcpus)}` + (r.report.warnings.length ? `; ${r.report.warnings[0].message}` : ''));
      onClose();
    } else {
      // The store refused the scenario and says why in its error line, which this dialog covers.
      setError({ message: labStore.getState().error ?? 'The scenario could not be loaded.' });
    }
  };
  const warnings = shown.report.warnings;
  return (
    <div className="ir-overlay" role="presentation" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <section className="ir-dialog" role="dialog" aria-modal="true" aria-labelledby="import-review-title" aria-describedby="import-review-intro">
        <form onSubmit={load}>
          <header className="ir-head">
            <h2 id="import-review-title">Import a trace: which vCPU each thread runs</h2>
            <span className="muted mono">{fileName}</span>
          </header>
          <div className="ir-body">
            <p id="import-review-intro">
              A trace names host threads, not vCPUs. A thread is a task of the host; each vCPU runs on the thread that asks KVM to run it
              (QEMU calls those threads “CPU n/KVM”). Below is the vCPU the importer tied each thread with APIC events to, and how it
              knew. Change a number if it is wrong, or empty the box to skip that thread’s events, then Load.
            </p>
            <table className="grid ir-threads">
              <thead>
                <tr>
                  <th scope="col">thread</th>
                  <th scope="col">pid</th>
                  <th scope="col">vCPU</th>
                  <th scope="col">how the importer found it</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => {
                  const wrong = error?.pid === r.pid;
                  const changed = draft[r.pid].trim() !== (r.inferred === undefined ? '' : String(r.inferred));
                  return (
                    <tr key={r.pid} data-testid={`thread-${r.pid}`} className={changed ? 'changed' : ''}>
                      <td className="mono">{r.comm}</td>
                      <td className="mono">{r.pid}</td>
                      <td>
                        <input
                          className="mono"
                          autoFocus={i === 0}
                          inputMode="numeric"
                          placeholder="skip"
                          aria-label={`vCPU for thread ${r.comm} (pid ${r.pid})`}
                          aria-invalid={wrong || undefined}
                          aria-describedby={wrong ? 'import-review-error' : undefined}
                          value={draft[r.pid]}
                          onChange={(e) => setDraft({ ...draft, [r.pid]: e.target.value })}
                        />
                        {changed && <span className="muted small"> was {r.inferred ?? 'none'}</span>}
                      </td>
                      <td className="ir-how">{r.inferred === undefined ? <strong>not tied: </strong> : null}{r.how}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {rows.length === 0 && <p className="muted">No thread with APIC events: the trace’s steps need no vCPU thread (MSIs).</p>}
            {hasPvIpis && (
              <p>
                <label>
                  <input
                    type="checkbox"
                    checked={guest32}
                    onChange={(e) => {
                      setGuest32(e.target.checked);
                      reimport(!e.target.checked);
                    }}
                  />{' '}
                  The guest was 32-bit
                </label>{' '}
                <span className="muted">
                  The trace has PV IPI hypercalls (kvm_hypercall KVM_HC_SEND_IPI). It does not show whether the guest ran in 64-bit mode, which
                  decides how KVM reads them: a 32-bit guest’s registers are cut to 32 bits and its second bitmap starts 32 APIC IDs up, not 64.
                </span>
              </p>
            )}
            {error && (
              <p className="error" id="import-review-error" role="alert">
                {error.message}
              </p>
            )}
            <p className="muted" data-testid="import-review-summary">{traceSummary(shown.report, shown.scenario.vm.vcpus)}.</p>
            {warnings.length > 0 && (
              <details className="ir-warnings">
                <summary>{warnings.length} warning{warnings.length === 1 ? '' : 's'} from the importer</summary>
                <ul>
                  {warnings.slice(0, 20).map((w, i) => (
                    <li key={i}>{w.line !== undefined ? `line ${w.line}: ` : ''}{w.message}</li>
                  ))}
                </ul>
              </details>
            )}
          </div>
          <footer className="ir-foot">
            <button type="button" onClick={() => reimport()}>Preview</button>
            <button type="button" onClick={onClose}>Cancel</button>
            <button type="submit" autoFocus={rows.length === 0}>Load</button>
          </footer>
        </form>
      </section>
    </div>
  );
}
