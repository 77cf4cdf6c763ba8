import { useLayoutEffect, useRef, useState, type ReactNode } from 'react';

/**
 * A scrolling list that mounts only the rows in view (fixed row height), so that 4096 vCPUs or a
 * 10,000-step log cost the same as 30 rows.
 */
export function VirtualRows({
  count,
  rowHeight,
  render,
  label,
  scrollTo,
  header,
}: {
  count: number;
  rowHeight: number;
  render: (index: number) => ReactNode;
  label: string;
  /** Keep this row in view when it changes. */
  scrollTo?: number;
  header?: ReactNode;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(400);
  // The same, as the scroll and resize events last said, for the effect below: reading them from
  // the element there would force a layout on every selection.
  const seen = useRef({ top: 0, height: 400 });

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setHeight((seen.current.height = el.clientHeight));
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    measure();
    return () => ro.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || scrollTo === undefined || scrollTo < 0) return;
    const { top: at, height: h } = seen.current;
    const y = scrollTo * rowHeight;
    if (y < at || y + rowHeight > at + h) {
      // Scrolled in the next frame's animation callbacks, before it is laid out: setting scrollTop
      // here would lay the page out at once, and again after the rest of this commit's changes.
      const next = (seen.current.top = Math.max(0, y - h / 2));
      requestAnimationFrame(() => (el.scrollTop = next));
    }
  }, [scrollTo, rowHeight]);

  const first = Math.max(0, Math.floor(top / rowHeight) - 5);
  const last = Math.min(count, Math.ceil((top + height) / rowHeight) + 5);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) rows.push(render(i));

  return (
    <div className="vrows" ref={ref} onScroll={(e) => setTop((seen.current.top = e.currentTarget.scrollTop))} role="list" aria-label={label}>
      {header}
      <div style={{ height: count * rowHeight, position: 'relative' }}>
        <div style={{ position: 'absolute', top: first * rowHeight, left: 0, right: 0 }}>{rows}</div>
      </div>
    </div>
  );
}
