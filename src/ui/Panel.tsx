import { createPortal } from 'react-dom';
import { cloneElement, useEffect, useId, useRef, useState, type ReactElement, type ReactNode, type SyntheticEvent } from 'react';
import { HELP_TITLES } from '../explain/helpTitles';
import { useLab } from '../store/labStore';
import { lazyPart } from './lazyPart';
import './panelHelp.css';

/** The help texts, loaded when a "?" is first opened (PanelHelpText.tsx). */
const PanelHelpText = lazyPart('the help', () => import('./PanelHelpText').then((m) => m.PanelHelpText));

/**
 * A screen region with a heading that tests and screen readers find it by, and a "?" that
 * explains, in place, the KVM concept behind it (src/explain/help.ts).
 */
export function Panel({ title, className, children, actions }: { title: string; className?: string; children: ReactNode; actions?: ReactNode }) {
  const id = 'panel-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const [helpOpen, setHelpOpen] = useState(false);
  const help = HELP_TITLES.includes(title);
  // A tour step names the panels it is about.
  const focused = useLab((s) => s.tour?.focus[s.cursor - 1]?.includes(title) ?? false);
  return (
    <section className={`panel ${className ?? ''}${focused ? ' focused' : ''}`} aria-labelledby={id}>
      <header className="panel-head">
        <h2 id={id}>{title}</h2>
        {help && (
          <button
            className="panel-help-toggle"
            aria-expanded={helpOpen}
            aria-controls={`${id}-help`}
            aria-label={`${helpOpen ? 'Hide' : 'Show'} what the ${title} panel is`}
            onClick={() => setHelpOpen(!helpOpen)}
          >
            ?
          </button>
        )}
        {actions}
      </header>
      {help && helpOpen && (
        <div className="panel-help" id={`${id}-help`} role="note">
          <PanelHelpText title={title} onClose={() => setHelpOpen(false)} />
        </div>
      )}
      {/* While the help is open it takes the panel's whole body; Close brings the panel back. */}
      <div className="panel-body" hidden={help && helpOpen}>{children}</div>
    </section>
  );
}

/**
 * A line of text that shows its first line and, on click / Enter / Space, its whole text in place
 * (or `full`, a longer wording), with no `title` tooltip: readable without hovering, by keyboard
 * and by touch.
 */
export function Expandable({ children, full, className, testId }: { children: ReactNode; full?: ReactNode; className?: string; testId?: string }) {
  const [open, setOpen] = useState(false);
  return (
    <span
      role="button"
      tabIndex={0}
      aria-expanded={open}
      className={`expandable${open ? ' open' : ''} ${className ?? ''}`}
      data-testid={testId}
      onClick={(e) => {
        // Selecting text inside should not fold it again.
        if (open && window.getSelection()?.toString()) return;
        e.stopPropagation();
        setOpen(!open);
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          e.stopPropagation();
          setOpen(!open);
        }
      }}
    >
      {open && full !== undefined ? full : children}
    </span>
  );
}

/** The root's CSS zoom (presentation mode): fixed positions are set in unzoomed px. */
function rootZoom(): number {
  const z = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('zoom'));
  return Number.isFinite(z) && z > 0 ? z : 1;
}

/**
 * A tooltip reachable by mouse, keyboard and touch for any focusable trigger: spread `trigger` on
 * it (aria-describedby, hover / focus / tap show it, leave / blur / Escape hide it) and render
 * `tip`. The tip is rendered in <body> (a portal) and positioned `fixed`, so that no panel clips it
 * (panels contain their paint: styles.css), and exists only while shown, so that a panel's text is
 * what is on screen.
 */
export function useTip<T extends HTMLElement>(content: ReactNode) {
  const id = useId();
  const ref = useRef<T>(null);
  const [pos, setPos] = useState<{ left: number; top: number; maxWidth: number } | null>(null);
  const show = () => {
    const el = ref.current;
    if (!el) return;
    const r = el.getBoundingClientRect();
    const z = rootZoom();
    const vw = document.documentElement.clientWidth / z;
    const maxWidth = Math.min(360, vw - 16);
    setPos({ left: Math.max(8, Math.min(r.left / z, vw - maxWidth - 8)), top: r.bottom / z + 4, maxWidth });
  };
  const hide = () => setPos(null);
  // A tap focuses (and on a touch screen fakes a hover) before its click: the click toggles from
  // the state the pointer found, so that a tap opens the tip rather than closing what focus opened.
  const shownAtPointerDown = useRef(false);
  return {
    trigger: {
      ref,
      'aria-describedby': id,
      onMouseEnter: show,
      onMouseLeave: hide,
      onFocus: show,
      onBlur: hide,
      onKeyDown: (e: React.KeyboardEvent) => e.key === 'Escape' && hide(),
    },
    onPointerDown: () => {
      shownAtPointerDown.current = pos !== null;
    },
    toggle: () => (shownAtPointerDown.current ? hide() : show()),
    tip:
      pos &&
      createPortal(
        <span role="tooltip" id={id} className="tip-text" style={pos}>
          {content}
        </span>,
        document.body,
      ),
  };
}

/** A focusable span with a tooltip (useTip): hover, focus or tap shows it. */
export function Tip({ tip, children, className, testId }: { tip: ReactNode; children: ReactNode; className?: string; testId?: string }) {
  const t = useTip<HTMLSpanElement>(tip);
  return (
    <span tabIndex={0} className={`tip ${className ?? ''}`} data-testid={testId} {...t.trigger} onPointerDown={t.onPointerDown} onClick={t.toggle}>
      {children}
      {t.tip}
    </span>
  );
}

type Handler = ((e: SyntheticEvent) => void) | undefined;
const both = (a: Handler, b: () => void) => (e: SyntheticEvent) => {
  a?.(e);
  b();
};

/**
 * Gives an existing element (a button, a select, a label around a control, a link) a tooltip
 * (useTip) in place of a `title`: hover, focus, tap or Escape, keeping the element's own handlers.
 * On a label the description goes to the control it labels; the tip is rendered next to the
 * element (or inside it with `inside`, e.g. for a <summary>, whose siblings a closed <details> hides).
 */
export function WithTip({ tip, children, inside = false }: { tip: ReactNode; children: ReactElement<Record<string, unknown>>; inside?: boolean }) {
  const t = useTip<HTMLElement>(tip);
  const p = children.props;
  const id = t.trigger['aria-describedby'];
  const isLabel = typeof children.type === 'string' && children.type === 'label';
  useEffect(() => {
    const control = isLabel ? (t.trigger.ref.current as HTMLLabelElement | null)?.control : null;
    if (!control) return;
    control.setAttribute('aria-describedby', id);
    return () => control.removeAttribute('aria-describedby');
  }, [isLabel, id, t.trigger.ref]);
  const el = cloneElement(
    children,
    {
      ref: t.trigger.ref,
      'aria-describedby': isLabel ? undefined : id,
      onMouseEnter: both(p.onMouseEnter as Handler, t.trigger.onMouseEnter),
      onMouseLeave: both(p.onMouseLeave as Handler, t.trigger.onMouseLeave),
      onFocus: both(p.onFocus as Handler, t.trigger.onFocus),
      onBlur: both(p.onBlur as Handler, t.trigger.onBlur),
      onKeyDown: (e: React.KeyboardEvent) => {
        (p.onKeyDown as Handler)?.(e);
        t.trigger.onKeyDown(e);
      },
    },
    ...(inside
      ? [
          <>
            {p.children as ReactNode}
            {t.tip}
          </>,
        ]
      : []),
  );
  return inside ? el : (
    <>
      {el}
      {t.tip}
    </>
  );
}
