import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { labStore, useLab } from '../../store/labStore';
import { TOURS } from '../../tours';
import { KvmSource } from '../KvmSource';
import { WithTip } from '../Panel';
import { failureName, refusalWords } from '../stepText';
import { bestPlacement, DOCKS, placementAt, type Dock, type Placement, type Rect } from './dock';
import './tour.css';

const DOCK_KEY = 'kvm-lapic-lab.tour-dock';
const DOCK_WORDS: Record<Dock, { arrow: string; name: string }> = {
  left: { arrow: '◧', name: 'left' },
  right: { arrow: '◨', name: 'right' },
  top: { arrow: '⬒', name: 'top' },
  bottom: { arrow: '⬓', name: 'bottom' },
};

function savedDock(): Dock {
  try {
    const d = localStorage.getItem(DOCK_KEY);
    return (DOCKS as readonly string[]).includes(d ?? '') ? (d as Dock) : 'right';
  } catch {
    return 'right';
  }
}

/** The highlighted panels' rectangles (Panel and the VM bar mark them `focused`). */
function focusedRects(): Rect[] {
  return [...document.querySelectorAll('.panel.focused, .vmbar.focused')].map((e) => e.getBoundingClientRect());
}

/**
 * The step label, in the event log's numbering: the log numbers steps from 0, and the card shows
 * the step just run (cursor - 1) under that number, then how far into the tour it is.
 */
export function stepLabel(cursor: number, total: number): string {
  return cursor === 0 ? `Intro · 0 of ${total}` : `Step ${cursor - 1} · ${cursor} of ${total}`;
}

/**
 * The guided tour card: the narration of the step just run (the intro before the first, the
 * outro after the last) in plain words, the kernel detail folded under it, back / forward / jump,
 * and a switch that replays the same tour under the KVM release before the change it is about.
 * The card docks to any side of the window or folds to a slim bar, and moves to another side when
 * it would cover a panel the step highlights.
 */
