import { useEffect, useState } from 'react';
import { VmBar } from './VmBar';
import { VcpuList } from './VcpuList';
import { RegisterPage } from './RegisterPage';
import { EventLog } from './EventLog';
import { ApicMapPanel } from './map/ApicMapPanel';
import { IcrPanel } from './icr/IcrPanel';
import { ConflictsPanel } from './conflicts/ConflictsPanel';
import { InhibitsPanel } from './inhibits/InhibitsPanel';
import { TourPlayer } from './tour/lazy';
import { useIdleCheckpoints } from './idleCheckpoints';

/** Where the presentation toggle is remembered (its own key: never part of the session). */
export const PRESENTATION_KEY = 'kvm-lapic-lab.presentation';

function readPresentation(): boolean {
  try {
    return localStorage.getItem(PRESENTATION_KEY) === '1';
  } catch {
    return false;
  }
}

/**
 * Larger type for projectors: a class on the root element (`html.presentation`, styles.css) that
 * scales the whole app, remembered in localStorage.
 */
function usePresentation(): [boolean, () => void] {
  const [on, setOn] = useState(readPresentation);
  useEffect(() => {
    document.documentElement.classList.toggle('presentation', on);
    try {
      if (on) localStorage.setItem(PRESENTATION_KEY, '1');
      else localStorage.removeItem(PRESENTATION_KEY);
    } catch {
      // Storage may be unavailable (private mode): the toggle still works for this page.
    }
  }, [on]);
  return [on, () => setOn((v) => !v)];
}

/**
 * One screen: the VM bar on top; vCPUs, the optimized map with the ICR composer, and the selected
 * register page; then the event log, alias conflicts and APICv inhibits.
 */
export function App() {
  const [presentation, togglePresentation] = usePresentation();
  useIdleCheckpoints();
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
      <button
        type="button"
        className="presentation-toggle"
        aria-pressed={presentation}
        aria-label="Presentation mode: larger type for projectors"
        data-testid="presentation-toggle"
        onClick={togglePresentation}
      >
        <span aria-hidden="true">A</span>
        <span aria-hidden="true" className="presentation-big">A</span>
      </button>
      <TourPlayer />
    </div>
  );
}
