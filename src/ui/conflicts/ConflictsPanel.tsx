import { Panel } from '../Panel';

/** Placeholder until the panel is built. */
export function ConflictsPanel() {
  return <Panel title="Alias conflicts" className="area-conflicts">Coming next.</Panel>;
}
