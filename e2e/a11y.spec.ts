import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';

/**
 * An axe pass (WCAG 2.x A and AA rules) on the main screen and during a tour: no serious or
 * critical violation.
 */

async function seriousViolations(page: Page) {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found: string[] = [];
  for (const v of r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')) {
    for (const n of v.nodes) {
      const where = n.target.join(' ');
      const line = `${v.impact} ${v.id}: ${where}`;
      found.push(`${line} (${v.help}; ${n.failureSummary?.split('\n')[1]?.trim() ?? ''})`);
    }
  }
  return found;
}

test('the main screen', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  // The VM bar's menus, open.
  await page.getByTestId('preset-menu').locator('summary').click();
  expect(await seriousViolations(page)).toEqual([]);
  await page.getByTestId('preset-menu').getByRole('button', { name: /As KVM creates it/ }).click();
  await page.getByTestId('set-aside-menu').locator('summary').click();
  await expect(page.getByTestId('set-aside-menu')).toContainText('Restore');
  expect(await seriousViolations(page)).toEqual([]);
});

test('during a tour', async ({ page }) => {
  await page.goto('/');
  // The tours menu calls window.lab.getState().startTour(tour).
  await page.getByLabel('Guided tours').selectOption({ index: 1 });
  await expect(page.getByRole('region', { name: 'Guided tour' })).toBeVisible();
  await page.getByRole('button', { name: 'Next tour step' }).click();
  expect(await page.evaluate(() => window.lab.getState().tour !== null)).toBe(true);
  expect(await seriousViolations(page)).toEqual([]);
});
