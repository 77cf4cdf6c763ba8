import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { DEFAULT_PRESET, PRESETS, type PresetId } from './presets/presets';
import { App } from './ui/App';
import { firstScreen } from './ui/Welcome';
import { labStore } from './store/labStore';
import { persistStore, readSetAside, readStored, setAsideStored } from './store/persist';
import './ui/styles.css';

/**
 * Where the page starts. The session stored by the last visit is restored first (validated), so
 * whatever replaces it is set aside, never lost:
 * - #s=... opens a shared session (a broken or newer link is reported and changes nothing);
 * - ?preset=ID starts from a VM preset (with ?vcpus=N vCPUs, else 4); ?vcpus=N alone starts with
 *   N vCPUs as KVM creates them (demos, screenshots of big VMs); both are then dropped from the
 *   address, so a reload keeps the session;
 * - with none of them and nothing stored, the first screen: the 'linux-flat' preset, 4 vCPUs.
 */
const params = new URLSearchParams(location.search);
const storage = (() => {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: no persistence
  }
})();
const store = () => labStore.getState();
/** Reported once the start state is set up (loading a session clears the error). */
const errors: string[] = [];
let restored = false;
if (storage) {
  labStore.setState({ setAside: readSetAside(storage) });
  const stored = readStored(storage);
  if (stored.session) {
    restored = store().restore(stored.session, 'stored session');
    if (!restored) errors.push(setAsideStored(storage, (store().error ?? '').replace(/^stored session: /, '')));
  } else if (stored.message) errors.push(stored.message);
}
const vcpus = params.has('vcpus') ? Number(params.get('vcpus')) : null;
const vcpusOk = vcpus !== null && Number.isInteger(vcpus) && vcpus >= 1 && vcpus <= 4096;
const presetId = params.get('preset');
const presetOk = PRESETS.some((p) => p.id === presetId);
let changed = false;
if (location.hash.startsWith('#s=')) {
  changed = store().openLink(location.hash.slice(1));
  if (!changed) errors.push(store().error ?? 'link: not opened');
} else if (presetOk || vcpusOk) {
  if (presetOk) store().loadPreset(presetId as PresetId, vcpusOk ? vcpus : 4);
  else store().reset({ vcpus: vcpus! });
  changed = true;
}
if (presetId !== null && !presetOk) errors.push(`?preset=${presetId}: no such preset (${PRESETS.map((p) => p.id).join(', ')})`);
if (vcpus !== null && !vcpusOk) errors.push(`?vcpus=${params.get('vcpus')}: a whole number from 1 to 4096 was expected`);
if (params.has('preset') || params.has('vcpus')) {
  params.delete('preset');
  params.delete('vcpus');
  const q = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${q ? '?' + q : ''}${location.hash}`);
}
if (!restored && !changed) {
  store().loadPreset(DEFAULT_PRESET, 4);
  firstScreen.shown = true;
}
if (errors.length) labStore.setState({ error: errors.join('; ') });
if (storage) {
  const persist = persistStore(labStore, storage);
  // What the address asked for is saved now (what it replaced is in the set-aside list).
  if (changed) persist.flush();
  // Saving is debounced: a reload or a closed tab right after an action must not lose it.
  window.addEventListener('pagehide', () => {
    persist.flushPending(); // only a change not saved yet (none during a tour: its workspace is never stored)
  });
}

// Offline: the service worker the build generates (vite-plugin-pwa) precaches the app, so a reload
// without network works. Not on the dev server, nor from file:// (no service workers there).
if (import.meta.env.PROD && 'serviceWorker' in navigator && location.protocol.startsWith('http')) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('./sw.js', { scope: './' }).catch(() => undefined);
  });
}

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
