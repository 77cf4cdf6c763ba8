import { expect, test, type Page } from '@playwright/test';

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

/**
 * Elements whose right edge passes the viewport, or the nearest box that clips or scrolls them
 * sideways (a panel that needs a horizontal scrollbar does not fit either), except text cut with
 * an ellipsis, which opens in place on click.
 */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const clips = (el: Element) => {
      const s = getComputedStyle(el);
      return s.overflowX !== 'visible' || s.overflow === 'hidden';
    };
    const name = (el: Element) => {
      const t = (el.textContent ?? '').trim().slice(0, 40);
      return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')} "${t}"`;
    };
    const bad: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      // Skips hidden things, also the content of a closed <details> (content-visibility: hidden).
      if (!el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true })) continue;
      if (getComputedStyle(el).position === 'fixed') continue;
      // The nearest ancestor that clips or scrolls sideways bounds it; else the viewport.
      let limit = vw;
      let cutWithEllipsis = false;
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (clips(a)) {
          // A one-line text cut with an ellipsis is fine here: it opens in place on click.
          cutWithEllipsis = getComputedStyle(a).textOverflow === 'ellipsis';
          limit = a.getBoundingClientRect().right;
          break;
        }
        if (getComputedStyle(a).position === 'fixed') break;
      }
      if (!cutWithEllipsis && r.right > Math.min(limit, vw) + 1 && r.left < vw) bad.push(`${name(el)} right ${Math.round(r.right)} > ${Math.round(Math.min(limit, vw))}`);
    }
    return bad;
  });
}

async function noSideways(page: Page) {
  const { sw, cw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  expect(sw, 'the document scrolls sideways').toBeLessThanOrEqual(cw);
}

for (const [width, height] of SIZES) {
  test(`nothing passes the right edge at ${width}x${height}`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    await page.goto('/');
    await page.waitForLoadState('networkidle');
    await expect(page.getByRole('region', { name: 'vCPUs' })).toBeVisible();
    expect(await overflowing(page)).toEqual([]);
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
    expect(await overflowing(page)).toEqual([]);
    await noSideways(page);
  }
});

test('a phone stacks the panels and the page scrolls down, not sideways', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  const vcpus = (await page.getByRole('region', { name: 'vCPUs' }).boundingBox())!;
  const map = (await page.getByRole('region', { name: 'Optimized APIC map' }).boundingBox())!;
  expect(map.y).toBeGreaterThan(vcpus.y + vcpus.height - 1);
  expect(await overflowing(page)).toEqual([]);
  await noSideways(page);
});
