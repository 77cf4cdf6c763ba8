import { Panel } from '../Panel';

/** Placeholder until the panel is built. */
export function InhibitsPanel() {
  return <Panel title="APICv inhibits" className="area-inhibits">Coming next.</Panel>;
}
