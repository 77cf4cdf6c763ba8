// The JavaScript a page load of the built app fetches before its first render, gzipped: the
// scripts dist/index.html names, and every chunk those load eagerly (the static dependencies the
// chunk loader in vite.config.ts waits for, or an ES module's static imports). Chunks loaded on
// demand (the compare dialog, the trace import, the tours...) are counted only in the total.
//
//   node scripts/firstLoadJs.mjs [dist]   prints the figures as JSON
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const kb = (bytes) => Math.round(bytes / 10) / 100; // kB of 1000 bytes, two decimals
const gzipped = (file) => gzipSync(readFileSync(file)).length;

/** The chunks `code` loads before it runs: a classic chunk names them where it registers itself. */
function eagerDeps(code) {
  // `__lapicChunks.push(["name.js", ["dep.js", ...], function ...` (quoted with ", ' or `).
  const defined = /__lapicChunks\.push\(\s*\[\s*["'`][^"'`]*["'`]\s*,\s*\[([^\]]*)\]/.exec(code);
  if (defined) return [...defined[1].matchAll(/["'`]([^"'`]+)["'`]/g)].map((m) => m[1]);
  // An ES module: its static imports (`import "./x.js"`, `from "./x.js"`), not import("./x.js").
  return [...code.matchAll(/(?:\bimport|\bfrom)\s*["']([^"']+\.js)["']/g)].map((m) => m[1]);
}

/**
 * `{ firstLoadGzipKb, totalGzipKb, files, all }` for the build in `dist`: files are the scripts of the
 * first load, each `{ file, gzipKb }` (file relative to dist), in load order.
 */
export function firstLoadJs(dist = 'dist') {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const queue = [];
  for (const tag of html.matchAll(/<script\b[^>]*>/g)) {
    const src = /\bsrc="([^"]+)"/.exec(tag[0]);
    if (src && !/^[a-z]+:/i.test(src[1])) queue.push(posix.normalize(src[1].replace(/^\//, '')));
  }
  for (const tag of html.matchAll(/<link\b[^>]*rel="modulepreload"[^>]*>/g)) {
    const href = /\bhref="([^"]+)"/.exec(tag[0]);
    if (href) queue.push(posix.normalize(href[1].replace(/^\//, '')));
  }
  const seen = new Set();
  const files = [];
  while (queue.length) {
    const file = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    const path = join(dist, file);
    if (!existsSync(path)) throw new Error(`${file}: named by index.html or a chunk, but not in ${dist}`);
    files.push({ file, gzipKb: kb(gzipped(path)) });
    for (const dep of eagerDeps(readFileSync(path, 'utf8'))) queue.push(posix.join(posix.dirname(file), dep));
  }
  const assets = join(dist, 'assets');
  const all = existsSync(assets) ? readdirSync(assets).filter((f) => f.endsWith('.js')).map((f) => join(assets, f)) : [];
  const total = all.reduce((n, f) => n + gzipped(f), 0);
  return {
    firstLoadGzipKb: kb(files.reduce((n, f) => n + gzipped(join(dist, f.file)), 0)),
    totalGzipKb: kb(total),
    files,
    /** Every script under dist/assets with its gzip size, largest first (what else weighs). */
    all: all.map((f) => ({ file: relative(dist, f), gzipKb: kb(gzipped(f)) })).sort((a, b) => b.gzipKb - a.gzipKb),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(firstLoadJs(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')), null, 2));
}
