/** Motion policy shared by the map's renderers: short, deterministic, and off on request. */

/** Every map animation lasts this long (ms): a rebuild's fade-in and an IPI's pulse. */
export const MOTION_MS = 250;

/** True when the user asked the system for reduced motion (then nothing animates). */
export function reducedMotion(): boolean {
  return typeof window !== 'undefined' && typeof window.matchMedia === 'function' && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
}
