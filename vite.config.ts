import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

/**
 * The built page's Content-Security-Policy: scripts and styles only from the app's own files, no
 * network requests, no plugins. Only in builds: the dev server needs inline scripts for React's
 * hot reload. The service worker is registered by the app's own script (main.tsx), nothing inline;
 * its precache fetches run in the worker, which the page's policy does not govern.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'";
function contentSecurityPolicy(): Plugin {
  return {
    name: 'content-security-policy',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CSP }, injectTo: 'head-prepend' }],
  };
}

/**
 * dist/index.html opened from disk (file://): Chromium refuses module scripts and CORS-mode
 * (crossorigin) loads there, so the entry is a classic script loaded with `defer`, and the
 * crossorigin attributes are dropped.
 */
function classicScript(): Plugin {
  return {
    name: 'classic-script',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler: (html) =>
        html
          .replace(/<script type="module" crossorigin src=/g, '<script defer src=')
          .replace(/<script type="module" src=/g, '<script defer src=')
          .replace(/(<link rel="stylesheet") crossorigin/g, '$1'),
    },
  };
}

/**
 * Code splitting with classic scripts only. Rollup's IIFE output cannot split, and ES module
 * chunks do not load from file:// (above), so the build is CommonJS (Rolldown splits that at
 * every import()) and each chunk file is wrapped to register itself:
 *
 *   __lapicChunks.push(["name.js", ["static-dep.js", ...], function (require, exports, module) { ...the chunk... }]);
 *
 * The entry chunk holds everything the first load needs and starts with the small loader below,
 * which runs a chunk once the chunks it imports statically have run. A dynamic import() is
 * rendered by Rolldown as `Promise.resolve().then(() => require("./chunk.js"))`: for a chunk not
 * loaded yet, require() adds a classic <script src> and returns a promise of its exports, which
 * that then() adopts. So the parts loaded on demand (the compare dialog, the trace import, the
 * tours, the panels' help) are plain same-origin scripts: fine from file://, under the CSP's
 * script-src 'self', and offline (the service worker precaches every chunk).
 * `node scripts/firstLoadJs.mjs` sizes what the first load fetches.
 */
const CHUNK_LOADER = `(() => {
  // Chunks sit beside the entry script (dist/assets/); require("./x.js") names them from there.
  const me = document.currentScript;
  const base = me ? me.src.replace(/[^/]*$/, '') : new URL('assets/', document.baseURI).href;
  const chunks = new Map(); // file -> { exports, promise, resolve, reject, requested }
  const get = (file) => {
    let c = chunks.get(file);
    if (!c) {
      c = {};
      c.promise = new Promise((resolve, reject) => Object.assign(c, { resolve, reject }));
      chunks.set(file, c);
    }
    return c;
  };
  const load = (file) => {
    const c = get(file);
    if (!c.exports && !c.requested) {
      c.requested = true;
      const script = document.createElement('script');
      script.src = base + file;
      script.onerror = () => {
        chunks.delete(file); // a later import() tries again
        c.reject(new Error('could not load ' + file));
      };
      document.head.appendChild(script);
    }
    return c.promise;
  };
  const require = (id) => {
    const file = id.replace(/^\\.\\//, '');
    const c = chunks.get(file);
    return c && c.exports ? c.exports : load(file);
  };
  const run = (c, factory) => {
    const module = { exports: {} };
    factory(require, module.exports, module);
    c.exports = module.exports;
    c.resolve(c.exports);
  };
  self.__lapicChunks = {
    push([file, deps, factory]) {
      const c = get(file);
      const missing = deps.filter((d) => !(chunks.get(d) || {}).exports);
      if (missing.length === 0) run(c, factory); // the entry: at once, as a plain script would
      else Promise.all(missing.map(load)).then(() => run(c, factory)).catch(c.reject);
    },
  };
})();`;

function classicChunks(): Plugin {
  const base = (file: string) => file.slice(file.lastIndexOf('/') + 1);
  return {
    name: 'classic-chunks',
    apply: 'build',
    config: () => ({
      build: {
        rolldownOptions: {
          // Vite wraps each import() in its preload helper, passing import.meta.url, which CommonJS
          // output replaces with {} (the helper does not use it without preloads): not a problem.
          // Those logs point into the helper or at the start of the importing module.
          onLog(level, log, handler) {
            if (log.code === 'EMPTY_IMPORT_META' && (log.id === '\0vite/preload-helper.js' || log.pos === 0)) return;
            handler(level, log);
          },
          output: {
            format: 'cjs',
            // Everything the entry imports statically stays in the entry chunk: one file for the
            // first load (left alone, Rolldown may move what lazy chunks share into a common chunk
            // the entry then waits for, and the glue between chunks costs more than it saves).
            codeSplitting: { groups: [{ name: 'index', tags: ['$initial'] }] },
            banner: (chunk) =>
              `${chunk.isEntry ? CHUNK_LOADER : ''}__lapicChunks.push([${JSON.stringify(base(chunk.fileName))}, ${JSON.stringify(chunk.imports.map(base))}, function (require, exports, module) {`,
            footer: () => '}]);',
          },
        },
      },
    }),
    generateBundle(_, bundle) {
      const chunks = Object.values(bundle).filter((f) => f.type === 'chunk');
      // The loader finds every chunk beside the entry: one folder for all of them.
      const dirs = new Set(chunks.map((f) => f.fileName.slice(0, f.fileName.lastIndexOf('/') + 1)));
      if (dirs.size > 1) this.error(`classic-chunks: chunks in several folders (${[...dirs].join(', ')}); the chunk loader expects one`);
      // index.html loads the entry alone: a chunk it imports would be fetched only once it ran.
      for (const entry of chunks.filter((f) => f.isEntry && f.imports.length)) {
        this.warn(`classic-chunks: the entry ${entry.fileName} imports ${entry.imports.join(', ')}, loaded one after the other`);
      }
    },
  };
}

export default defineConfig({
  plugins: [
    react(),
    contentSecurityPolicy(),
    classicScript(),
    classicChunks(),
    // A reload while offline works: a service worker precaches the built files.
    VitePWA({
      injectRegister: false, // main.tsx registers it (not on file:// nor the dev server)
      registerType: 'autoUpdate',
      manifest: false,
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg}'],
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
        navigateFallback: 'index.html',
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  base: './',
  build: {
    target: 'es2022',
    sourcemap: true,
    // One CSS file, linked by index.html (lazy chunks would otherwise inject theirs as <style>,
    // which the CSP refuses). The output format is set by classicChunks().
    cssCodeSplit: false,
    modulePreload: false,
  },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
  },
});
