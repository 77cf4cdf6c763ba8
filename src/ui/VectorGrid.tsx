import { useEffect, useRef } from 'react';
import { labStore, useLab } from '../store/labStore';

const CELL = 6;

/**
 * A 256-bit vector register (IRR, ISR or TMR) as a 16x16 grid on a canvas: row = vector >> 4
 * (the priority class), column = vector & 0xf. Hovering names the vector and links it.
 */
export function VectorGrid({ name, vectors, color }: { name: string; vectors: readonly number[]; color: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const hoverVector = useLab((s) => (s.hover && 'vector' in s.hover ? s.hover.vector : -1));
  useEffect(() => {
    const c = ref.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    const css = getComputedStyle(c);
    ctx.clearRect(0, 0, c.width, c.height);
    ctx.strokeStyle = css.getPropertyValue('--line') || '#ccc';
    for (let v = 0; v < 256; v++) {
      const x = (v & 15) * CELL;
      const y = (v >> 4) * CELL;
      ctx.strokeRect(x + 0.5, y + 0.5, CELL - 1, CELL - 1);
    }
    ctx.fillStyle = color;
    for (const v of vectors) ctx.fillRect((v & 15) * CELL + 1, (v >> 4) * CELL + 1, CELL - 2, CELL - 2);
    if (hoverVector >= 0) {
      ctx.strokeStyle = css.getPropertyValue('--accent') || '#55f';
      ctx.lineWidth = 2;
      ctx.strokeRect((hoverVector & 15) * CELL + 1, (hoverVector >> 4) * CELL + 1, CELL - 2, CELL - 2);
      ctx.lineWidth = 1;
    }
  }, [vectors, color, hoverVector]);
  const label = `${name}: ${vectors.length ? vectors.map((v) => '0x' + v.toString(16)).join(', ') : 'empty'}`;
  return (
    <figure className="vgrid">
      <canvas
        ref={ref}
        width={CELL * 16}
        height={CELL * 16}
        role="img"
        aria-label={label}
        title={label}
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          const v = (Math.floor((e.clientY - r.top) / CELL) << 4) | Math.floor((e.clientX - r.left) / CELL);
          if (v >= 0 && v < 256) labStore.getState().setHover({ vector: v });
        }}
        onMouseLeave={() => labStore.getState().setHover(null)}
      />
      <figcaption>
        {name} <span className="muted">{vectors.length ? `(${vectors.length}, top 0x${vectors[vectors.length - 1].toString(16)})` : '(empty)'}</span>
      </figcaption>
    </figure>
  );
}
