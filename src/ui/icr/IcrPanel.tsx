import { Panel } from '../Panel';

/** Placeholder until the panel is built. */
export function IcrPanel() {
  return <Panel title="ICR" className="area-icr">Coming next.</Panel>;
}
