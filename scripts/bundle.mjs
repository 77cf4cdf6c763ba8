// Bundle a TypeScript entry for Node with esbuild (no keepNames: hot loops stay free of name
// helpers), caching the result under node_modules/.cache until a file it was built from changed.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Besides the bundle's own inputs: npm gives every installed file the same fixed mtime, so an
 * upgraded dependency shows only in the lockfile's.
 */
const ALSO_WATCHED = ['package-lock.json'];

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Infinity; // gone: rebuild
  }
};

/**
 * Is the bundle older than any file it was built from? The list (esbuild's metafile inputs) is
 * written beside it with the time the build started, so an edit made during a build counts.
 * Checking only these files, not every file under src/, keeps a start under a few ms.
 */
function stale(out, inputsFile) {
  if (!existsSync(out) || !existsSync(inputsFile)) return true;
  const { builtAt, inputs } = JSON.parse(readFileSync(inputsFile, 'utf8'));
  return inputs.some((p) => mtime(p) >= builtAt);
}

/** The bundled file for `entry`, rebuilt when a file it was built from (or the lockfile) changed. */
export async function bundled(entry, name) {
  const out = join('node_modules', '.cache', 'lapic', `${name}.mjs`);
  const inputsFile = join('node_modules', '.cache', 'lapic', `${name}.inputs.json`);
  if (!stale(out, inputsFile)) return out;
  const builtAt = Date.now();
  // Loaded only to rebuild: importing esbuild costs a start about 30 ms.
  const { build } = await import('esbuild');
  const r = await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['koffi'],
    logLevel: 'error',
    metafile: true,
    banner: { js: "import { createRequire as __lapicRequire } from 'node:module'; const require = __lapicRequire(import.meta.url);" },
  });
  const inputs = [...Object.keys(r.metafile.inputs).filter((p) => existsSync(p)), ...ALSO_WATCHED];
  writeFileSync(inputsFile, JSON.stringify({ builtAt, inputs }) + '\n');
  return out;
}
