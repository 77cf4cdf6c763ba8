/** Layout checks shared by the layout and presentation specs (not a spec itself). */
import { expect, type Page } from '@playwright/test';

/**
 * Elements whose right edge passes the viewport, or the nearest box that clips or scrolls them
 * sideways (a panel that needs a horizontal scrollbar does not fit either), except text cut with
 * an ellipsis, which opens in place on click.
 */
export async function overflowing(page: Page): Promise<string[]> {
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

export async function noSideways(page: Page) {
  const { sw, cw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  expect(sw, 'the document scrolls sideways').toBeLessThanOrEqual(cw);
}
