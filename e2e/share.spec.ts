import { expect, test } from '@playwright/test';

test('a link copied from one browser session restores the same state in a new one', async ({ browser }) => {
  const first = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await first.newPage();
  await page.goto('/?preset=kvm-created');
  await page.getByTestId('vcpu-row-2').getByRole('button', { name: 'Enter x2APIC mode on vCPU 2' }).click();
  await page.getByTestId('vcpu-row-2').getByRole('button', { name: 'Select vCPU 2' }).click();
  const regs = page.getByRole('region', { name: 'Register page' });
  await regs.getByRole('table', { name: 'Register page of vCPU 2' }).getByRole('button', { name: 'Edit APIC_TASKPRI', exact: true }).click();
  await regs.getByLabel('New value for APIC_TASKPRI').fill('0x40');
  await regs.getByLabel('New value for APIC_TASKPRI').press('Enter');
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Link copied' })).toBeVisible();
  const url = await page.evaluate(() => navigator.clipboard.readText());
  expect(url).toMatch(/#s=1\./);
  const want = await page.evaluate(() => JSON.stringify(window.lab.getState().snapshot));
  await first.close();

  const second = await browser.newContext();
  const other = await second.newPage();
  await other.goto(url);
  await expect(other.getByTestId('vcpu-row-2')).toContainText('x2APIC');
  await expect(other.getByRole('region', { name: 'Register page' }).getByTestId('reg-0x080')).toContainText('0x00000040');
  expect(await other.evaluate(() => JSON.stringify(window.lab.getState().snapshot))).toBe(want);
  await expect(other.getByRole('region', { name: 'Event log' }).getByRole('listitem')).toHaveCount(2);
  await second.close();
});

test('a corrupt link is reported and the app starts normally', async ({ page }) => {
  await page.goto('/#s=1.corrupted-data');
  await expect(page.getByRole('alert')).toContainText('link: the data is damaged');
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(4);
});
