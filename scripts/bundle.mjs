// Bundle a TypeScript entry for Node with esbuild (no keepNames: hot loops stay free of name
// helpers), caching the result under node_modules/.cache until a source file is newer.
import { build } from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The bundled file for `entry`, rebuilt when any file under src/ (or the entry) changed. */
export async function bundled(entry, name) {
  const out = join('node_modules', '.cache', 'lapic', `${name}.mjs`);
  const stale = !existsSync(out) || statSync(out).mtimeMs < Math.max(newest('src'), statSync(entry).mtimeMs);
  if (stale) {
    await build({
      entryPoints: [entry],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['koffi'],
      logLevel: 'error',
      banner: { js: "import { createRequire as __lapicRequire } from 'node:module'; const require = __lapicRequire(import.meta.url);" },
    });
  }
  return out;
}
