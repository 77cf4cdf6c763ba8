/** The first screen's one line: what the lab is and how to start. Dismissible. */
import { useState } from 'react';
import { DEFAULT_PRESET, preset } from '../presets/presets';
import { useLab } from '../store/labStore';
import { TOUR_IDS } from '../tours/order';
import { startTour } from './tour/lazy';

/** Set by main.tsx when the page opens on the first screen (nothing stored, no link, no parameters). */
export const firstScreen = { shown: false };

export function Welcome() {
  const [open, setOpen] = useState(firstScreen.shown);
  // It describes the first screen's preset: once another session is loaded it has nothing to say.
  const onFirst = useLab((s) => s.title === preset(DEFAULT_PRESET).label && !s.tour);
  if (!open || !onFirst) return null;
  const close = () => {
    firstScreen.shown = false;
    setOpen(false);
  };
  return (
    <p className="welcome" role="note" aria-label="How to start">
      <strong>KVM LAPIC lab:</strong> the local APIC exactly as Linux KVM emulates it, here for a booted 4-vCPU Linux guest. Start: send an IPI from the ICR
      panel, or{' '}
      <button
        className="mini"
        onClick={() => {
          close();
          startTour(TOUR_IDS[0]);
        }}
      >
        take a tour
      </button>
      .{' '}
      <button className="mini" onClick={close} aria-label="Dismiss the introduction">
        ✕
      </button>
    </p>
  );
}
