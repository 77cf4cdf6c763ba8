#!/usr/bin/env node
// `npm run demos`: record every guided tour as a 1280x720 video into demos/ (webm, and mp4 when
// ffmpeg is installed). Needs Chromium (see the README) and Debian's ffmpeg for recording.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

if (!existsSync('/usr/bin/ffmpeg')) {
  console.error('demos: recording needs ffmpeg (apt-get install ffmpeg)');
  process.exit(2);
}
rmSync('demos', { recursive: true, force: true });
mkdirSync('demos', { recursive: true });
const r = spawnSync('npx', ['playwright', 'test', '-c', 'playwright.demos.config.ts', ...process.argv.slice(2)], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

// demos/raw/<test folder>/video.webm -> demos/<tour id>.webm (+ .mp4); the ids are the tour files.
const ids = readdirSync('src/tours').filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
for (const dir of readdirSync('demos/raw')) {
  const id = ids.find((i) => dir.includes(`tour-${i}-`));
  const video = join('demos/raw', dir, 'video.webm');
  if (!id || !existsSync(video)) continue;
  const webm = join('demos', `${id}.webm`);
  copyFileSync(video, webm);
  spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', webm, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', webm.replace(/\.webm$/, '.mp4')], { stdio: 'inherit' });
  console.log(`demos: ${webm} (+ .mp4)`);
}
rmSync('demos/raw', { recursive: true, force: true });
