/**
 * Every guided tour played in the browser, step by step: the narration of each step shows, the
 * panels it names are highlighted, faults the tour expects appear, and the tour can be replayed
 * under the KVM release before the change. `npm run demos` records this spec as videos
 * (DEMO=1: chapter titles, action overlays and reading pauses).
 */
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import type { TourDocument } from '../src/tours';
import { TOUR_IDS } from '../src/tours/order';

const TOURS: TourDocument[] = TOUR_IDS.map((id) => JSON.parse(readFileSync(`src/tours/${id}.json`, 'utf8')));

const DEMO = process.env.DEMO === '1';

for (const tour of TOURS) {
  test(`tour-${tour.tour.id}: ${tour.title}`, async ({ page }) => {
    await page.goto('/');
    const screencast = DEMO ? (page as unknown as { screencast?: { showChapter(t: string, o?: object): Promise<void>; showActions(o?: object): Promise<unknown> } }).screencast : undefined;
    // Action overlays: await screencast?.showActions(...) blocks selectOption in 1.64, so only chapters are shown.
    await page.getByLabel('Guided tours').selectOption(tour.tour.id);
    const card = page.getByRole('region', { name: 'Guided tour' });
    await expect(card).toContainText(tour.title);
    await expect(page.getByTestId('tour-narration')).toHaveText(tour.tour.intro);
    await screencast?.showChapter(tour.title, { description: tour.tour.thread, duration: 3000 });
    if (DEMO) await page.waitForTimeout(4000);

    const steps = tour.steps as { narration: string; focus?: string[]; expect?: { ok?: boolean; fault?: string; error?: string } }[];
    for (let i = 0; i < steps.length; i++) {
      await card.getByRole('button', { name: 'Next tour step' }).click();
      await expect(card).toContainText(`step ${i + 1} of ${steps.length}`);
      await expect(page.getByTestId('tour-narration')).toHaveText(steps[i].narration);
      for (const title of steps[i].focus ?? []) {
        await expect(page.getByRole('region', { name: title, exact: true }).first()).toHaveClass(/focused/);
      }
      if (steps[i].expect?.ok === false) await expect(card).toContainText(String(steps[i].expect!.fault ?? steps[i].expect!.error));
      if (DEMO) await page.waitForTimeout(Math.min(9000, 1500 + steps[i].narration.length * 35));
    }
    await expect(page.getByTestId('tour-outro')).toHaveText(tour.tour.outro);
    if (DEMO) await page.waitForTimeout(6000);

    // The same tour under the KVM release before the change.
    await card.getByRole('button', { name: `Replay under KVM ${tour.tour.before}` }).click();
    await expect(card).toContainText(`KVM ${tour.tour.before}`);
    if (DEMO) {
      await screencast?.showChapter(`Under KVM ${tour.tour.before}`, { description: 'the same steps, as KVM behaved before the change', duration: 2500 });
      await page.waitForTimeout(4000);
    }
    await card.getByRole('button', { name: /^Back to KVM / }).click();
    await card.getByRole('button', { name: 'End the tour' }).click();
    await expect(card).toBeHidden();
  });
}
