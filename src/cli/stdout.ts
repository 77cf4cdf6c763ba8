/**
 * Print text on stdout synchronously, through one reused buffer. process.stdout.write() encodes
 * each string into a buffer of its own and, on a pipe its reader has not emptied yet, queues it
 * behind the event loop: for a 56 MB result that is tens of megabytes copied and queued.
 */
import { writeSync } from 'node:fs';

/** Write `pieces` in order, as one text. */
export function printPieces(pieces: readonly string[]): void {
  let buf = Buffer.allocUnsafe(1 << 21);
  let used = 0;
  for (let k = 0; k < pieces.length; k++) {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const most = pieces[k].length * 3;
    if (used + most > buf.length) {
      if (!flush(buf, used, pieces, k)) return;
      used = 0;
      if (most > buf.length) buf = Buffer.allocUnsafe(most);
    }
    used += buf.write(pieces[k], used);
  }
  flush(buf, used, pieces, pieces.length);
}

/** Write the first `used` bytes of `buf`; false if the rest (and pieces[k..]) went to process.stdout. */
function flush(buf: Buffer, used: number, pieces: readonly string[], k: number): boolean {
  let done = 0;
  try {
    while (done < used) done += writeSync(1, buf, done, used - done);
    return true;
  } catch {
    // A stdout that would block (non-blocking, shared with a parent that made it so) or is
    // closed: the rest goes through process.stdout, which waits or reports as it always did.
    process.stdout.write(buf.subarray(done, used));
    for (const p of pieces.slice(k)) process.stdout.write(p);
    return false;
  }
}
