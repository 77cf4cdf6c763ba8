/**
 * Two menus of the VM bar: "Start from" (the VM presets: where a learner starts) and "Set aside"
 * (the states the user left, to go back to: nothing is lost).
 */
import { useRef, useState, type ReactNode } from 'react';
import { PRESETS } from '../presets/presets';
import { labStore, useLab } from '../store/labStore';
import { useTip } from './Panel';

/** A drop-down: a button that opens a panel under it; Escape or a click elsewhere closes it. */
function Menu({ label, tip: tipText, children, testId }: { label: string; tip: string; children: (close: () => void) => ReactNode; testId: string }) {
  const ref = useRef<HTMLDetailsElement>(null);
  const pop = useRef<HTMLDivElement>(null);
  // What the menu is for, on hover / focus / tap of its button while it is closed (not a title).
  const [open, setOpen] = useState(false);
  const tip = useTip<HTMLElement>(tipText);
  /** Keep the open panel inside the window: shift it left when it would pass the right edge. */
  const fit = () => {
    const el = pop.current;
    if (!el || !ref.current?.open) return;
    el.style.left = '0px';
    const over = el.getBoundingClientRect().right - (document.documentElement.clientWidth - 6);
    if (over > 0) el.style.left = `${-Math.min(over, ref.current.getBoundingClientRect().left - 6)}px`;
  };
  const close = () => {
    if (ref.current) ref.current.open = false;
  };
  return (
    <>
    <details
      ref={ref}
      className="vm-menu"
      data-testid={testId}
      onToggle={() => {
        setOpen(!!ref.current?.open);
        fit();
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && ref.current?.open) {
          close();
          ref.current.querySelector('summary')?.focus();
        }
      }}
      onBlur={(e) => {
        if (ref.current && !ref.current.contains(e.relatedTarget as Node | null) && e.relatedTarget !== null) close();
      }}
    >
      <summary {...tip.trigger}>{label}</summary>
      <div className="vm-menu-pop" ref={pop}>
        {children(close)}
      </div>
    </details>
    {!open && tip.tip}
    </>
  );
}

/** "Start from": every preset with its one-line summary, loaded with the vCPU count given. */
export function PresetMenu({ vcpus, onLoaded }: { vcpus: number; onLoaded(): void }) {
  const [n, setN] = useState<string | null>(null);
  const count = Number(n ?? vcpus);
  const valid = Number.isInteger(count) && count >= 1 && count <= 4096;
  return (
    <Menu label="Start from…" tip="Start from a VM preset: as KVM creates it, as a VMM sets it up, or as a Linux guest left it (the session is set aside)" testId="preset-menu">
      {(close) => (
        <>
          <label className="vm-menu-count">
            vCPUs{' '}
            <input className="num" type="number" min={1} max={4096} aria-label="vCPUs for the preset" value={n ?? vcpus} onChange={(e) => setN(e.target.value)} />
          </label>
          <ul className="vm-menu-list" aria-label="VM presets">
            {PRESETS.map((p) => (
              <li key={p.id}>
                <button
                  className="vm-menu-item"
                  disabled={!valid}
                  data-preset={p.id}
                  onClick={() => {
                    if (!labStore.getState().loadPreset(p.id, count)) return;
                    setN(null);
                    onLoaded();
                    close();
                  }}
                >
                  <strong>{p.label}</strong>
                  {valid && count > p.maxVcpus && <span className="muted"> (up to {p.maxVcpus} vCPUs)</span>}
                  <span className="vm-menu-summary">{p.summary}</span>
                </button>
              </li>
            ))}
          </ul>
          <p className="vm-menu-foot muted">The current session is set aside (Set aside menu).</p>
        </>
      )}
    </Menu>
  );
}

/** "Set aside (N)": the states the user left, newest first, each with Restore. */
export function SetAsideMenu() {
  const entries = useLab((s) => s.setAside);
  const inTour = useLab((s) => s.tour !== null);
  return (
    <Menu label={`Set aside (${entries.length})`} tip="Sessions you left (by Reset, a preset, an import, a link, or acting in the past): restore one to go back" testId="set-aside-menu">
      {(close) =>
        entries.length === 0 ? (
          <p className="vm-menu-foot muted">Nothing set aside yet: Reset, a preset, an import, a link, or a step taken in the past keep the session they replace here.</p>
        ) : (
          <>
          <p className="vm-menu-foot muted" data-testid="set-aside-hint">
            {inTour ? 'End the tour first to restore a session.' : 'Restore goes back to a session; the current one is set aside in its place.'}
          </p>
          <ul className="vm-menu-list" aria-label="Set-aside sessions">
            {entries.map((e, i) => (
              <li key={`${entries.length - i}`} className="vm-aside">
                <span className="vm-aside-label">
                  {e.session.scenario && typeof (e.session.scenario as { title?: unknown }).title === 'string' ? <strong>{(e.session.scenario as { title: string }).title}: </strong> : null}
                  {e.label}
                  <span className="muted">
                    {' '}
                    · {e.steps} step{e.steps === 1 ? '' : 's'}
                  </span>
                </span>
                <button
                  className="mini"
                  disabled={inTour}
                  aria-label={`Restore: ${e.label}`}
                  onClick={() => {
                    if (labStore.getState().restoreSetAside(i)) close();
                  }}
                >
                  Restore
                </button>
              </li>
            ))}
          </ul>
          </>
        )
      }
    </Menu>
  );
}
