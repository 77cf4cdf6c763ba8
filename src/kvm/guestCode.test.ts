/** The guest program's bytes mean what guestCode.ts says: disassembled by the real objdump. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accessDone, bootIdtArea, eventMeaning, LOOP_AFTER_CALL, LOOP_CALL, lowMemory, protectedModeEntry, region, regionBase, resetSlot, snippet, snippetAddress, takenAt, type GuestAccess } from './guestCode';

const hasObjdump = (() => {
  try {
    execFileSync('objdump', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

/** objdump's instructions for raw bytes, as "mnemonic operands" lines. */
function disassemble(bytes: Uint8Array, mode: 'i8086' | 'i386', vma = 0): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'guest-')), 'code.bin');
  writeFileSync(file, bytes);
  const out = execFileSync('objdump', ['-D', '-b', 'binary', '-m', mode, '-M', 'intel', `--adjust-vma=${vma}`, file], { encoding: 'utf8' });
  return out.split('\n').filter((l) => /^\s+[0-9a-f]+:\t/.test(l)).map((l) => l.split('\t')[2]?.replace(/\s+/g, ' ').trim() ?? '');
}

describe.skipIf(!hasObjdump)('guest code, as objdump reads it', () => {
  it('the real-mode stub reports its start, loads GDT and boot IDT, sets PE and jumps far', () => {
    expect(disassemble(lowMemory().subarray(0x1000, 0x1000 + 0x21), 'i8086')).toEqual([
      'out 0x13,al', 'cli', 'lgdtd cs:0x30', 'lidtd cs:0x38', 'mov eax,cr0', 'or eax,0x1', 'mov cr0,eax', 'jmp FWORD PTR cs:0x40',
    ]);
  });
  it('page 0 jumps over the IVT to a stub assembled at 0x40, where IVT[2] (NMI) points too', () => {
    const low = lowMemory();
    expect(disassemble(low.subarray(0, 2), 'i8086')[0]).toBe('jmp 0x40');
    expect(disassemble(low.subarray(0x40, 0x44), 'i8086', 0x40)[0]).toBe('out 0x13,al');
    expect(disassemble(low.subarray(0x40 + 3, 0x40 + 10), 'i8086')[0]).toBe('lgdtd cs:0x70');
    expect([...low.subarray(8, 12)]).toEqual([0x40, 0, 0, 0]);
  });
  it('the reset vector jumps to the stub at the start of its segment', () => {
    expect(disassemble(resetSlot().subarray(0xfff0, 0xfff3), 'i8086', 0xfff0)[0]).toBe('jmp 0x0');
  });
  it('the protected-mode entry and the boot handler load the region IDT and jump to the loop', () => {
    expect(disassemble(protectedModeEntry(), 'i386')).toEqual([
      'mov ax,0x10', 'mov ds,eax', 'mov es,eax', 'mov ss,eax', 'mov fs,eax', 'mov gs,eax', 'in eax,0x11', 'lidtd [eax+0x400]', 'jmp eax',
    ]);
    const boot = bootIdtArea();
    expect(disassemble(boot.subarray(0x800, 0x809), 'i386')).toEqual(['lidtd [eax+0x400]', 'jmp eax']);
  });
  it("a vCPU's loop asks for work and calls it; handler 13 records vector and stack and re-enters", () => {
    const base = regionBase(3);
    const r = region(3);
    expect(disassemble(r.subarray(0, 16), 'i386', base)).toEqual([
      'mov esi,0xffffffff', `mov esp,0x${(base + 0x4000).toString(16)}`, 'in eax,0x10', 'call eax', `jmp 0x${base.toString(16)}`,
    ]);
    expect(disassemble(r.subarray(0x1000 + 13 * 16, 0x1000 + 13 * 16 + 12), 'i386', base + 0x1000 + 13 * 16)).toEqual([
      'mov esi,0xd', 'mov edi,esp', `jmp 0x${(base + 5).toString(16)}`,
    ]);
  });
  it('snippets: MMIO, MSRs, ack', () => {
    expect(disassemble(snippet({ kind: 'mmio_write', gpa: 0xfee000b0, value: 0 }), 'i386')).toEqual(['mov ebx,0xfee000b0', 'mov eax,0x0', 'mov DWORD PTR [ebx],eax', 'ret']);
    expect(disassemble(snippet({ kind: 'mmio_read', gpa: 0xfee00020 }), 'i386')).toEqual(['mov ebx,0xfee00020', 'mov eax,DWORD PTR [ebx]', 'ret']);
    expect(disassemble(snippet({ kind: 'wrmsr', msr: 0x830, value: 0x1_000000fdn }), 'i386')).toEqual(['mov ecx,0x830', 'mov eax,0xfd', 'mov edx,0x1', 'wrmsr', 'ret']);
    expect(disassemble(snippet({ kind: 'rdmsr', msr: 0x1b }), 'i386')).toEqual(['mov ecx,0x1b', 'rdmsr', 'ret']);
    expect(disassemble(snippet({ kind: 'ack' }), 'i386')).toEqual(['sti', 'out 0x12,al', 'cli', 'ret']);
  });
});

