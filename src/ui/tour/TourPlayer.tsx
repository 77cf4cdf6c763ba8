import { labStore, useLab } from '../../store/labStore';
import { KvmSource } from '../KvmSource';
import { failureName, refusalWords } from '../stepText';
import './tour.css';

/**
 * The guided tour card: the narration of the step just run (the intro before the first, the
 * outro after the last), back / forward / jump, and a switch that replays the same tour under the
 * KVM release before the change it is about.
 */
export function TourPlayer() {
  const tour = useLab((s) => s.tour);
  const cursor = useLab((s) => s.cursor);
  const total = useLab((s) => s.log.length);
  const kvm = useLab((s) => s.vmInput.kvm ?? 'current');
  const lastResult = useLab((s) => s.log[s.cursor - 1]?.result);
  if (!tour) return null;
  const store = labStore.getState();
  const text = cursor === 0 ? tour.intro : tour.narrations[cursor - 1];
  const oldRelease = kvm === tour.before;
  const switchRelease = () => store.configure({ ...store.vmInput, kvm: oldRelease ? tour.after : tour.before });
  return (
    <aside className="tour" role="region" aria-label="Guided tour">
      <header>
        <strong>{tour.title}</strong>
        <span className="muted">
          {' '}
          · step {cursor} of {total} · KVM {kvm}
        </span>
        <button className="close" onClick={() => store.endTour()} aria-label="End the tour">
          ✕
        </button>
      </header>
      <p className="narration" data-testid="tour-narration">
        {text}
      </p>
      {cursor > 0 && lastResult && !lastResult.ok && (
        <p className="tour-fault" data-testid="tour-fault">
          <strong>{failureName(lastResult)}</strong>: {refusalWords(lastResult)} {lastResult.refusal && <KvmSource fn={lastResult.refusal.kvm} />}
        </p>
      )}
      {cursor === total && tour.outro && (
        <p className="narration outro" data-testid="tour-outro">
          {tour.outro}
        </p>
      )}
      <footer>
        <button onClick={() => store.travel(cursor - 1)} disabled={cursor === 0} aria-label="Previous tour step">
          ◀ Back
        </button>
        <button onClick={() => store.travel(cursor + 1)} disabled={cursor === total} aria-label="Next tour step">
          Next ▶
        </button>
        <label>
          jump{' '}
          <select aria-label="Jump to tour step" value={cursor} onChange={(e) => store.travel(Number(e.target.value))}>
            <option value={0}>0 · intro</option>
            {tour.narrations.map((n, i) => (
              <option key={i} value={i + 1}>
                {i + 1} · {n.slice(0, 48)}
                {n.length > 48 ? '…' : ''}
              </option>
            ))}
          </select>
        </label>
        {tour.before && (
          <button onClick={switchRelease} aria-pressed={oldRelease} title={`Replay this tour as KVM ${oldRelease ? tour.after : tour.before} behaved`}>
            {oldRelease ? `Back to KVM ${tour.after}` : `Replay under KVM ${tour.before}`}
          </button>
        )}
      </footer>
    </aside>
  );
}
