import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';

/**
 * The built app works offline (a service worker precaches it) and from disk (file://). Both need
 * the build: against the dev server (E2E_PORT) they are skipped. DIST_DIR names the build opened
 * from disk (default: dist/, what `npm test` builds).
 */
const DIST = resolve(process.env.DIST_DIR ?? 'dist');

/**
 * The parts loaded on demand (vite.config.ts: classic-script chunks) load here too: the compare
 * dialog, a tour (its documents and card), the trace import (parser and review) and a panel's help.
 */
async function openLazyParts(page: import('@playwright/test').Page) {
  const vcpus = page.getByRole('region', { name: 'vCPUs' });
  await vcpus.getByRole('button', { name: 'Show what the vCPUs panel is' }).click();
  await expect(vcpus.getByRole('note')).toContainText('Every virtual CPU of the VM');
  await vcpus.getByRole('button', { name: 'Close', exact: true }).click();
  await page.getByRole('button', { name: 'Compare' }).click();
  const dialog = page.getByRole('dialog', { name: 'Compare releases' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Close compare mode' }).click();
  await page.getByLabel('Guided tours').selectOption('beginner');
  const card = page.getByRole('region', { name: 'Guided tour' });
  await expect(card).toContainText('First steps');
  await card.getByRole('button', { name: 'End the tour' }).click();
  const trace = readFileSync('src/import/testdata/vmm.report.txt');
  await page.getByLabel('Import scenario file').setInputFiles({ name: 'vmm.report.txt', mimeType: 'text/plain', buffer: trace });
  await expect(page.getByRole('dialog', { name: 'Import a trace: which vCPU each thread runs' })).toBeVisible();
}

const isBuild = async (page: import('@playwright/test').Page) => (await page.locator('meta[http-equiv="Content-Security-Policy"]').count()) > 0;

test('a reload while offline renders the app', async ({ page, context }) => {
  await page.goto('/');
  test.skip(!(await isBuild(page)), 'the dev server has no service worker; npm test runs the built app');
  await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
  // The worker is active once its precache is complete; it then answers the reload.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(4);
  await openLazyParts(page);
  await context.setOffline(false);
});

test('dist/index.html opened from disk renders the app', async ({ page }) => {
  await page.goto('/');
  test.skip(!(await isBuild(page)) || !existsSync(`${DIST}/index.html`), 'needs a build in DIST_DIR (default dist/)');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`file://${DIST}/index.html`);
  await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(4);
  await page.getByTestId('vcpu-row-1').getByRole('button', { name: 'Enter x2APIC mode on vCPU 1' }).click();
  await expect(page.getByTestId('vcpu-row-1')).toContainText('x2APIC');
  await openLazyParts(page);
  expect(errors).toEqual([]);
});
