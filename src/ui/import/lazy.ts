/**
 * The trace import, loaded when a file is imported: the trace-cmd / ftrace parser
 * (src/import/traceCmd.ts) and the review of its thread → vCPU mapping, the largest code few
 * visits use. An apic-scenario/1 file needs neither.
 */
import { labStore } from '../../store/labStore';
import { lazyPart } from '../lazyPart';

export const ImportReview = lazyPart('the import review', () => import('./ImportReview').then((m) => m.ImportReview));

/** The trace importer, fetched on first use; null (and the error shown) if it cannot be loaded. */
export async function loadTraceImporter(): Promise<typeof import('../../import/traceCmd') | null> {
  try {
    return await import('../../import/traceCmd');
  } catch (e) {
    labStore.setState({ error: `import: could not load the trace importer (${e instanceof Error ? e.message : String(e)}): reload the page to try again` });
    return null;
  }
}
