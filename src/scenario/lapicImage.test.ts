import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hexDump, imageBytes, imageWords, parseLapicImage } from './lapicImage';

const words = Uint32Array.from({ length: 256 }, (_, i) => (i * 0x01010101) >>> 0);
const enc = (s: string) => new TextEncoder().encode(s);

describe('KVM_GET_LAPIC image files', () => {
  it('read a binary image and our own hex dump back', () => {
    expect(parseLapicImage(imageBytes(words))).toEqual({ ok: true, words });
    expect(parseLapicImage(enc(hexDump(words)))).toEqual({ ok: true, words });
  });

  it('read hexdump -C and od output', () => {
    const b = imageBytes(words);
    const c = Array.from({ length: 64 }, (_, r) => `${(r * 16).toString(16).padStart(8, '0')}  ${Array.from(b.slice(r * 16, r * 16 + 16), (x) => x.toString(16).padStart(2, '0')).join(' ')}  |................|`).join('\n');
    expect(parseLapicImage(enc(c))).toEqual({ ok: true, words });
    const od = Array.from({ length: 64 }, (_, r) => ' ' + Array.from(b.slice(r * 16, r * 16 + 16), (x) => x.toString(16).padStart(2, '0')).join(' ')).join('\n');
    expect(parseLapicImage(enc(od))).toEqual({ ok: true, words });
  });

  it('say what is wrong with a bad file', () => {
    expect(parseLapicImage(new Uint8Array(100))).toMatchObject({ ok: false, message: expect.stringMatching(/neither a 1024-byte|holds/) });
    expect(parseLapicImage(enc('00 11 zz'))).toMatchObject({ ok: false, message: 'image: line 1: "zz" is not hex bytes' });
    expect(parseLapicImage(enc('00 11 22'))).toMatchObject({ ok: false, message: 'image: the dump holds 3 bytes; a KVM_GET_LAPIC image has 1024' });
    expect(parseLapicImage(new Uint8Array(70000))).toMatchObject({ ok: false });
  });
});

// Unedited output of the real tools (see testdata/lapic/README.md and make.sh).
const dir = join(import.meta.dirname, 'testdata', 'lapic');
const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
const text = (f: string) => readFileSync(join(dir, f), 'utf8');
const dumps = readdirSync(dir).filter((f) => f.endsWith('.txt'));
const squeezedOdAn = (f: string) => /\.od-An-tx1\.txt$/.test(f);
const OD_FLAGS = /od -An -tx1 -v.*od -Ax -tx1 -v.*od -Ax -tx1/;

describe('real tools\' dumps of KVM_GET_LAPIC images', () => {
  it('the test data holds every tool\'s output for each image', () => {
    for (const image of ['vcpu1', 'zero']) {
      expect(read(`${image}.bin`).length).toBe(1024);
      for (const tool of ['hexdump-C', 'hexdump-Cv', 'xxd', 'xxd-a', 'od-An-tx1', 'od-An-tx1-v', 'od-Ax-tx1', 'od-Ax-tx1-v', 'od-tx1', 'od-Ad-tx1']) expect(dumps).toContain(`${image}.${tool}.txt`);
    }
    expect(imageWords(read('vcpu1.bin'))[0x20 >> 2]).toBe(0x01000000); // APIC_ID of vCPU 1: the core's image
  });

  it.each(dumps.filter((f) => !squeezedOdAn(f)))('%s parses to the bytes of its .bin', (f) => {
    const r = parseLapicImage(read(f));
    expect(r).toEqual({ ok: true, words: imageWords(read(f.replace(/\..*$/, '.bin'))) });
  });

  it('expands the "*" lines of a squeezed hexdump -C and stops at its final offset (refused before)', () => {
    const c = text('vcpu1.hexdump-C.txt');
    expect(c.split('\n').filter((l) => l === '*').length).toBeGreaterThan(2);
    expect(c.trimEnd().split('\n').pop()).toBe('00000400');
    const r = parseLapicImage(read('vcpu1.hexdump-C.txt'));
    expect(r.ok && imageBytes(r.words)).toEqual(read('vcpu1.bin'));
    // Six identical masked LVT lines (0x320-0x370) squeezed into one line and a "*".
    expect(r.ok && Array.from({ length: 6 }, (_, i) => r.words[(0x320 + i * 16) >> 2])).toEqual(Array(6).fill(0x10000));
  });

  it.each(['vcpu1', 'zero'])('says which od flags work for a squeezed od -An -tx1 dump of %s', (image) => {
    const r = parseLapicImage(read(`${image}.od-An-tx1.txt`));
    expect(r).toMatchObject({ ok: false, message: expect.stringMatching(/^image: line 2: "\*" stands for repeated lines that od -An squeezed/) });
    expect(r.ok || r.message).toMatch(OD_FLAGS);
  });

  it('checks the final offset against the bytes read', () => {
    const lines = text('vcpu1.hexdump-Cv.txt').trimEnd().split('\n');
    const short = [...lines.slice(0, 63), lines[64]].join('\n'); // the 0x3f0 line dropped
    expect(parseLapicImage(enc(short))).toEqual({ ok: false, message: 'image: line 64: offset 00000400 ends the dump, but the lines before it hold 1008 bytes' });
    const od = text('vcpu1.od-Ax-tx1.txt').replace(/^000400$/m, '000410');
    expect(parseLapicImage(enc(od))).toEqual({ ok: false, message: 'image: the dump holds 1040 bytes; a KVM_GET_LAPIC image has 1024' }); // the last "*" reaches it
  });

  it('names the line of a "*" or an offset that cannot be followed, and nothing else is read', () => {
    const c = text('vcpu1.hexdump-C.txt').split('\n');
    expect(parseLapicImage(enc(['*', ...c].join('\n')))).toEqual({ ok: false, message: 'image: line 1: "*" comes before any line it could repeat' });
    const bent = c.map((l) => l.replace(/^000000e0/, '000000e8')).join('\n'); // after the "*" on line 6
    expect(parseLapicImage(enc(bent))).toMatchObject({ ok: false, message: expect.stringMatching(/^image: line 7: offset 000000e8 does not follow the "\*" on line 6/) });
    const noEnd = c.filter((l) => l !== '00000400').join('\n'); // the final offset lost after a "*"
    expect(parseLapicImage(enc(noEnd))).toEqual({ ok: false, message: 'image: line 14: "*" is not followed by an offset saying how many lines it stands for' });
    const zz = c.map((l) => l.replace(/^(00000030  14) 00/, '$1 zz')).join('\n');
    expect(parseLapicImage(enc(zz))).toEqual({ ok: false, message: 'image: line 4: "zz" is not hex bytes' });
  });
});
