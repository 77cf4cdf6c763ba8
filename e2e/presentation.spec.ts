import { expect, test } from '@playwright/test';
import { noSideways, overflowing } from './fit';

test('presentation mode enlarges the type, is remembered, and the layout still holds at 1024x768', async ({ page }) => {
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.goto('/');
  await page.waitForLoadState('networkidle');
  const heading = page.getByRole('heading', { name: 'vCPUs', exact: true });
  const before = (await heading.boundingBox())!.height;
  const toggle = page.getByRole('button', { name: /Presentation mode/ });
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('html')).toHaveClass(/presentation/);
  const after = (await heading.boundingBox())!.height;
  expect(after).toBeGreaterThan(before * 1.15);
  expect(await page.evaluate(() => localStorage.getItem('kvm-lapic-lab.presentation'))).toBe('1');
  await expect.poll(() => overflowing(page)).toEqual([]);
  await noSideways(page);

  // Remembered across a reload; toggled off again by keyboard.
  await page.reload();
  await expect(page.locator('html')).toHaveClass(/presentation/);
  await page.getByRole('button', { name: /Presentation mode/ }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('html')).not.toHaveClass(/presentation/);
  expect(await page.evaluate(() => localStorage.getItem('kvm-lapic-lab.presentation'))).toBeNull();
});
