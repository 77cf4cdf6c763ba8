import type { ReactNode } from 'react';

/** A screen region with a heading that tests and screen readers find it by. */
export function Panel({ title, className, children, actions }: { title: string; className?: string; children: ReactNode; actions?: ReactNode }) {
  const id = 'panel-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return (
    <section className={`panel ${className ?? ''}`} aria-labelledby={id}>
      <header className="panel-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}
