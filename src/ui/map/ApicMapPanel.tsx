import { Panel } from '../Panel';

/** Placeholder until the panel is built. */
export function ApicMapPanel() {
  return <Panel title="Optimized APIC map" className="area-map">Coming next.</Panel>;
}
