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
 * (crossorigin) loads there, so the app is built as one classic script (IIFE; the web app has no
 * dynamic imports) loaded with `defer`, and the crossorigin attributes are dropped.
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

export default defineConfig({
  plugins: [
    react(),
    contentSecurityPolicy(),
    classicScript(),
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
    // One CSS file (an IIFE build would otherwise inject the styles inline, which the CSP refuses).
    cssCodeSplit: false,
    rollupOptions: { output: { format: 'iife' } },
  },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
  },
});
