import type { ReactNode } from 'react';
import { useLab } from '../store/labStore';

/** A screen region with a heading that tests and screen readers find it by. */
export function Panel({ title, className, children, actions }: { title: string; className?: string; children: ReactNode; actions?: ReactNode }) {
  const id = 'panel-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  // A tour step names the panels it is about.
  const focused = useLab((s) => s.tour?.focus[s.cursor - 1]?.includes(title) ?? false);
  return (
    <section className={`panel ${className ?? ''}${focused ? ' focused' : ''}`} aria-labelledby={id}>
      <header className="panel-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}
