/**
 * The guided tours: one apic-scenario/1 document per KVM design discussion the lab is built
 * around (mailing-list posts, each cited by `tour.citation`), in the order the app lists them.
 * Each carries a `tour` block (see README.md) and per-step narration; the UI parses them with
 * parseScenario().
 */
import beginner from './beginner.json';
import apicTimer from './apic-timer.json';
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
  /**
   * The post the tour reproduces: its id, the file name it was received as ("000_<hash>.txt").
   * Absent for a basics tour (one that teaches the APIC itself, not a kernel change).
   */
  discussion?: string;
  /** Where to read that post (absent with `discussion`). */
  citation?: TourCitation;
  /** The thread's subject (without "Re:") and month, a short label (the demo recordings show it). */
  thread: string;
  /** The KVM release before the change the discussion led to ("replay under <before>"); absent for a basics tour. */
  before?: string;
  /** Plain words for a learner: what the tour shows and which panels to watch. */
  intro: string;
  /** Kernel-developer background of the intro (the discussion, who said what), shown folded. */
  introDetail?: string;
  /** Plain words: what the tour showed and what to try next, naming the controls to use. */
  outro: string;
  /** Kernel-developer background of the outro (commits, releases), shown folded. */
  outroDetail?: string;
  variants?: TourVariant[];
}

/** A tour step: a scenario step plus its words and checks (see README.md). */
export interface TourStep {
  op: string;
  /** Plain language for a learner, pointing at panels and controls. */
  narration: string;
  /** The kernel-developer detail (functions, commits, releases), shown folded as "Kernel detail". */
  detail?: string;
  /** Titles of the panels the step is about (highlighted). */
  focus: string[];
  [field: string]: unknown;
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

export const TOURS: readonly TourDocument[] = [beginner, apicTimer, x2apicIcr, aliasedIds, avicX2apic, initSipi, apicBase] as unknown as TourDocument[];
