import { describe, expect, it } from 'vitest';
import { createLabStore } from './labStore';
import { persistStore, readStored, STORAGE_KEY, writeStored } from './persist';
import { OP_NAMES } from '../scenario/schema';

class MemoryStorage {
  data = new Map<string, string>();
  full = false;
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    if (this.full) throw new DOMException('full', 'QuotaExceededError');
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

const when = new Date('2026-11-22T00:00:00Z');

describe('the session in localStorage', () => {
  it('round-trips through write and read, and the store restores it', () => {
    const s = new MemoryStorage();
    const a = createLabStore({ vcpus: 2 });
    a.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
    expect(writeStored(s, a.getState().session(), when)).toBeNull();
    const r = readStored(s, when);
    const b = createLabStore({ vcpus: 4 });
    expect(b.getState().restore(r.session!, 'stored session')).toBe(true);
    expect(b.getState().snapshot).toEqual(a.getState().snapshot);
  });

  it('sets a corrupt or future-version session aside, under a new key, with a message', () => {
    for (const [raw, why] of [
      ['{not json', 'damaged (not JSON)'],
      ['{"version": 7, "session": {}}', 'saved by a newer version of the app (format 7; this app reads up to 1)'],
      ['{"version": 1}', 'damaged (no scenario)'],
    ]) {
      const s = new MemoryStorage();
      s.setItem(STORAGE_KEY, raw);
      const r = readStored(s, when);
      expect(r.session).toBeNull();
      expect(r.message).toContain(why);
      expect(s.getItem(STORAGE_KEY)).toBeNull();
      expect(s.getItem(`${STORAGE_KEY}.set-aside.2026-11-22T00:00:00.000Z`)).toBe(raw);
    }
  });

  it('a stored session whose scenario is invalid is reported and changes nothing', () => {
    const b = createLabStore({ vcpus: 2 });
    const before = b.getState().snapshot;
    expect(b.getState().restore({ scenario: { format: 'apic-scenario/1', steps: [{ op: 'boom' }] }, cursor: 0, selectedVcpu: null }, 'stored session')).toBe(false);
    expect(b.getState().error).toBe(`stored session: step 0: unknown op "boom" (known: ${OP_NAMES.join(', ')})`);
    expect(b.getState().snapshot).toBe(before);
  });

  it('leaving the page saves a change still waiting for its debounced save, and only then', () => {
    const s = new MemoryStorage();
    const store = createLabStore({ vcpus: 2 });
    const persist = persistStore(store, s, 60_000);
    persist.flushPending();
    expect(s.getItem(STORAGE_KEY)).toBeNull(); // nothing changed: storage untouched (it may hold what a test or another tab put there)
    store.getState().apply({ op: 'rdmsr', vcpu: 0, msr: '0x1b' });
    expect(s.getItem(STORAGE_KEY)).toBeNull(); // debounced
    persist.flushPending();
    expect(readStored(s)).toMatchObject({ session: { scenario: { steps: [{ op: 'rdmsr' }] } } });
    s.removeItem(STORAGE_KEY);
    persist.flushPending();
    expect(s.getItem(STORAGE_KEY)).toBeNull(); // saved already: nothing pending
    persist();
  });

  it('a full storage is reported once, as a notice', async () => {
    const s = new MemoryStorage();
    s.full = true;
    const store = createLabStore({ vcpus: 2 });
    const stop = persistStore(store, s, 0);
    store.getState().apply({ op: 'rdmsr', vcpu: 0, msr: '0x1b' });
    await new Promise((r) => setTimeout(r, 5));
    expect(store.getState().notice).toBe('could not save the session for the next visit: the browser storage is full');
    stop();
  });
});
