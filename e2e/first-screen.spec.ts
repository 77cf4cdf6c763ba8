import { expect, test } from '@playwright/test';

test.describe('first screen', () => {
  test('shows the default VM with real LAPIC state', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
    const vcpus = page.getByRole('region', { name: 'vCPUs' });
    await expect(vcpus.getByRole('row')).toHaveCount(5); // header + 4 vCPUs
    await expect(page.getByTestId('vcpu-row-2')).toContainText('xAPIC');
    // vCPU 0's register page: KVM's RESET values.
    const regs = page.getByRole('region', { name: 'Register page' });
    await expect(regs.getByTestId('reg-0x030')).toContainText('0x00050014');
    await expect(regs.getByTestId('reg-0x350')).toContainText('ExtINT, unmasked');
    await expect(page.getByTestId('apicbase')).toContainText('0xfee00900');
    await expect(page.getByTestId('map-state')).toContainText('present');
  });

  test('entering x2APIC is a guest WRMSR that changes the IDs and is logged', async ({ page }) => {
    await page.goto('/');
    await page.getByTestId('vcpu-row-3').click();
    const regs = page.getByRole('region', { name: 'Register page' });
    await expect(page.getByTestId('apicbase')).toContainText('vCPU 3');
    await regs.getByRole('button', { name: 'Enter x2APIC' }).click();
    await expect(page.getByTestId('vcpu-row-3')).toContainText('x2APIC');
    await expect(regs.getByTestId('reg-0x020')).toContainText('x2APIC ID 3');
    await expect(regs.getByTestId('reg-0x0d0')).toContainText('0x00000008');
    await expect(page.getByRole('region', { name: 'Event log' })).toContainText('0: wrmsr vcpu 3 ok');
    await page.screenshot({ path: 'test-results/first-screen.png' });
  });
});
