/**
 * The guided tours: one apic-scenario/1 document per KVM design discussion the lab is built
 * around (../../../shared/seeds), in the order the app lists them. Each carries a `tour` block
 * (see README.md) and per-step narration; the UI parses them with parseScenario().
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

export interface TourInfo {
  id: string;
  /** The seed post (file name in shared/seeds) the tour reproduces. */
  discussion: string;
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