describe('where an event was taken', () => {
  const base = regionBase(7);
  const top = base + 0x4000;
  it('tells snippet and error-code frames apart by the stack pointer, and where in the snippet by the saved EIP', () => {
    expect(takenAt(7, top - 16, snippetAddress(7) + 17)).toEqual({ at: 'snippet', offset: 17 });
    expect(takenAt(7, top - 20, snippetAddress(7) + 15)).toEqual({ at: 'snippet-with-error-code' });
    expect(takenAt(7, top, base + 0xc)).toBeNull();
  });
  it('on the loop\'s stack, tells an event taken at entry (at `call eax`) from one taken after the snippet returned', () => {
    // Seen on the kernel: a guest self-NMI that the host's preemption let in right after the
    // snippet's `ret` has the frame of one taken at entry; judged by ESP alone, the WRMSR ran twice.
    expect(takenAt(7, top - 12, base + 0xc)).toEqual({ at: 'entry' });
    for (const eip of [0xe, 0x0, 0x5, 0xa]) expect(takenAt(7, top - 12, base + eip)).toEqual({ at: 'after-snippet' });
    expect(takenAt(7, top - 12, snippetAddress(7))).toBeNull();
  });
  it('names the loop\'s instructions where region() emits them', () => {
    const r = region(7);
    expect([...r.subarray(LOOP_CALL, LOOP_CALL + 2)]).toEqual([0xff, 0xd0]); // call eax
    expect(LOOP_AFTER_CALL.map((o) => r[o])).toEqual([0xeb, 0xbe, 0xbc, 0xe5]); // jmp loop, mov esi, mov esp, in
  });
  it('ends each access at its snippet\'s `ret`, the access instruction just before it', () => {
    const wrmsr: GuestAccess = { kind: 'wrmsr', msr: 0x830, value: 0x4fdn };
    const bytes = snippet(wrmsr);
    expect(bytes[accessDone(wrmsr)]).toBe(0xc3);
    expect([...bytes.subarray(accessDone(wrmsr) - 2, accessDone(wrmsr))]).toEqual([0x0f, 0x30]); // wrmsr
    const read: GuestAccess = { kind: 'mmio_read', gpa: 0xfee00020 };
    expect([...snippet(read).subarray(accessDone(read) - 2, accessDone(read))]).toEqual([0x8b, 0x03]); // mov eax, [ebx]
  });
  it('reads an event as before the access (the snippet runs again), after it, the ack\'s interrupt, or a fault', () => {
    const wrmsr: GuestAccess = { kind: 'wrmsr', msr: 0x830, value: 0x40402n };
    const done = accessDone(wrmsr);
    expect(eventMeaning(wrmsr, { at: 'entry' })).toBe('before-access');
    expect(eventMeaning(wrmsr, { at: 'snippet', offset: done - 2 })).toBe('before-access'); // before the wrmsr instruction
    expect(eventMeaning(wrmsr, { at: 'snippet', offset: done })).toBe('after-access'); // the self-NMI, at `ret`
    expect(eventMeaning(wrmsr, { at: 'after-snippet' })).toBe('after-access'); // the same, just after `ret`
    expect(eventMeaning(wrmsr, { at: 'snippet-with-error-code' })).toBe('fault');
    expect(eventMeaning({ kind: 'ack' }, { at: 'snippet', offset: 3 })).toBe('interrupt');
    expect(eventMeaning({ kind: 'ack' }, { at: 'entry' })).toBe('before-access');
  });
});
