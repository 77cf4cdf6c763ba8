import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { labStore, useLab } from '../store/labStore';

/** Left margin for the row labels (0x0..0xf) and top margin for the column labels (0..f), in CSS px. */
const LEFT = 22;
const TOP = 12;
const MIN_CELL = 6;
const MAX_CELL = 14;

/** What a set bit means in each register. */
const MEANING: Record<string, string> = { IRR: 'requested', ISR: 'in service', TMR: 'level-triggered' };

/** Resolve a colour that may be a CSS custom property (`var(--x)`): a canvas cannot read var(). */
function resolveColour(el: Element, color: string): string {
  const m = /^var\((--[\w-]+)\)$/.exec(color.trim());
  if (!m) return color;
  return getComputedStyle(el).getPropertyValue(m[1]).trim() || '#555';
}

/**
 * The cell size that fits three grids side by side in the parent (only the first one carries the
 * row labels: the rows line up), between MIN_CELL and MAX_CELL; and whether this grid is the first.
 */
function useCell(ref: React.RefObject<HTMLElement | null>): [number, boolean] {
  const [cell, setCell] = useState(8);
  const [first, setFirst] = useState(true);
  useLayoutEffect(() => {
    const el = ref.current;
    const parent = el?.parentElement;
    if (!el || !parent) return;
    const fit = () => {
      const w = parent.clientWidth;
      // Three figures in a row with 8 px gaps: LEFT + 3 x (16 cells + 2 px), the row labels once.
      const three = Math.floor((w - 16 - LEFT - 6) / 48);
      if (three >= MIN_CELL) {
        setFirst(!el.previousElementSibling?.classList.contains('vgrid'));
        setCell(Math.min(MAX_CELL, three));
      } else {
        // Too narrow: they wrap, so each grid carries its own row labels.
        setFirst(true);
        setCell(Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor((w - 8 - 2 * (LEFT + 2)) / 32))));
      }
    };
    fit();
    const ro = new ResizeObserver(fit);
    ro.observe(parent);
    return () => ro.disconnect();
  }, [ref]);
  return [cell, first];
}

/**
 * A 256-bit vector register (IRR, ISR or TMR) as a 16x16 grid on a canvas: row = vector >> 4
 * (the priority class, labelled 0x0..0xf), column = vector & 0xf (labelled 0..f), so vector =
 * row x 16 + column. Hovering names the vector and links it.
 */
export function VectorGrid({ name, vectors, color }: { name: string; vectors: readonly number[]; color: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const fig = useRef<HTMLElement>(null);
  const [cell, first] = useCell(fig);
  const left = first ? LEFT : 0;
  const hoverVector = useLab((s) => (s.hover && 'vector' in s.hover ? s.hover.vector : -1));
  const w = left + cell * 16 + 2;
  const h = TOP + cell * 16 + 2;
  // Redrawn when the vectors' values change, not the array holding them (another vCPU with the
  // same vectors, or a step that left them alone, repaints nothing).
  const set = vectors.join();
  useEffect(() => {
    const c = ref.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    const [cw, ch] = [Math.round(w * dpr), Math.round(h * dpr)];
    if (c.width !== cw || c.height !== ch) [c.width, c.height] = [cw, ch];
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(c);
    const tok = (n: string, f: string) => css.getPropertyValue(n).trim() || f;
    ctx.clearRect(0, 0, w, h);
    // Axis labels: rows are the priority class (vector bits 7:4), columns the low nibble.
    ctx.fillStyle = tok('--muted', '#666');
    ctx.font = `${Math.min(10, cell + 2)}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    if (first) for (let r = 0; r < 16; r++) ctx.fillText(`0x${r.toString(16)}`, LEFT - 3, TOP + r * cell + cell / 2 + 0.5);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    for (let col = 0; col < 16; col++) ctx.fillText(col.toString(16), left + col * cell + cell / 2, TOP - 3);
    ctx.strokeStyle = tok('--line', '#ccc');
    ctx.lineWidth = 1;
    for (let v = 0; v < 256; v++) ctx.strokeRect(left + (v & 15) * cell + 0.5, TOP + (v >> 4) * cell + 0.5, cell - 1, cell - 1);
    ctx.fillStyle = resolveColour(c, color);
    for (const v of set ? set.split(',').map(Number) : []) ctx.fillRect(left + (v & 15) * cell, TOP + (v >> 4) * cell, cell, cell);
    if (hoverVector >= 0) {
      ctx.strokeStyle = tok('--fg', '#000');
      ctx.lineWidth = 2;
      ctx.strokeRect(left + (hoverVector & 15) * cell, TOP + (hoverVector >> 4) * cell, cell, cell);
    }
  }, [set, color, hoverVector, cell, w, h, first, left]);
  const meaning = MEANING[name] ?? 'set';
  const label = `${name} (${meaning}): ${vectors.length ? vectors.map((v) => '0x' + v.toString(16)).join(', ') : 'empty'}. Rows 0x0 to 0xf, columns 0 to f: vector = row x 16 + column.`;
  const hovered = hoverVector >= 0 ? `0x${hoverVector.toString(16).padStart(2, '0')} = 0x${(hoverVector >> 4).toString(16)} × 16 + ${(hoverVector & 15).toString(16)}: ${vectors.includes(hoverVector) ? meaning : 'clear'}` : null;
  return (
    <figure className="vgrid" ref={fig} data-testid={`vgrid-${name}`} style={{ width: w }}>
      <figcaption>
        <span className="vgrid-swatch" style={{ background: color }} aria-hidden="true" /> <strong>{name}</strong> {meaning}{' '}
        <span className="muted">{vectors.length ? `(${vectors.length}, top 0x${vectors[vectors.length - 1].toString(16)})` : '(empty)'}</span>
      </figcaption>
      <canvas
        ref={ref}
        style={{ width: w, height: h }}
        role="img"
        aria-label={label}
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          // The rect is in zoomed px when the page is zoomed (presentation mode): scale back.
          const k = r.width / w || 1;
          const col = Math.floor(((e.clientX - r.left) / k - left) / cell);
          const row = Math.floor(((e.clientY - r.top) / k - TOP) / cell);
          if (col >= 0 && col < 16 && row >= 0 && row < 16) labStore.getState().setHover({ vector: (row << 4) | col });
        }}
        onMouseLeave={() => labStore.getState().setHover(null)}
      />
      {first && <p className="vgrid-note muted">{hovered ?? 'vector = row × 16 + column'}</p>}
    </figure>
  );
}
