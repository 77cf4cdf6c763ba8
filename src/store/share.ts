/**
 * The whole session in a compact, versioned URL fragment: `#s=1.<lz-string data>`, where the data
 * is the scenario (VM and every step of the log), the step shown and the selected vCPU.
 */
import LZString from 'lz-string';

const { compressToEncodedURIComponent, decompressFromEncodedURIComponent } = LZString;

export const SHARE_VERSION = 1;
/** Fragments longer than this are refused before decompressing (a hostile link stays cheap). */
export const MAX_FRAGMENT = 2_000_000;

export interface SharedSession {
  /** An apic-scenario/1 document. */
  scenario: unknown;
  cursor: number;
  selectedVcpu: number | null;
}

export function encodeSession(s: SharedSession): string {
  return `s=${SHARE_VERSION}.${compressToEncodedURIComponent(JSON.stringify(s))}`;
}

/** Decode a fragment (without '#'); a message says what is wrong with a bad one. */
export function decodeSession(fragment: string): { ok: true; session: SharedSession } | { ok: false; message: string } {
  const m = /^s=(\d+)\.(.*)$/s.exec(fragment);
  if (!m) return { ok: false, message: 'link: not a shared session (expected #s=<version>.<data>)' };
  if (Number(m[1]) !== SHARE_VERSION) return { ok: false, message: `link: made by format version ${m[1]}; this app reads version ${SHARE_VERSION}` };
  if (fragment.length > MAX_FRAGMENT) return { ok: false, message: `link: ${fragment.length} characters is more than the ${MAX_FRAGMENT} this app accepts` };
  const json = decompressFromEncodedURIComponent(m[2]);
  if (!json) return { ok: false, message: 'link: the data is damaged (it does not decompress)' };
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return { ok: false, message: 'link: the data is damaged (not JSON)' };
  }
  const o = v as Partial<SharedSession>;
  if (typeof o !== 'object' || o === null || typeof o.scenario !== 'object' || !Number.isInteger(o.cursor) || (o.selectedVcpu !== null && !Number.isInteger(o.selectedVcpu))) {
    return { ok: false, message: 'link: the session is incomplete (scenario, cursor, selectedVcpu)' };
  }
  return { ok: true, session: o as SharedSession };
}
