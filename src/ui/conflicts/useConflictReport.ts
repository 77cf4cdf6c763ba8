/**
 * The alias conflicts of the shown state, shared by the panel and the VM bar's warnings; KVM's
 * routes come from the store's previewRoute. They depend only on how interrupts find each vCPU
 * (its addressing), the map and the VM's X2APIC_API flags, so they are computed again only when
 * one of those changed, not on every step, and after the click that changed them has painted.
 */
import { useDeferredValue } from 'react';
import { labStore, useAddressedVcpus, useLab } from '../../store/labStore';
import { findConflicts, type ConflictReport } from './aliases';

let last: { inputs: unknown[]; report: ConflictReport } | null = null;

export function useConflictReport(): ConflictReport {
  // Deferred: a click paints its own result first; the report (routes through every alias) follows.
  const vcpus = useDeferredValue(useAddressedVcpus());
  const map = useDeferredValue(useLab((s) => s.snapshot.map));
  const caps = useDeferredValue(useLab((s) => s.snapshot.caps));
  const inputs = [vcpus, map, caps];
  if (!last || last.inputs.some((x, i) => x !== inputs[i])) last = { inputs, report: findConflicts({ vcpus, map }, labStore.getState().previewRoute) };
  return last.report;
}
