/**
 * The tours, loaded when one starts: the tour documents (src/tours/*.json, the largest data of the
 * app) and the tour card are chunks of their own (vite.config.ts), fetched together on the first
 * start. Until then the Tours menu lists them from src/tours/order.ts.
 */
import { lazy, Suspense, useSyncExternalStore } from 'react';
import { labStore, useLab } from '../../store/labStore';
import './tour.css';

const loadPlayer = () => import('./TourPlayer');
const Player = lazy(() => loadPlayer().then((m) => ({ default: m.TourPlayer })));

/** The id of the tour being loaded, if any: the card says "Loading the tour…" meanwhile. */
let loading: string | null = null;
const listeners = new Set<() => void>();
function setLoading(id: string | null) {
  loading = id;
  for (const l of listeners) l();
}
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

/**
 * Start the tour `id` (store.startTour) once its document and the card's code are loaded; a
 * failure to load is reported as the store's error. Only the tour asked for last starts.
 */
export async function startTour(id: string): Promise<boolean> {
  setLoading(id);
  try {
    const [{ TOURS }] = await Promise.all([import('../../tours'), loadPlayer()]);
    if (loading !== id) return false;
    const doc = TOURS.find((t) => t.tour.id === id);
    if (!doc) {
      labStore.setState({ error: `tour: no tour named ${id}` });
      return false;
    }
    return labStore.getState().startTour(doc);
  } catch (e) {
    if (loading === id) labStore.setState({ error: `tour: could not load the tours (${e instanceof Error ? e.message : String(e)}): reload the page to try again` });
    return false;
  } finally {
    if (loading === id) setLoading(null);
  }
}

/** The tour card (TourPlayer.tsx) while a tour plays, loaded on demand. */
export function TourPlayer() {
  const playing = useLab((s) => s.tour !== null);
  const pending = useSyncExternalStore(subscribe, () => loading);
  const wait = (
    <p className="tour tour-loading muted" data-dock="right" data-align="end" role="status">
      Loading the tour…
    </p>
  );
  if (!playing) return pending ? wait : null;
  return (
    <Suspense fallback={wait}>
      <Player />
    </Suspense>
  );
}