export function TourPlayer() {
  const tour = useLab((s) => s.tour);
  const cursor = useLab((s) => s.cursor);
  const total = useLab((s) => s.log.length);
  const kvm = useLab((s) => s.vmInput.kvm ?? 'current');
  const lastResult = useLab((s) => s.log[s.cursor - 1]?.result);
  const stepVcpu = useLab((s) => (s.log[s.cursor - 1]?.step as { vcpu?: number } | undefined)?.vcpu);
  const [dock, setDock] = useState<Dock>(savedDock);
  const [placement, setPlacement] = useState<Placement>(() => placementAt(dock));
  const placed = placement.dock;
  const [folded, setFolded] = useState(false);
  const [detailOpen, setDetailOpen] = useState(false);
  const ref = useRef<HTMLElement>(null);
  const focus = tour?.focus[cursor - 1] ?? [];
  const focusKey = focus.join('|');

  // A step about the register page shows the register page of the vCPU that step acted on.
  useEffect(() => {
    if (!tour || stepVcpu === undefined || !focusKey.split('|').includes('Register page')) return;
    if (labStore.getState().selectedVcpu !== stepVcpu) labStore.getState().select(stepVcpu);
  }, [tour, cursor, stepVcpu, focusKey]);

  // Keep off the highlighted panels: try the chosen dock first, then the others.
  useLayoutEffect(() => {
    const card = ref.current;
    if (!card) return;
    const put = (p: Placement) => {
      card.dataset.dock = p.dock;
      card.dataset.align = p.align;
      card.dataset.size = p.size;
    };
    const place = () => {
      // Docked at the top, the card sits below the VM bar, whose controls stay reachable.
      const bar = document.querySelector('.vmbar')?.getBoundingClientRect().bottom ?? 0;
      card.style.setProperty('--tour-top', `${Math.round(Math.max(0, bar) + 6)}px`);
      const best = bestPlacement(dock, focusedRects(), (p) => {
        put(p);
        return card.getBoundingClientRect();
      });
      put(best);
      setPlacement((old) => (old.dock === best.dock && old.align === best.align && old.size === best.size ? old : best));
    };
    place();
    // Panels settle (fonts, the map's drawing) after the first frame.
    const frame = requestAnimationFrame(place);
    window.addEventListener('resize', place);
    // And again when the card or a highlighted panel changes size (its content grew, a font loaded).
    // (A few times at most: a card whose size depended on its place must not flip for ever.)
    // The card's own text changes with its place ("moved to the left"), so a few rounds may be needed.
    let again = 12;
    const watch = new ResizeObserver(() => again-- > 0 && place());
    const settled = setTimeout(place, 250);
    watch.observe(card);
    for (const el of document.querySelectorAll('.panel.focused, .vmbar.focused')) watch.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      clearTimeout(settled);
      window.removeEventListener('resize', place);
      watch.disconnect();
    };
  }, [tour, dock, folded, cursor, focusKey, detailOpen]);

  if (!tour) return null;
  const store = labStore.getState();
  const doc = TOURS.find((t) => t.tour.id === tour.id);
  const text = cursor === 0 ? tour.intro : tour.narrations[cursor - 1];
  const detail = (cursor === 0 ? doc?.tour.introDetail : tour.details?.[cursor - 1]) ?? '';
  const atEnd = cursor === total;
  const outroDetail = atEnd ? (doc?.tour.outroDetail ?? '') : '';
  const oldRelease = kvm === tour.before;
  const switchRelease = () => store.configure({ ...store.vmInput, kvm: oldRelease ? tour.after : tour.before });
  const chooseDock = (d: Dock) => {
    setDock(d);
    try {
      localStorage.setItem(DOCK_KEY, d);
    } catch {
      /* private mode: the choice lasts for this page */
    }
  };
  const moved = placed !== dock ? `moved to the ${placed} so as not to cover ${focus.join(', ')}` : undefined;
  const label = stepLabel(cursor, total);
  const back = (
    <button onClick={() => store.travel(cursor - 1)} disabled={cursor === 0} aria-label="Previous tour step">
      ◀{folded ? '' : ' Back'}
    </button>
  );
  const next = (
    <button onClick={() => store.travel(cursor + 1)} disabled={atEnd} aria-label="Next tour step">
      {folded ? '' : 'Next '}▶
    </button>
  );
  const endButton = (
    <WithTip tip="End the tour and return to your own session">
      <button className="close" onClick={() => store.endTour()} aria-label="End the tour">
        ✕
      </button>
    </WithTip>
  );

  if (folded) {
    return (
      <aside ref={ref} className="tour folded" data-dock={placement.dock} data-align={placement.align} data-size={placement.size} role="region" aria-label="Guided tour">
        <button className="unfold" onClick={() => setFolded(false)} aria-label="Unfold the tour card" aria-expanded={false}>
          ▴
        </button>
        <strong className="tour-title">{tour.title}</strong>
        <span className="muted step-label" data-testid="tour-step">
          {label}
        </span>
        {back}
        {next}
        {endButton}
      </aside>
    );
  }

  return (
    <aside ref={ref} className="tour" data-dock={placement.dock} data-align={placement.align} data-size={placement.size} role="region" aria-label="Guided tour">
      <header>
        <strong className="tour-title">{tour.title}</strong>
        <span className="tour-controls">
          <span className="dock-picker" role="group" aria-label="Dock the tour card">
            {DOCKS.map((d) => (
              <WithTip key={d} tip={`Dock to the ${DOCK_WORDS[d].name}${placed === d && dock !== d ? ' (moved here to uncover the highlighted panel)' : ''}`}>
                <button className="mini" aria-pressed={dock === d} aria-label={`Dock the tour card to the ${DOCK_WORDS[d].name}`} onClick={() => chooseDock(d)}>
                  {DOCK_WORDS[d].arrow}
                </button>
              </WithTip>
            ))}
          </span>
          <button className="mini" onClick={() => setFolded(true)} aria-label="Fold the tour card" aria-expanded={true}>
            ▾
          </button>
          {endButton}
        </span>
      </header>
      <div className="tour-sub muted">
        <span data-testid="tour-step">{label}</span> · KVM {kvm}
      </div>
      {/* Always one line, so the card's size never depends on where it was placed. */}
      <div className="tour-moved muted" data-testid={moved ? 'tour-moved' : undefined}>
        {moved ?? '\u00a0'}
      </div>
      <div className="tour-text">
        <p className="narration" data-testid="tour-narration">
          {text}
        </p>
        {cursor > 0 && lastResult && !lastResult.ok && (
          <p className="tour-fault" data-testid="tour-fault">
            <strong>{failureName(lastResult)}</strong>: {refusalWords(lastResult)} {lastResult.refusal && <KvmSource fn={lastResult.refusal.kvm} />}
          </p>
        )}
        {atEnd && tour.outro && (
          <p className="narration outro" data-testid="tour-outro">
            {tour.outro}
          </p>
        )}
        {(detail || outroDetail) && (
          <details className="tour-detail" open={detailOpen} onToggle={(e) => setDetailOpen((e.target as HTMLDetailsElement).open)}>
            <summary>Kernel detail</summary>
            {detail && <p data-testid="tour-detail">{detail}</p>}
            {outroDetail && <p data-testid="tour-outro-detail">{outroDetail}</p>}
          </details>
        )}
      </div>
      <footer>
        {back}
        {next}
        <label>
          jump{' '}
          <select aria-label="Jump to tour step" value={cursor} onChange={(e) => store.travel(Number(e.target.value))}>
            <option value={0}>intro</option>
            {tour.narrations.map((n, i) => (
              <option key={i} value={i + 1}>
                {i} · {n.slice(0, 44)}
                {n.length > 44 ? '…' : ''}
              </option>
            ))}
          </select>
        </label>
        {tour.before && (
          <button onClick={switchRelease} aria-pressed={oldRelease}>
            {oldRelease ? `Back to KVM ${tour.after}` : `Replay under KVM ${tour.before}`}
          </button>
        )}
      </footer>
    </aside>
  );
}
