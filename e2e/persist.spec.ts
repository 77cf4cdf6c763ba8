import { expect, test } from '@playwright/test';

test('the session survives a reload', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.getByTestId('vcpu-row-1').getByRole('button', { name: 'Enter x2APIC mode on vCPU 1' }).click();
  await expect(page.getByTestId('vcpu-row-1')).toContainText('x2APIC');
  await page.waitForTimeout(500); // the save is debounced
  await page.reload();
  await expect(page.getByTestId('vcpu-row-1')).toContainText('x2APIC');
  await expect(page.getByRole('region', { name: 'Event log' }).getByRole('listitem')).toHaveCount(1);
});

test('a corrupt stored session is reported, set aside, and the app starts fresh', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.evaluate(() => localStorage.setItem('kvm-lapic-lab/session', '{"version": 1, "session": {"scenario": {"format": "apic-scenario/1", "steps": [{"op": "nope"}]}, "cursor": 0, "selectedVcpu": null}}'));
  await page.reload();
  await expect(page.getByRole('alert')).toContainText('stored session: step 0: unknown op "nope"');
  await expect(page.getByRole('alert')).toContainText('it was kept under');
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(4);
  await page.evaluate(() => {
    for (const k of Object.keys(localStorage)) if (k.includes('set-aside')) localStorage.removeItem(k);
  });

  await page.evaluate(() => localStorage.setItem('kvm-lapic-lab/session', '{"version": 99}'));
  await page.reload();
  await expect(page.getByRole('alert')).toContainText('saved by a newer version of the app (format 99');
  const aside = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.includes('set-aside')));
  expect(aside).toHaveLength(1);
  expect(await page.evaluate((k) => localStorage.getItem(k), aside[0])).toBe('{"version": 99}');
});
