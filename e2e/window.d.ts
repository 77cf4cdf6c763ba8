// The app's store, exposed as window.lab by src/main.tsx, for specs that set up state directly.
import type { labStore } from '../src/store/labStore';

declare global {
  interface Window {
    lab: typeof labStore;
  }
}
