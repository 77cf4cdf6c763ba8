import { describe, expect, it } from 'vitest';
import { createLabStore } from './labStore';
import { decodeSession, encodeSession } from './share';

describe('shared session links', () => {
  it('round-trip a session through the fragment', () => {
    const s = { scenario: { format: 'apic-scenario/1', vm: { vcpus: 2 }, steps: [] }, cursor: 0, selectedVcpu: 1 };
    const f = encodeSession(s);
    expect(f).toMatch(/^s=1\./);
    expect(decodeSession(f)).toEqual({ ok: true, session: s });
  });

  it('say what is wrong with a bad link', () => {
    expect(decodeSession('x=1')).toMatchObject({ ok: false, message: expect.stringMatching(/not a shared session/) });
    expect(decodeSession('s=9.abc')).toMatchObject({ ok: false, message: expect.stringMatching(/version 9/) });
    expect(decodeSession('s=1.%%%')).toMatchObject({ ok: false });
  });

  it('the store restores the same state from its own link', () => {
    const a = createLabStore({ vcpus: 2 });
    a.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
    a.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x808', value: '0x20' });
    a.getState().undo();
    a.getState().select(1);
    const b = createLabStore({ vcpus: 4 });
    expect(b.getState().openLink(a.getState().shareLink())).toBe(true);
    expect(b.getState().snapshot).toEqual(a.getState().snapshot);
    expect(b.getState().log.length).toBe(2);
    expect([b.getState().cursor, b.getState().selectedVcpu]).toEqual([1, 1]);
    const before = b.getState().snapshot;
    expect(b.getState().openLink('s=1.garbage')).toBe(false);
    expect(b.getState().error).toMatch(/^link: /);
    expect(b.getState().snapshot).toBe(before);
  });
});
