import { expect, test, type Page } from '@playwright/test';

/* The same check as layout.spec.ts (a spec file cannot import another without running its tests). */
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
  expect(await overflowing(page)).toEqual([]);
  const { sw, cw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  expect(sw).toBeLessThanOrEqual(cw);

  // Remembered across a reload; toggled off again by keyboard.
  await page.reload();
  await expect(page.locator('html')).toHaveClass(/presentation/);
  await page.getByRole('button', { name: /Presentation mode/ }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('html')).not.toHaveClass(/presentation/);
  expect(await page.evaluate(() => localStorage.getItem('kvm-lapic-lab.presentation'))).toBeNull();
});
