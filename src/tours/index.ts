/**
 * The guided tours: one apic-scenario/1 document per KVM design discussion the lab is built
 * around (mailing-list posts, each cited by `tour.citation`), in the order the app lists them.
 * Each carries a `tour` block (see README.md) and per-step narration; the UI parses them with
 * parseScenario().
 */
import x2apicIcr from './x2apic-icr.json';
import aliasedIds from './aliased-ids.json';
import avicX2apic from './avic-x2apic.json';
import initSipi from './init-sipi.json';
import apicBase from './apic-base.json';

/** A replay of the tour with other `vm` fields, and what it must show (outro claims). */
export interface TourVariant {
  label: string;
  vm: Record<string, unknown>;
  /** Partial step results, keyed by step index. */
  expectSteps?: Record<string, Record<string, unknown>>;
  /** Partial final state. */
  expectFinal?: Record<string, unknown>;
}

/** A mailing-list post, as a reader can find it in the list's archive. */
export interface TourCitation {
  /** The mailing list, e.g. "LKML (linux-kernel)". */
  list: string;
  /** The post's subject line, as sent. */
  subject: string;
  author: string;
  /** The date the post was sent, YYYY-MM-DD. */
  date: string;
}

export interface TourInfo {
  id: string;
  /** The post the tour reproduces: its id, the file name it was received as ("000_<hash>.txt"). */
  discussion: string;
  /** Where to read that post. */
  citation: TourCitation;
  /** The thread's subject (without "Re:") and month, a short label (the demo recordings show it). */
  thread: string;
  /** The KVM release before the change the discussion led to ("replay under <before>"). */
  before: string;
  intro: string;
  outro: string;
  variants?: TourVariant[];
}

/** A tour document as bundled; validate it with parseScenario() before running it. */
export interface TourDocument {
  format: string;
  title: string;
  description: string;
  tour: TourInfo;
  vm?: Record<string, unknown>;
  steps: unknown[];
  [field: string]: unknown;
}

export const TOURS: readonly TourDocument[] = [x2apicIcr, aliasedIds, avicX2apic, initSipi, apicBase] as unknown as TourDocument[];
