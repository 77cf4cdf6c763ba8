#!/usr/bin/env node
// `npm test`: type check, unit tests (vitest), browser tests (Playwright, built app in Chromium).
// Prints one plain "N passed, N failed" line per runner, computed from their JSON reports.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { chromiumExecutable } from './chromium.mjs';

const reports = '.reports';
mkdirSync(reports, { recursive: true });
const run = (cmd, args, env = {}) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;
const lines = [];
let failed = false;

// 1. Type check
const tsc = run('npx', ['tsc', '-b']);
lines.push(`typecheck: ${tsc === 0 ? 1 : 0} passed, ${tsc === 0 ? 0 : 1} failed`);
failed ||= tsc !== 0;

// 2. Unit tests
const vitestJson = `${reports}/vitest.json`;
const vitest = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`]);
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  lines.push(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
} else lines.push('vitest: 0 passed, 1 failed');
failed ||= vitest !== 0;

// 3. Browser tests: use a Chromium we can find, else fetch Playwright's own.
if (!chromiumExecutable()) {
  console.log('No Chromium found ($CHROMIUM_PATH, /usr/bin/chromium): fetching Playwright\'s (needs internet).');
  run('npx', ['playwright', 'install', 'chromium']);
}
const pwJson = `${reports}/playwright.json`;
const pw = run('npx', ['playwright', 'test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: pwJson });
if (existsSync(pwJson)) {
  const s = JSON.parse(readFileSync(pwJson, 'utf8')).stats ?? {};
  lines.push(`playwright: ${s.expected ?? 0} passed, ${(s.unexpected ?? 0) + (s.flaky ?? 0)} failed, ${s.skipped ?? 0} skipped`);
} else lines.push('playwright: 0 passed, 1 failed');
failed ||= pw !== 0;

console.log('\n' + lines.join('\n'));
process.exit(failed ? 1 : 0);
