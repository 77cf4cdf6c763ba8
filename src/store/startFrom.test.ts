/** Starting from a preset sets the session aside; the set-aside list survives a reload. */
import { describe, expect, it } from 'vitest';
import { createLabStore } from './labStore';
import { persistStore, readSetAside, SET_ASIDE_KEY } from './persist';

class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

describe('loadPreset', () => {
  it('loads the preset with the vCPUs asked (capped), keeps the vendor, and sets the session aside', () => {
    const store = createLabStore({ vcpus: 2, vendor: 'amd' });
    store.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
    expect(store.getState().loadPreset('linux-flat', 12)).toBe(true);
    const s = store.getState();
    expect(s.snapshot.vcpus).toHaveLength(8);
    expect(s.vmInput).toMatchObject({ vendor: 'amd', vcpus: 8 });
    expect(s.snapshot.map.logicalMode).toBe('XAPIC_FLAT');
    expect(s.setAside[0]).toMatchObject({ steps: 1, label: 'before the preset "Linux guest, xAPIC flat"' });
  });

  it('kvm-created is the bare VM', () => {
    const store = createLabStore({ vcpus: 1 });
    store.getState().loadPreset('kvm-created', 4);
    expect(store.getState().log).toHaveLength(0);
    expect(store.getState().snapshot.vcpus.every((v) => !v.swEnabled)).toBe(true);
  });
});

describe('the set-aside list in storage', () => {
  it('is saved with the session and read back', () => {
    const storage = new MemoryStorage();
    const store = createLabStore({ vcpus: 2 });
    const p = persistStore(store, storage, 0);
    store.getState().apply({ op: 'rdmsr', vcpu: 0, msr: '0x1b' });
    store.getState().reset({ vcpus: 3 });
    p.flush();
    p();
    const back = readSetAside(storage);
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ label: 'before Reset', steps: 1 });
    const other = createLabStore({ vcpus: 1 });
    other.setState({ setAside: back });
    expect(other.getState().restoreSetAside(0)).toBe(true);
    expect(other.getState().log).toHaveLength(1);
  });

  it('ignores damaged entries', () => {
    const storage = new MemoryStorage();
    storage.setItem(SET_ASIDE_KEY, '{"version":1,"entries":[{"label":1},{"label":"x","steps":1,"session":{"scenario":{}}}]}');
    expect(readSetAside(storage)).toHaveLength(1);
    storage.setItem(SET_ASIDE_KEY, 'nope');
    expect(readSetAside(storage)).toEqual([]);
  });
});
