/**
 * The UI renders decisions and never reads facts back out of result or trace text: no regular
 * expression or string matching over a result's words (why, reason, reasons, inhibitCauses) or a
 * trace event's detail anywhere in src/ui.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const UI = join(__dirname);
const TEXT_FIELDS = /\b(why|detail|reason|reasons|inhibitCauses|trace)\b/;
/** String matching: a regex literal's methods, String.match/matchAll/replace/split/search/startsWith/includes. */
const MATCHING = /\.(match|matchAll|replace|replaceAll|split|search|startsWith|endsWith|includes|indexOf)\(|\.(test|exec)\(/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f) ? [p] : [];
  });
}

describe('src/ui reads no result or trace text', () => {
  const files = sources(UI);
  it('finds the UI sources', () => expect(files.length).toBeGreaterThan(20));

  it('no line both names a result/trace text field and matches strings', () => {
    const offenders: string[] = [];
    for (const file of files) {
      readFileSync(file, 'utf8').split('\n').forEach((line, n) => {
        if (line.trim().startsWith('*') || line.trim().startsWith('//')) return;
        if (TEXT_FIELDS.test(line) && MATCHING.test(line)) offenders.push(`${file.slice(UI.length + 1)}:${n + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('no regular expression is built from or run over a trace event', () => {
    const offenders = files.filter((f) => /\.detail\b[^\n]*\/[^/\n]+\/|new RegExp\([^)]*detail/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
