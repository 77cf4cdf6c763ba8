import { VmBar } from './VmBar';
import { VcpuList } from './VcpuList';
import { RegisterPage } from './RegisterPage';
import { EventLog } from './EventLog';
import { ApicMapPanel } from './map/ApicMapPanel';
import { IcrPanel } from './icr/IcrPanel';
import { ConflictsPanel } from './conflicts/ConflictsPanel';
import { InhibitsPanel } from './inhibits/InhibitsPanel';
import { TourPlayer } from './tour/TourPlayer';

/**
 * One screen: the VM bar on top; vCPUs, the optimized map with the ICR composer, and the selected
 * register page; then the event log, alias conflicts and APICv inhibits.
 */
export function App() {
  return (
    <div className="app">
      <VmBar />
      <main className="panels">
        <VcpuList />
        <ApicMapPanel />
        <IcrPanel />
        <RegisterPage />
        <EventLog />
        <ConflictsPanel />
        <InhibitsPanel />
      </main>
      <TourPlayer />
    </div>
  );
}
