import { expect, test } from '@playwright/test';

const aliasing = {
  format: 'apic-scenario/1',
  title: 'Aliased xAPIC IDs: vCPUs 0 and 256',
  vm: { vcpus: [0, 1, 256] },
  steps: [
    { op: 'set_lapic', vcpu: 0, merge: true, regs: { '0x0f0': '0x1ff' } },
    { op: 'set_lapic', vcpu: 1, merge: true, regs: { '0x0f0': '0x1ff' } },
    { op: 'set_lapic', vcpu: 256, merge: true, regs: { '0x0f0': '0x1ff' } },
    { op: 'msi', addressLo: '0xfee00000', data: '0x30' },
  ],
};

test('compare mode: the aliasing scenario under 6.2 and current', async ({ page }) => {
  await page.goto('/');
  await page.evaluate((doc) => window.lab.getState().importScenario(JSON.stringify(doc)), aliasing);
  await page.getByRole('button', { name: 'Compare' }).click();
  const dialog = page.getByRole('dialog', { name: 'Compare releases' });
  await expect(dialog.getByLabel('Release A')).toHaveValue('6.2');
  await expect(dialog.getByLabel('Release B')).toHaveValue('current');
  await expect(dialog.getByTestId('compare-summary')).toContainText('1 of 4 steps differ');
  const msi = dialog.getByTestId('cmp-step-3');
  await expect(msi).toHaveClass(/differs/);
  await expect(msi).toContainText('fast path -> vCPU 0');
  await expect(msi).toContainText('slow path -> vCPU 0, vCPU 256');
  await expect(dialog.getByTestId('cmp-step-0')).not.toHaveClass(/differs/);
  await expect(dialog.getByRole('table', { name: 'Final state differences' })).toContainText('map.present');
  await page.screenshot({ path: 'test-results/compare.png' });
  await dialog.getByRole('button', { name: 'Close compare mode' }).click();
  await expect(dialog).toBeHidden();
});
