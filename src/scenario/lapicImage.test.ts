import { describe, expect, it } from 'vitest';
import { hexDump, imageBytes, parseLapicImage } from './lapicImage';

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
