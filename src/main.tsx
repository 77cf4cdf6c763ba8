import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { labStore } from './store/labStore';
import { persistStore, readStored, setAsideStored } from './store/persist';
import './ui/styles.css';

// ?vcpus=N starts with N vCPUs (demos, screenshots of big VMs); #s=... restores a shared session.
const vcpus = Number(new URLSearchParams(location.search).get('vcpus'));
if (Number.isInteger(vcpus) && vcpus >= 1 && vcpus <= 4096) labStore.getState().reset({ vcpus });
// A shared link wins over the session stored by the last visit; both are validated.
const storage = (() => {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: no persistence
  }
})();
if (location.hash.startsWith('#s=')) labStore.getState().openLink(location.hash.slice(1));
else if (storage && !new URLSearchParams(location.search).has('vcpus')) {
  const stored = readStored(storage);
  if (stored.session && !labStore.getState().restore(stored.session, 'stored session')) {
    labStore.setState({ error: setAsideStored(storage, (labStore.getState().error ?? '').replace(/^stored session: /, '')) });
  } else if (stored.message) labStore.setState({ error: stored.message });
}
if (storage) persistStore(labStore, storage);

// The store, for Playwright specs and demo scripts: window.lab.getState().apply({...}).
declare global {
  interface Window {
    lab: typeof labStore;
  }
}
window.lab = labStore;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
