/**
 * The alias conflicts of the shown state, computed once per snapshot and shared by the panel and
 * the VM bar's warnings; KVM's routes come from the store's previewRoute.
 */
import { labStore, useLab } from '../../store/labStore';
import type { FinalState } from '../../scenario/result';
import { findConflicts, type ConflictReport } from './aliases';

const reports = new WeakMap<FinalState, ConflictReport>();

export function useConflictReport(): ConflictReport {
  const snapshot = useLab((s) => s.snapshot);
  let report = reports.get(snapshot);
  if (!report) reports.set(snapshot, (report = findConflicts(snapshot, labStore.getState().previewRoute)));
  return report;
}
