import { expect, test } from '@playwright/test';
import { noSideways, overflowing } from './fit';

/**
 * Fit the room: at every width from a phone up, nothing's right edge passes the viewport (or the
 * scrolling / clipping box it sits in, which clips it legitimately), and the page never scrolls
 * sideways.
 */
const SIZES: [number, number][] = [
  [360, 720],
  [800, 720],
  [1024, 768],
  [1050, 768],
  [1100, 768],
  [1280, 720],
  [1920, 720],
];

for (const [width, height] of SIZES) {
  test(`nothing passes the right edge at ${width}x${height}`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    await page.goto('/');
    await page.waitForLoadState('networkidle');
    await expect(page.getByRole('region', { name: 'vCPUs' })).toBeVisible();
    await expect.poll(() => overflowing(page)).toEqual([]);
    await noSideways(page);
  });
}

test('the known 1001-1113 px gap: the register page ends inside the window', async ({ page }) => {
  for (const width of [1001, 1060, 1113]) {
    await page.setViewportSize({ width, height: 768 });
    await page.goto('/');
    const regs = page.getByRole('region', { name: 'Register page' });
    const box = (await regs.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(width);
  }
});

test('1024x768 and 1280x720 show every panel side by side, the vCPU columns unclipped', async ({ page }) => {
  for (const [width, height] of [[1024, 768], [1280, 720]]) {
    await page.setViewportSize({ width, height });
    await page.goto('/?vcpus=300');
    await page.waitForLoadState('networkidle');
    for (const name of ['vCPUs', 'Optimized APIC map', 'ICR', 'Register page', 'Event log', 'Alias conflicts', 'APICv inhibits']) {
      const box = (await page.getByRole('region', { name, exact: true }).boundingBox())!;
      expect(box.x + box.width, name).toBeLessThanOrEqual(width);
      expect(box.y, name).toBeLessThan(height);
    }
    // No vCPU row cell is cut off: each cell's text fits its column.
    const clipped = await page.evaluate(() =>
      [...document.querySelectorAll('.vrow:not(.vhead) > .mono, .vrow:not(.vhead) > .mode')]
        .filter((el) => el.scrollWidth > el.clientWidth + 1)
        .map((el) => el.textContent),
    );
    expect(clipped).toEqual([]);
    await expect.poll(() => overflowing(page)).toEqual([]);
    await noSideways(page);
  }
});

test('a phone stacks the panels and the page scrolls down, not sideways', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  const vcpus = (await page.getByRole('region', { name: 'vCPUs' }).boundingBox())!;
  const map = (await page.getByRole('region', { name: 'Optimized APIC map' }).boundingBox())!;
  expect(map.y).toBeGreaterThan(vcpus.y + vcpus.height - 1);
  await expect.poll(() => overflowing(page)).toEqual([]);
  await noSideways(page);
});
