/**
 * Every guided tour played in the browser, step by step: the narration of each step shows, the
 * panels it names are highlighted, faults the tour expects appear, and the tour can be replayed
 * under the KVM release before the change. `npm run demos` records this spec as videos
 * (DEMO=1: chapter titles, action overlays and reading pauses).
 */
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import type { TourDocument } from '../src/tours';
import { TOUR_IDS } from '../src/tours/order';

const TOURS: TourDocument[] = TOUR_IDS.map((id) => JSON.parse(readFileSync(`src/tours/${id}.json`, 'utf8')));

const DEMO = process.env.DEMO === '1';

/** The titles of highlighted panels that the tour card covers (card and panels as drawn). */
async function coveredPanels(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const card = document.querySelector('.tour')!.getBoundingClientRect();
    return [...document.querySelectorAll('.panel.focused, .vmbar.focused')].flatMap((el) => {
      const r = el.getBoundingClientRect();
      const w = Math.min(card.right, r.right) - Math.max(card.left, r.left);
      const h = Math.min(card.bottom, r.bottom) - Math.max(card.top, r.top);
      return w > 0 && h > 0 ? [el.querySelector('h1, h2')?.textContent ?? '?'] : [];
    });
  });
}

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

    const steps = tour.steps as { narration: string; focus?: string[]; expect?: { ok?: boolean; fault?: string; error?: string; ret?: number } }[];
    for (let i = 0; i < steps.length; i++) {
      await card.getByRole('button', { name: 'Next tour step' }).click();
      // The card numbers the step as the event log does (from 0).
      await expect(card.getByTestId('tour-step')).toHaveText(`Step ${i} · ${i + 1} of ${steps.length}`);
      await expect(page.getByTestId('tour-narration')).toHaveText(steps[i].narration);
      for (const title of steps[i].focus ?? []) {
        await expect(page.getByRole('region', { name: title, exact: true }).first()).toHaveClass(/focused/);
      }
      await expect(page.getByRole('region', { name: 'Event log' }).getByRole('button', { name: `Show the state after step ${i}` })).toHaveAttribute('aria-current', 'true');
      // The card keeps off the highlighted panels.
      await expect.poll(() => coveredPanels(page), { message: `step ${i}: the card covers a highlighted panel` }).toEqual([]);
      // The failure as the card names it: the fault, the errno, or a hypercall's return.
      const e = steps[i].expect;
      if (e?.ok === false) await expect(card).toContainText(String(e.fault ?? e.error ?? `returns ${e.ret}`));
      if (DEMO) await page.waitForTimeout(Math.min(9000, 1500 + steps[i].narration.length * 35));
    }
    await expect(page.getByTestId('tour-outro')).toHaveText(tour.tour.outro);
    if (DEMO) await page.waitForTimeout(6000);

    if (!tour.tour.before) {
      await card.getByRole('button', { name: 'End the tour' }).click();
      await expect(card).toBeHidden();
      return;
    }
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

test('the tour card docks to any side, folds to a bar, and keeps the log numbering', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Guided tours').selectOption('beginner');
  const card = page.getByRole('region', { name: 'Guided tour' });
  await expect(card.getByTestId('tour-step')).toHaveText('Intro · 0 of 10');
  const box = async () => (await card.boundingBox())!;
  for (const side of ['left', 'top', 'bottom', 'right'] as const) {
    await card.getByRole('button', { name: `Dock the tour card to the ${side}` }).click();
    await expect(card.getByRole('button', { name: `Dock the tour card to the ${side}` })).toHaveAttribute('aria-pressed', 'true');
    const b = await box();
    if (side === 'left') expect(b.x).toBeLessThan(40);
    if (side === 'right') expect(b.x + b.width).toBeGreaterThan(1280 - 40);
    // At the top, below the VM bar, whose controls stay reachable.
    const bar = (await page.getByRole('region', { name: 'VM' }).boundingBox())!;
    if (side === 'top') expect(b.y).toBeGreaterThanOrEqual(bar.y + bar.height);
    if (side === 'top') expect(b.y).toBeLessThan(bar.y + bar.height + 40);
    if (side === 'bottom') expect(b.y + b.height).toBeGreaterThan(720 - 40);
  }
  // The kernel detail is folded under the plain text.
  await card.getByRole('button', { name: 'Next tour step' }).click();
  await expect(card.getByTestId('tour-step')).toHaveText('Step 0 · 1 of 10');
  await expect(card.getByTestId('tour-detail')).toBeHidden();
  await card.getByText('Kernel detail').click();
  await expect(card.getByTestId('tour-detail')).toBeVisible();
  await expect(card.getByTestId('tour-detail')).toContainText('apic_set_spiv()');
  // Folded: a slim bar that still steps through the tour.
  await card.getByRole('button', { name: 'Fold the tour card' }).click();
  await expect(page.getByTestId('tour-narration')).toBeHidden();
  expect((await box()).height).toBeLessThan(48);
  await card.getByRole('button', { name: 'Next tour step' }).click();
  await expect(card.getByTestId('tour-step')).toHaveText('Step 1 · 2 of 10');
  await card.getByRole('button', { name: 'Unfold the tour card' }).click();
  await expect(page.getByTestId('tour-narration')).toBeVisible();
  // The jump list uses the same numbers.
  await card.getByLabel('Jump to tour step').selectOption({ index: 6 });
  await expect(card.getByTestId('tour-step')).toHaveText('Step 5 · 6 of 10');
  // A step about the register page shows the vCPU it acted on.
  await expect.poll(() => page.evaluate(() => window.lab.getState().selectedVcpu)).toBe(1);
});

for (const size of [
  { width: 1280, height: 720 },
  { width: 1024, height: 768 },
]) {
  test(`ending a replayed tour gives back the user's release and steps (${size.width}x${size.height})`, async ({ page }) => {
    await page.setViewportSize(size);
    await page.goto('/');
    const release = page.getByLabel('KVM release');
    await release.selectOption('6.1');
    const log = page.getByRole('region', { name: 'Event log' });
    const before = await log.getByRole('button', { name: /^Show the state after step / }).count();
    expect(before).toBeGreaterThan(0);
    await page.getByLabel('Guided tours').selectOption('aliased-ids');
    const card = page.getByRole('region', { name: 'Guided tour' });
    await expect(release).toHaveValue('current');
    await card.getByLabel('Jump to tour step').selectOption({ index: 6 });
    await expect.poll(() => coveredPanels(page)).toEqual([]);
    await card.getByRole('button', { name: 'Replay under KVM 6.2' }).click();
    await expect(release).toHaveValue('6.2');
    await card.getByRole('button', { name: 'End the tour' }).click();
    await expect(card).toBeHidden();
    await expect(release).toHaveValue('6.1');
    await expect(log.getByRole('button', { name: /^Show the state after step / })).toHaveCount(before);
  });
}

test('at 1024x768 the tour card covers no highlighted panel in any tour', async ({ page }) => {
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.goto('/');
  const card = page.getByRole('region', { name: 'Guided tour' });
  for (const tour of TOURS) {
    await page.getByLabel('Guided tours').selectOption(tour.tour.id);
    for (let i = 0; i < tour.steps.length; i++) {
      await card.getByRole('button', { name: 'Next tour step' }).click();
      await expect(card.getByTestId('tour-step')).toHaveText(`Step ${i} · ${i + 1} of ${tour.steps.length}`);
      await expect.poll(() => coveredPanels(page), { message: `${tour.tour.id} step ${i}` }).toEqual([]);
    }
    await card.getByRole('button', { name: 'End the tour' }).click();
  }
});
