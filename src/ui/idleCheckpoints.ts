/**
 * Time-travel snapshots (a few milliseconds with 4096 vCPUs) are taken when the page is idle, never
 * inside a click: whenever the store says one is due, the next idle period takes it (within a
 * second at the latest).
 */
import { useEffect } from 'react';
import { labStore } from '../store/labStore';

export function useIdleCheckpoints(): void {
  useEffect(() => {
    let pending: number | null = null;
    const idle = (fn: () => void) =>
      typeof requestIdleCallback === 'function' ? requestIdleCallback(fn, { timeout: 1000 }) : window.setTimeout(fn, 200);
    const cancel = (h: number) => (typeof cancelIdleCallback === 'function' ? cancelIdleCallback(h) : window.clearTimeout(h));
    const schedule = () => {
      if (pending !== null || !labStore.getState().checkpointDue) return;
      pending = idle(() => {
        pending = null;
        labStore.getState().checkpoint();
      });
    };
    schedule();
    const unsubscribe = labStore.subscribe(schedule);
    return () => {
      unsubscribe();
      if (pending !== null) cancel(pending);
    };
  }, []);
}
