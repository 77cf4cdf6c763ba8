/**
 * Each vCPU's final KVM_GET_LAPIC image as `lapic-<vcpu>.bin`, plus the dumps the real tools print
 * of it, named like src/scenario/testdata/lapic/ (`<image>.<tool and flags>.txt`), so the image
 * reader can be tested on real dumps of real kernel images. Node only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type Tool } from './tools';

/** File suffix -> the command that prints it; squeezed (`*`) and verbose forms of each tool. */
export const LAPIC_DUMPS: Record<string, [Tool, ...string[]]> = {
  'hexdump-C': ['hexdump', '-C'],
  'hexdump-Cv': ['hexdump', '-Cv'],
  'od-Ax-tx1': ['od', '-Ax', '-tx1'],
  'od-Ax-tx1-v': ['od', '-Ax', '-tx1', '-v'],
};

/** Write lapic-<vcpu>.bin and its dumps into `dir`; returns the file names written. */
export function writeLapicDumps(dir: string, vcpu: number, image: Uint8Array): string[] {
  const base = `lapic-${vcpu}`;
  writeFileSync(join(dir, `${base}.bin`), image);
  const files = [`${base}.bin`];
  for (const [suffix, [tool, ...flags]] of Object.entries(LAPIC_DUMPS)) {
    // The tools read the .bin from the directory, as one would by hand: the dump is theirs, unedited.
    run(tool, [...flags, join(dir, `${base}.bin`)], join(dir, `${base}.${suffix}.txt`));
    files.push(`${base}.${suffix}.txt`);
  }
  return files;
}
