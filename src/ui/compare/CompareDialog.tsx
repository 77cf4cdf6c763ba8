import { useMemo, useState } from 'react';
import { MODELLED_RELEASES } from '../../core/profile';
import { explain } from '../../explain/explain';
import { kvmSourceUrl } from '../../explain/source';
import type { StepResult } from '../../scenario/result';
import { compareReleases } from '../../scenario/compareReleases';
import { parseScenarioText } from '../../scenario/schema';
import { labStore } from '../../store/labStore';
import { WithTip } from '../Panel';
import { decisionsOf, resultLine } from '../stepText';
import './compare.css';

/**
 * Compare mode: the current scenario replayed under two KVM releases side by side, every step
 * whose result differs and every difference in the final state highlighted.
 */
export function CompareDialog({ onClose }: { onClose: () => void }) {
  const [a, setA] = useState('6.2');
  const [b, setB] = useState('current');
  const scenario = useMemo(() => parseScenarioText(labStore.getState().exportScenario()), []);
  const c = useMemo(() => compareReleases(scenario, a, b), [scenario, a, b]);
  const differing = c.steps.filter((s) => s.fields.length).length;
  const pick = (label: string, value: string, set: (v: string) => void) => (
    <label>
      {label}{' '}
      <select aria-label={label} value={value} onChange={(e) => set(e.target.value)}>
        {MODELLED_RELEASES.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>
    </label>
  );
  return (
    <div className="overlay" role="presentation" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <section className="dialog" role="dialog" aria-modal="true" aria-labelledby="compare-title">
        <header className="dialog-head">
          <h2 id="compare-title">Compare releases</h2>
          {pick('Release A', a, setA)}
          {pick('Release B', b, setB)}
          <span className="muted" data-testid="compare-summary">
            {c.error ? c.error : `${differing} of ${c.steps.length} steps differ; ${c.final.length} differences in the final state`}
          </span>
          <button onClick={onClose} autoFocus aria-label="Close compare mode">
            Close
          </button>
        </header>
        <div className="dialog-body">
          <table className="grid cmp">
            <thead>
              <tr>
                <th scope="col">step</th>
                <th scope="col">KVM {a}</th>
                <th scope="col">KVM {b}</th>
              </tr>
            </thead>
            <tbody>
              {c.steps.map((s) => (
                <tr key={s.i} className={s.fields.length ? 'differs' : ''} data-testid={`cmp-step-${s.i}`}>
                  <td className="mono">
                    {s.fields.length ? <span aria-label="differs">≠ </span> : ''}
                    {s.i} {s.op}
                    {s.fields.length ? <div className="muted small">{s.fields.join(', ')}</div> : null}
                  </td>
                  <ResultCell result={s.a} release={a} differs={s.fields.length > 0} />
                  <ResultCell result={s.b} release={b} differs={s.fields.length > 0} />
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Final state</h3>
          {c.final.length === 0 ? (
            <p className="muted">The same under both releases.</p>
          ) : (
            <table className="grid cmp" aria-label="Final state differences">
              <tbody>
                {c.final.map((d) => (
                  <tr key={d.path} className="differs">
                    <td className="mono">{d.path}</td>
                    <td className="mono">{JSON.stringify(d.a)}</td>
                    <td className="mono">{JSON.stringify(d.b)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </section>
    </div>
  );
}

/** How many of a differing step's decisions are explained (a broadcast's drops can be thousands). */
const MAX_WHY = 3;

/** A step's result under one release; where the releases differ, why (its decisions, linked to that release's source). */
function ResultCell({ result, release, differs }: { result: StepResult; release: string; differs: boolean }) {
  const why = differs ? decisionsOf(result) : [];
  return (
    <td className="mono">
      {resultLine({ result })}
      {why.slice(0, MAX_WHY).map((d, k) => (
        <div key={k} className="muted small cmp-why">
          {explain(d)}{' '}
          <WithTip tip={`Read ${d.kvm}() in Linux ${release}`}>
            <a className="kvm-source" href={kvmSourceUrl(d.kvm, release)} target="_blank" rel="noreferrer noopener">
              <code>{d.kvm}</code> ↗
            </a>
          </WithTip>
        </div>
      ))}
      {why.length > MAX_WHY && <div className="muted small">and {why.length - MAX_WHY} more decisions</div>}
    </td>
  );
}
