/** `npm run bench:ui`: bench/ui.bench.ts against the built app (see playwright.config.ts). */
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({ ...base, testDir: './bench', testMatch: 'ui.bench.ts', reporter: [['list']] });
