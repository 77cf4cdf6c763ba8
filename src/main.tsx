import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { labStore } from './store/labStore';
import './ui/styles.css';

// ?vcpus=N starts with N vCPUs (demos, screenshots of big VMs); #s=... restores a shared session.
const vcpus = Number(new URLSearchParams(location.search).get('vcpus'));
if (Number.isInteger(vcpus) && vcpus >= 1 && vcpus <= 4096) labStore.getState().reset({ vcpus });
if (location.hash.startsWith('#s=')) labStore.getState().openLink(location.hash.slice(1));

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
