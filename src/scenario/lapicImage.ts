/**
 * One vCPU's KVM_GET_LAPIC image (struct kvm_lapic_state, 1024 bytes) as a file: binary, or a hex
 * dump as `xxd`, `hexdump -C` or `od -An -tx1` print it (offsets and the ASCII column are
 * ignored), so that real VMMs' dumps can be explored. Pure functions.
 */
import { LAPIC_STATE_SIZE, SLOT_OFFSETS, slotKey } from '../core/apicdef';

export type ImageParse = { ok: true; words: Uint32Array } | { ok: false; message: string };

/** A 1024-byte image as 256 little-endian 32-bit words. */
export function imageWords(bytes: Uint8Array): Uint32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: LAPIC_STATE_SIZE / 4 }, (_, i) => dv.getUint32(i * 4, true));
}

/** Hex bytes of a dump: each line without its leading offset and trailing |ascii| column. */
function dumpBytes(text: string): number[] | string {
  const bytes: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n].replace(/\|.*\|\s*$/, '').trim();
    if (!line) continue;
    line = line.replace(/^[0-9a-f]{6,16}:?\s+/i, ''); // xxd "00000010:" / hexdump -C "00000010"
    const xxd = /^((?:[0-9a-f]{4}\s){1,8})\s+\S.*$/i.exec(line + ' '); // xxd: groups of 4 then ASCII
    const body = xxd && !/^([0-9a-f]{2}\s)+$/i.test(line + ' ') ? xxd[1] : line;
    for (const tok of body.split(/\s+/).filter(Boolean)) {
      if (!/^([0-9a-f]{2})+$/i.test(tok)) return `line ${n + 1}: "${tok}" is not hex bytes`;
      for (let i = 0; i < tok.length; i += 2) bytes.push(parseInt(tok.slice(i, i + 2), 16));
    }
  }
  return bytes;
}

/** Parse a 1024-byte binary image or a hex dump of one. */
export function parseLapicImage(data: Uint8Array): ImageParse {
  if (data.byteLength === LAPIC_STATE_SIZE) return { ok: true, words: imageWords(data) };
  if (data.byteLength > 64 * 1024) return { ok: false, message: `image: ${data.byteLength} bytes is not a LAPIC image (1024 bytes, or a hex dump of them)` };
  const text = new TextDecoder().decode(data);
  if (!/^[\s0-9a-fA-F:|.x*\-\u0020-\u007e]*$/.test(text)) return { ok: false, message: `image: ${data.byteLength} bytes is neither a 1024-byte binary image nor a text hex dump` };
  const bytes = dumpBytes(text);
  if (typeof bytes === 'string') return { ok: false, message: `image: ${bytes}` };
  if (bytes.length !== LAPIC_STATE_SIZE) return { ok: false, message: `image: the dump holds ${bytes.length} bytes; a KVM_GET_LAPIC image has 1024` };
  return { ok: true, words: imageWords(Uint8Array.from(bytes)) };
}

/** The image as 1024 little-endian bytes. */
export function imageBytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(LAPIC_STATE_SIZE);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w, true));
  return out;
}

/** An `xxd`-style dump: 16 bytes a line. */
export function hexDump(words: Uint32Array): string {
  const b = imageBytes(words);
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = Array.from(b.slice(off, off + 16), (x) => x.toString(16).padStart(2, '0'));
    const groups = Array.from({ length: 8 }, (_, g) => row[g * 2] + row[g * 2 + 1]).join(' ');
    lines.push(`${off.toString(16).padStart(8, '0')}: ${groups}`);
  }
  return lines.join('\n') + '\n';
}

/** The set_lapic step that installs an image (its 64 register slots). */
export function setLapicStep(vcpu: number, words: Uint32Array): object {
  return { op: 'set_lapic', vcpu, regs: Object.fromEntries(SLOT_OFFSETS.map((off) => [slotKey(off), '0x' + words[off >> 2].toString(16)])) };
}
