import { expect, test, type Page } from '@playwright/test';

/**
 * No `title` tooltips (issue 14): reasons are on screen, and the tips that remain open on hover,
 * keyboard focus and tap (Panel.tsx Tip / WithTip), not only under a mouse.
 */

/** Every element with a non-empty title attribute, but the SVG <title> children that name SVG nodes. */
async function titled(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('[title]')]
      .filter((el) => (el.getAttribute('title') ?? '').trim() !== '')
      .map((el) => `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} class="${el.getAttribute('class') ?? ''}"> title="${el.getAttribute('title')}"`),
  );
}

test('no element has a title tooltip: main screen, a tour, the compare dialog', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
  // An IPI sent, so that the ICR result (path, targets, Why) is drawn too.
  await page.getByRole('region', { name: 'ICR' }).getByRole('button', { name: 'Send IPI' }).click();
  expect(await titled(page)).toEqual([]);

  await page.getByLabel('Guided tours').selectOption({ index: 1 });
  const card = page.getByRole('region', { name: 'Guided tour' });
  await expect(card).toBeVisible();
  expect(await titled(page)).toEqual([]);
  await card.getByRole('button', { name: 'Next tour step' }).click();
  await card.getByRole('button', { name: 'Next tour step' }).click();
  expect(await titled(page)).toEqual([]);
  await card.getByRole('button', { name: 'Fold the tour card' }).click();
  expect(await titled(page)).toEqual([]);
  await card.getByRole('button', { name: 'Unfold the tour card' }).click();
  await card.getByRole('button', { name: 'End the tour' }).click();
  await expect(card).toBeHidden();

  await page.getByRole('button', { name: 'Compare' }).click();
  const dialog = page.getByRole('dialog', { name: 'Compare releases' });
  await expect(dialog).toBeVisible();
  expect(await titled(page)).toEqual([]);
});

test('a tip opens on keyboard focus and closes on Escape', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Number of vCPUs').focus();
  await page.keyboard.press('Tab');
  const reset = page.getByRole('button', { name: 'Reset', exact: true });
  await expect(reset).toBeFocused();
  const tip = page.getByRole('tooltip');
  await expect(tip).toBeVisible();
  await expect(tip).toContainText('Start over with this many vCPUs');
  // The tip describes the control it belongs to.
  await expect(reset).toHaveAccessibleDescription(/Start over with this many vCPUs/);
  await page.keyboard.press('Escape');
  await expect(tip).toBeHidden();
});

test.describe('on a touch screen', () => {
  test.use({ hasTouch: true });

  test('a tip opens on tap', async ({ page }) => {
    await page.goto('/');
    const state = page.getByTestId('map-state');
    await state.tap();
    const tip = page.getByRole('tooltip');
    await expect(tip).toBeVisible();
    await expect(tip).toContainText('the optimized APIC map is present');
    await page.screenshot({ path: 'test-results/tooltip-tap.png' });
  });
});

test("a register name's tip brings its bit fields, loaded the first time one opens", async ({ page }) => {
  await page.goto('/');
  const regs = page.getByRole('region', { name: 'Register page' });
  await regs.getByTestId('reg-0x080').getByText('APIC_TASKPRI', { exact: true }).hover();
  const tip = page.getByRole('tooltip');
  await expect(tip).toContainText('bits 7:4 task priority class');
  await regs.getByTestId('reg-0x100').getByText(/^APIC_ISR/).hover();
  await expect(tip).toContainText('vectors 0-31 (bit n = vector 0 + n)');
});
