/**
 * One vCPU's KVM_GET_LAPIC image (struct kvm_lapic_state, 1024 bytes) as a file: binary, or a hex
 * dump as `xxd`, `hexdump -C` or `od -tx1` print it (the ASCII column is ignored; a `*` that
 * hexdump/od squeeze repeated lines into is expanded from the next line's offset, and a final bare
 * offset ends the dump), so that real VMMs' dumps can be explored. Pure functions.
 */
import { LAPIC_STATE_SIZE, SLOT_OFFSETS, slotKey } from '../core/apicdef';

export type ImageParse = { ok: true; words: Uint32Array } | { ok: false; message: string };

/** A 1024-byte image as 256 little-endian 32-bit words. */
export function imageWords(bytes: Uint8Array): Uint32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: LAPIC_STATE_SIZE / 4 }, (_, i) => dv.getUint32(i * 4, true));
}

/** One non-blank line of a dump: data (with its leading offset, if any), a `*` or a bare offset. */
type Row = { n: number; off?: string; bytes: number[]; bare?: string; bad?: string } | { n: number; star: true };

const OD_ADVICE = 'dump with `od -An -tx1 -v` or `od -Ax -tx1 -v`, or keep the offsets (`od -Ax -tx1`) so "*" can be expanded';

/** Offsets in radix `radix`, or NaN when a digit does not belong to it. */
function offsetValue(off: string, radix: number): number {
  const ok = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  return ok.test(off) ? parseInt(off, radix) : NaN;
}

/**
 * The bytes of rows whose offsets count: `*` (hexdump, od, xxd -a squeeze repeated lines into it)
 * stands for as many copies of the line before it as the next line's offset says, and a final
 * bare offset (hexdump -C, od -Ax) ends the dump at exactly that many bytes.
 */
function expandRows(rows: Row[], end: { n: number; off: string } | undefined, radix: number): number[] | string {
  const bytes: number[] = [];
  let prev: number[] | undefined;
  let star: number | undefined; // the line of a `*` awaiting its offset
  const reach = (n: number, off: string, ends = false): string | undefined => {
    const o = offsetValue(off, radix);
    if (Number.isNaN(o)) return `line ${n}: offset ${off} is not a number`;
    if (star !== undefined && prev) {
      const gap = o - bytes.length;
      if (gap <= 0 || gap % prev.length) return `line ${n}: offset ${off} does not follow the "*" on line ${star} (the ${prev.length}-byte line before it cannot repeat to reach it)`;
      for (let k = gap / prev.length; k > 0; k--) bytes.push(...prev);
      star = undefined;
    } else if (o !== bytes.length) return `line ${n}: offset ${off}${ends ? ' ends the dump' : ''}, but the lines before it hold ${bytes.length} bytes`;
    return undefined;
  };
  for (const r of rows) {
    if ('star' in r) {
      if (!prev) return `line ${r.n}: "*" comes before any line it could repeat`;
      if (star !== undefined) return `line ${r.n}: a second "*" follows the one on line ${star}`;
      star = r.n;
      continue;
    }
    if (r.off !== undefined) {
      const bad = reach(r.n, r.off);
      if (bad) return bad;
    } else if (star !== undefined) return `line ${star}: "*" is not followed by an offset saying how many lines it stands for`;
    bytes.push(...r.bytes);
    prev = r.bytes;
  }
  if (end) {
    const bad = reach(end.n, end.off, true);
    if (bad) return bad;
  } else if (star !== undefined) return `line ${star}: "*" is not followed by an offset saying how many lines it stands for`;
  return bytes;
}

/** Hex bytes of a dump: each line without its leading offset and trailing |ascii| column. */
function dumpBytes(text: string): number[] | string {
  const rows: Row[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n].replace(/\|.*\|\s*$/, '').trim();
    if (!line) continue;
    if (line === '*') {
      rows.push({ n: n + 1, star: true });
      continue;
    }
    const bare = /^([0-9a-f]{6,16}):?$/i.exec(line)?.[1]; // a final offset, or data
    const lead = /^([0-9a-f]{6,16}):?\s+/i.exec(line); // xxd "00000010:" / hexdump -C "00000010" / od "000020"
    if (lead) line = line.slice(lead[0].length);
    const xxd = /^((?:[0-9a-f]{4}\s){1,8})\s+\S.*$/i.exec(line + ' '); // xxd: groups of 4 then ASCII
    const body = xxd && !/^([0-9a-f]{2}\s)+$/i.test(line + ' ') ? xxd[1] : line;
    const row: Row = { n: n + 1, off: lead?.[1], bytes: [], bare };
    for (const tok of body.split(/\s+/).filter(Boolean)) {
      if (!/^([0-9a-f]{2})+$/i.test(tok)) {
        if (!bare) return `line ${n + 1}: "${tok}" is not hex bytes`;
        row.bad = `line ${n + 1}: "${tok}" is not hex bytes`; // unless it is the final offset
        break;
      }
      for (let i = 0; i < tok.length; i += 2) row.bytes.push(parseInt(tok.slice(i, i + 2), 16));
    }
    rows.push(row);
  }
  const hasOffsets = rows.some((r) => !('star' in r) && r.off !== undefined);
  const last = rows[rows.length - 1];
  const end = last && !('star' in last) && last.bare && hasOffsets ? { n: last.n, off: last.bare } : undefined;
  if (end) rows.pop();
  const bad = rows.find((r) => !('star' in r) && r.bad);
  if (bad && !('star' in bad)) return bad.bad!;
  const star = rows.find((r) => 'star' in r);
  if (star && !hasOffsets) return `line ${star.n}: "*" stands for repeated lines that od -An squeezed (no -v), and without offsets nothing says how many; ${OD_ADVICE}`;
  // Offsets are only read where they are needed: to expand "*" and to end the dump.
  if (!star && !end) return rows.flatMap((r) => ('star' in r ? [] : r.bytes));
  // hexdump/xxd/od -Ax offsets are hex; od's default (-Ao) octal and od -Ad decimal, both 7 digits.
  // A base whose reading gives a whole image wins, then any that reads, else hex's complaint.
  const results = [16, 8, 10].map((radix) => expandRows(rows, end, radix));
  return results.find((r) => typeof r !== 'string' && r.length === LAPIC_STATE_SIZE) ?? results.find((r) => typeof r !== 'string') ?? results[0];
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
