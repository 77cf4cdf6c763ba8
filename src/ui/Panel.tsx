import { useState, type ReactNode } from 'react';
import { PANEL_HELP } from '../explain/help';
import { useLab } from '../store/labStore';
import { KvmSource } from './KvmSource';
import './panelHelp.css';

/**
 * A screen region with a heading that tests and screen readers find it by, and a "?" that
 * explains, in place, the KVM concept behind it (src/explain/help.ts).
 */
export function Panel({ title, className, children, actions }: { title: string; className?: string; children: ReactNode; actions?: ReactNode }) {
  const id = 'panel-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const [helpOpen, setHelpOpen] = useState(false);
  const help = PANEL_HELP[title];
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
          <p className="panel-help-summary">{help.summary}</p>
          {help.body.map((p, i) => <p key={i}>{p}</p>)}
          {help.legend && (
            <ul className="panel-help-legend">
              {help.legend.map((l, i) => <li key={i}>{l}</li>)}
            </ul>
          )}
          <p className="panel-help-read">
            Read in KVM: {help.read.map((fn) => <KvmSource key={fn} fn={fn} />)}
          </p>
          <button className="panel-help-close" onClick={() => setHelpOpen(false)}>Close</button>
        </div>
      )}
      <div className="panel-body">{children}</div>
    </section>
  );
}
