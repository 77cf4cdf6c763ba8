import { describe, expect, it } from 'vitest';
import { bestPlacement, candidates, overlapArea, type Placement, type Rect } from './dock';

const rect = (left: number, top: number, width: number, height: number): Rect => ({ left, top, right: left + width, bottom: top + height });

/** The card in a 1280x720 window: 440x250, 330x200 when compact, 400x150 when slim, 12px from the edges. */
function measure({ dock, align, size }: Placement): Rect {
  const [w, h] = size === 'compact' ? [330, 200] : size === 'slim' ? [400, 150] : [440, 250];
  const along = (size: number, extent: number) => (align === 'start' ? 12 : align === 'end' ? extent - 12 - size : (extent - size) / 2);
  if (dock === 'left') return rect(12, along(h, 720), w, h);
  if (dock === 'right') return rect(1280 - 12 - w, along(h, 720), w, h);
  if (dock === 'top') return rect(along(w, 1280), 12, w, h);
  return rect(along(w, 1280), 720 - 12 - h, w, h);
}
const where = (p: Placement) => `${p.dock} ${p.align}${p.size === 'full' ? '' : ` ${p.size}`}`;

describe('tour card docking', () => {
  it('measures overlap, touching edges excluded', () => {
    expect(overlapArea(rect(0, 0, 10, 10), rect(5, 5, 10, 10))).toBe(25);
    expect(overlapArea(rect(0, 0, 10, 10), rect(10, 0, 10, 10))).toBe(0);
  });

  it('tries the chosen side first, then the others, then other positions along them, then smaller sizes', () => {
    const all = candidates('top').map(where);
    expect(all.slice(0, 6)).toEqual(['top center', 'right end', 'left end', 'bottom center', 'top start', 'top end']);
    expect(all).toHaveLength(30);
    expect(all[10]).toBe('top center compact');
    expect(all[20]).toBe('top center slim');
  });

  it('keeps the chosen side when nothing is highlighted or nothing is covered', () => {
    expect(where(bestPlacement('top', [], measure))).toBe('top center');
    expect(where(bestPlacement('right', [rect(0, 40, 400, 300)], measure))).toBe('right end');
  });

  it('moves to another side, then along a side, to uncover a highlighted panel', () => {
    const inhibits = rect(860, 470, 410, 240); // bottom right
    expect(where(bestPlacement('right', [inhibits], measure))).toBe('left end');
    const log = rect(0, 470, 420, 240); // bottom left
    const conflicts = rect(420, 470, 440, 240); // bottom middle
    const map = rect(420, 12, 400, 420); // middle column, top
    expect(where(bestPlacement('right', [inhibits, log, conflicts, map], measure))).toBe('right start');
  });

  it('shrinks when every full-size place covers something, else covers as little as possible', () => {
    const band = [rect(0, 0, 1280, 60), rect(0, 300, 1280, 180)];
    expect(where(bestPlacement('right', band, measure))).toBe('right end compact');
    expect(where(bestPlacement('right', [...band, rect(0, 450, 1280, 100)], measure))).toBe('right end slim');
    expect(where(bestPlacement('right', [rect(0, 0, 1280, 720)], measure))).toBe('right end slim');
  });
});
