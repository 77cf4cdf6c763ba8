import { VmBar } from './VmBar';
import { VcpuList } from './VcpuList';
import { RegisterPage } from './RegisterPage';
import { EventLog } from './EventLog';

/** One screen: the VM bar on top, then vCPUs, the selected register page and the event log. */
export function App() {
  return (
    <div className="app">
      <VmBar />
      <main className="panels">
        <VcpuList />
        <RegisterPage />
        <EventLog />
      </main>
    </div>
  );
}
