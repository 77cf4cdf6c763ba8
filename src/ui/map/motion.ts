/**
 * Motion policy shared by the map's renderers: short, deterministic, and off on request. The
 * animations run on d3-timer (one frame callback per animation, stopped when it ends or is cut
 * short), not d3-transition: the map only fades and pulses a few styles, and d3-transition would
 * bring d3-interpolate, d3-color, d3-dispatch and d3-ease to the first load for that.
 */
import { timer, type Timer } from 'd3-timer';

/** Every map animation lasts this long (ms): a rebuild's fade-in and an IPI's pulse. */
export const MOTION_MS = 250;

/** True when the user asked the system for reduced motion (then nothing animates). */
export function reducedMotion(): boolean {
  return typeof window !== 'undefined' && typeof window.matchMedia === 'function' && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
}

/** Cubic ease-in-out, d3-transition's default: slow start, slow end. */
export const easeCubic = (t: number) => ((t *= 2) <= 1 ? t * t * t : (t -= 2) * t * t + 2) / 2;

/** From `a` to `b` at eased time t (0..1). */
export const between = (a: number, b: number, t: number) => a + (b - a) * t;

/**
 * Call `frame(t)` on each animation frame for MOTION_MS, t eased from 0 to 1 (the last call has
 * t = 1). The returned timer stops it early; a stopped animation makes no further call.
 */
export function animate(frame: (t: number) => void): Timer {
  frame(0);
  const t = timer((elapsed) => {
    const done = elapsed >= MOTION_MS;
    if (done) t.stop();
    frame(done ? 1 : easeCubic(elapsed / MOTION_MS));
  });
  return t;
}
