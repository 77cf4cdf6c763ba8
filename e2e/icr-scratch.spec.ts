import { test } from '@playwright/test';
test('scratch', async ({ page }) => {
  await page.goto('/?vcpus=300');
  await page.evaluate(() => { for (let i = 0; i < 300; i++) window.lab.getState().apply({ op: 'set_lapic', vcpu: i, merge: true, regs: { '0x0f0': '0x1ff' } }); });
  const icr = page.getByRole('region', { name: 'ICR' });
  await icr.getByLabel('shorthand').selectOption('2');
  await icr.getByLabel('destination mode').selectOption('1');
  await icr.getByRole('button', { name: 'Send IPI' }).click();
  await icr.getByRole('button', { name: /vCPU 3 / }).hover();
  await page.screenshot({ path: '/tmp/icr-shots/scratch-broadcast.png' });
  await icr.getByLabel('shorthand').selectOption('0');
  await icr.getByLabel('raw APIC_ICR', { exact: true }).fill('0x4q');
  await page.screenshot({ path: '/tmp/icr-shots/scratch-bad.png' });
});
