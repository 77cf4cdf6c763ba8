/** Where the tour card sits, and how it keeps off the panels a tour step highlights. */

export type Dock = 'right' | 'left' | 'top' | 'bottom';
/** The sides the card docks to, in the order they are tried after the chosen one. */
export const DOCKS: readonly Dock[] = ['right', 'left', 'bottom', 'top'];

/** Where along its side the card sits: start (top / left), center, end (bottom / right). */
export type Align = 'start' | 'center' | 'end';

/** The card's size: full, compact (narrower and shorter), slim (a wide, low strip). */
export type Size = 'full' | 'compact' | 'slim';
const SIZES: readonly Size[] = ['full', 'compact', 'slim'];

/** A place for the card: a side, a position along it, and its size. */
export interface Placement {
  dock: Dock;
  align: Align;
  size: Size;
}

export interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** The area two rectangles share (0 when they only touch). */
export function overlapArea(a: Rect, b: Rect): number {
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return w > 0 && h > 0 ? w * h : 0;
}

/** The positions along a side, the usual one first. */
const ALIGNS: Record<Dock, readonly Align[]> = {
  right: ['end', 'start'],
  left: ['end', 'start'],
  bottom: ['center', 'start', 'end'],
  top: ['center', 'start', 'end'],
};

/** The default placement at a side. */
export const placementAt = (dock: Dock): Placement => ({ dock, align: ALIGNS[dock][0], size: 'full' });

/**
 * The placements to try, in order: the chosen side at its usual position, the other sides at
 * theirs, then the other positions along each side; then all of that again at the compact size,
 * then slim.
 */
export function candidates(chosen: Dock): Placement[] {
  const docks = [chosen, ...DOCKS.filter((x) => x !== chosen)];
  const usual = docks.map((dock) => ({ dock, align: ALIGNS[dock][0] }));
  const others = docks.flatMap((dock) => ALIGNS[dock].slice(1).map((align) => ({ dock, align })));
  return SIZES.flatMap((size) => [...usual, ...others].map((p) => ({ ...p, size })));
}

/**
 * The placement to use: the chosen side's usual one if the card there covers none of `avoid`,
 * else the first candidate where it covers none, else the one where it covers the least.
 * `measure(p)` gives the card's rectangle when placed at p.
 */
export function bestPlacement(chosen: Dock, avoid: readonly Rect[], measure: (p: Placement) => Rect): Placement {
  const all = candidates(chosen);
  if (avoid.length === 0) return all[0];
  let best = all[0];
  let least = Infinity;
  for (const p of all) {
    const r = measure(p);
    const covered = avoid.reduce((sum, a) => sum + overlapArea(r, a), 0);
    if (covered === 0) return p;
    if (covered < least) {
      least = covered;
      best = p;
    }
  }
  return best;
}
