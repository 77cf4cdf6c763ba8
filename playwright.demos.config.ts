/**
 * `npm run demos`: the tour spec recorded as 1280x720 videos. Playwright looks for its own ffmpeg
 * build (ffmpeg-<revision>/ffmpeg-linux under PLAYWRIGHT_BROWSERS_PATH); Debian's ffmpeg does the
 * same job, so a folder with that layout and a link to /usr/bin/ffmpeg is made here, before any
 * browser starts. Chromium itself is the one from scripts/chromium.mjs.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

const browsers = resolve('node_modules/.playwright-ffmpeg');
const revision = (JSON.parse(readFileSync('node_modules/playwright-core/browsers.json', 'utf8')) as { browsers: { name: string; revision: string }[] }).browsers.find((b) => b.name === 'ffmpeg')!.revision;
const link = join(browsers, `ffmpeg-${revision}`, 'ffmpeg-linux');
if (!existsSync(link) && existsSync('/usr/bin/ffmpeg')) {
  mkdirSync(join(browsers, `ffmpeg-${revision}`), { recursive: true });
  symlinkSync('/usr/bin/ffmpeg', link);
}
process.env.PLAYWRIGHT_BROWSERS_PATH = browsers;
process.env.DEMO = '1';

export default defineConfig({
  ...base,
  testMatch: 'tours.spec.ts',
  outputDir: 'demos/raw',
  reporter: [['list']],
  timeout: 300_000,
  use: {
    ...base.use,
    video: { mode: 'on', size: { width: 1280, height: 720 } },
    trace: 'off',
  },
});
