/**
 * The session survives a reload: the store's session (the same object a shared link carries) is
 * kept in localStorage under a versioned envelope. A stored session that is corrupt or from a
 * newer version is reported and moved aside (never silently dropped or overwritten); a full
 * storage is reported once.
 */
import { MAX_SET_ASIDE, type LabState, type SetAside } from './labStore';
import type { SharedSession } from './share';

export const STORAGE_KEY = 'kvm-lapic-lab/session';
export const STORAGE_VERSION = 1;
/** A stored session larger than this is not loaded (a hostile or runaway value stays cheap). */
export const MAX_STORED = 20_000_000;

interface Envelope {
  version: number;
  savedAt: string;
  session: SharedSession;
}

type Storage = Pick<globalThis.Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** Upgrade an older envelope to the current version (there is only version 1 so far). */
function migrate(e: Envelope): Envelope {
  return e;
}

/** Move the stored session to a key of its own, so a new one cannot overwrite it; returns the message. */
export function setAsideStored(storage: Storage, why: string, now = new Date()): string {
  const raw = storage.getItem(STORAGE_KEY);
  if (raw === null) return `stored session: ${why}`;
  const key = `${STORAGE_KEY}.set-aside.${now.toISOString()}`;
  try {
    storage.setItem(key, raw);
    storage.removeItem(STORAGE_KEY);
    return `stored session: ${why}; it was kept under "${key}" and a new session started`;
  } catch {
    return `stored session: ${why}; it was left in place (storage is full) and not loaded`;
  }
}

/** What the stored session holds: a session to restore, nothing, or why it was set aside. */
export function readStored(storage: Storage, now = new Date()): { session: SharedSession | null; message: string | null } {
  const raw = storage.getItem(STORAGE_KEY);
  if (raw === null) return { session: null, message: null };
  const setAside = (why: string) => ({ session: null, message: setAsideStored(storage, why, now) });
  if (raw.length > MAX_STORED) return setAside(`${raw.length} characters is more than the ${MAX_STORED} this app loads`);
  let e: Envelope;
  try {
    e = JSON.parse(raw) as Envelope;
  } catch {
    return setAside('damaged (not JSON)');
  }
  if (typeof e !== 'object' || e === null || !Number.isInteger(e.version)) return setAside('damaged (no version)');
  if (e.version > STORAGE_VERSION) return setAside(`saved by a newer version of the app (format ${e.version}; this app reads up to ${STORAGE_VERSION})`);
  const m = migrate(e);
  if (typeof m.session !== 'object' || m.session === null || typeof m.session.scenario !== 'object') return setAside('damaged (no scenario)');
  return { session: m.session, message: null };
}

/** Save the session; returns an error message when the storage refuses it. */
export function writeStored(storage: Storage, session: SharedSession, now = new Date()): string | null {
  const e: Envelope = { version: STORAGE_VERSION, savedAt: now.toISOString(), session };
  try {
    storage.setItem(STORAGE_KEY, JSON.stringify(e));
    return null;
  } catch (err) {
    const quota = err instanceof DOMException && (err.name === 'QuotaExceededError' || err.code === 22);
    return quota ? 'could not save the session for the next visit: the browser storage is full' : `could not save the session: ${(err as Error).message}`;
  }
}

/** The states the user left (the store's set-aside list) are kept too, so a reload does not lose them. */
export const SET_ASIDE_KEY = 'kvm-lapic-lab/left-states';

/** The stored set-aside list; entries that do not look like one are skipped (each is validated again when restored). */
export function readSetAside(storage: Storage): SetAside[] {
  try {
    const raw = storage.getItem(SET_ASIDE_KEY);
    if (raw === null || raw.length > MAX_STORED) return [];
    const e = JSON.parse(raw) as { version?: number; entries?: unknown };
    if (e?.version !== STORAGE_VERSION || !Array.isArray(e.entries)) return [];
    return (e.entries as SetAside[])
      .filter((x) => typeof x === 'object' && x !== null && typeof x.label === 'string' && Number.isInteger(x.steps) && typeof x.session?.scenario === 'object' && x.session.scenario !== null)
      .slice(0, MAX_SET_ASIDE);
  } catch {
    return [];
  }
}

/** Save the set-aside list; returns an error message when the storage refuses it. */
export function writeSetAside(storage: Storage, entries: readonly SetAside[]): string | null {
  try {
    if (entries.length === 0) storage.removeItem(SET_ASIDE_KEY);
    else storage.setItem(SET_ASIDE_KEY, JSON.stringify({ version: STORAGE_VERSION, entries }));
    return null;
  } catch {
    return 'could not keep the set-aside sessions for the next visit: the browser storage is full';
  }
}

/** Keep the store's session in storage from now on (debounced); returns a stop function. */
export function persistStore(store: { getState(): LabState; subscribe(f: (s: LabState, p: LabState) => void): () => void }, storage: Storage, delayMs = 300): (() => void) & { flush(): void; flushPending(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reported = false;
  let asideSaved: readonly SetAside[] | null = null;
  const save = () => {
    const s = store.getState();
    let msg = writeStored(storage, s.session());
    if (s.setAside !== asideSaved && s.setAside) {
      asideSaved = s.setAside;
      msg = writeSetAside(storage, s.setAside) ?? msg;
    }
    if (msg && !reported) {
      reported = true;
      s.setNotice(msg);
    }
  };
  const unsubscribe = store.subscribe((s, p) => {
    // A tour plays in a workspace of its own: the stored session stays the user's.
    if (s.tour) return;
    if (s.log === p.log && s.cursor === p.cursor && s.vmInput === p.vmInput && s.selectedVcpu === p.selectedVcpu && s.setAside === p.setAside) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      save();
    }, delayMs);
  });
  const stop = () => {
    clearTimeout(timer);
    unsubscribe();
  };
  /** Save now (after the page has set up its start state). */
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    save();
  };
  /** Save now if a change is still waiting for its debounced save (the page is going away). */
  const flushPending = () => {
    if (timer !== undefined) flush();
  };
  return Object.assign(stop, { flush, flushPending });
}
