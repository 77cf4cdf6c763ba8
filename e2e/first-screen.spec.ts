import { expect, test } from '@playwright/test';

test.describe('first screen', () => {
  test('shows the default VM with real LAPIC state', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
    const vcpus = page.getByRole('region', { name: 'vCPUs' });
    await expect(vcpus.getByRole('listitem')).toHaveCount(4);
    await expect(page.getByTestId('vcpu-row-2')).toContainText('xAPIC');
    const regs = page.getByRole('region', { name: 'Register page' });
    await expect(regs.getByTestId('reg-0x030')).toContainText('0x00050014');
    await expect(regs.getByTestId('reg-0x350')).toContainText('ExtINT, unmasked');
    await expect(page.getByTestId('apicbase')).toHaveValue('0xfee00900');
    await expect(page.getByTestId('map-state')).toContainText('present');
  });
});

test.describe('vCPUs and the register page', () => {
  test('the x2APIC toggle is a guest WRMSR that changes the IDs, the LDR and the register view', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const row = page.getByTestId('vcpu-row-3');
    await row.getByRole('button', { name: 'Enter x2APIC mode on vCPU 3' }).click();
    await expect(row).toContainText('x2APIC');
    await expect(row).toContainText('0x8'); // LDR: cluster 0, bit 3
    await row.getByRole('button', { name: 'Select vCPU 3' }).click();
    const regs = page.getByRole('region', { name: 'Register page' });
    await expect(regs.getByTestId('reg-0x020')).toContainText('x2APIC ID 3');
    await expect(regs.getByTestId('reg-0x020')).toContainText('0x802'); // MSR numbers in the x2APIC view
    await expect(regs.getByTestId('reg-0x0e0')).toContainText('#GP'); // DFR does not exist in x2APIC mode
    await expect(regs.getByTestId('reg-0x0d0')).toHaveClass(/changed/);
    await expect(page.getByRole('region', { name: 'Event log' })).toContainText('wrmsr vcpu 3 0x1b = 0xfee00c00');
  });

  test('an illegal guest transition shows the #GP and the rule that fired', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const row = page.getByTestId('vcpu-row-1');
    await row.getByRole('button', { name: 'Enter x2APIC mode on vCPU 1' }).click();
    await row.getByRole('button', { name: 'Leave x2APIC mode on vCPU 1' }).click();
    await expect(row.getByRole('alert')).toHaveText('#GP');
    await expect(page.getByRole('region', { name: 'Event log' })).toContainText('x2APIC -> xAPIC is illegal for the guest');
    await page.getByRole('region', { name: 'vCPUs' }).getByLabel('as host').check();
    await row.getByRole('button', { name: 'Leave x2APIC mode on vCPU 1' }).click();
    await expect(row).toContainText('xAPIC');
  });

  test('editing a register is a guest write through the right path', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const regs = page.getByRole('region', { name: 'Register page' });
    await regs.getByRole('table', { name: 'Register page of vCPU 0' }).getByRole('button', { name: 'Edit APIC_TASKPRI', exact: true }).click();
    await regs.getByLabel('New value for APIC_TASKPRI').fill('0x1234');
    await regs.getByLabel('New value for APIC_TASKPRI').press('Enter');
    await expect(regs.getByTestId('reg-0x080')).toContainText('0x00000034'); // TPR keeps 8 bits
    await expect(page.getByRole('region', { name: 'Event log' })).toContainText('mmio_write vcpu 0 +0x80 = 0x1234');
  });
});

test.describe('event log', () => {
  test('time travel, undo and redo', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const regs = page.getByRole('region', { name: 'Register page' });
    for (const v of ['0x10', '0x20', '0x30']) {
      await regs.getByRole('table', { name: 'Register page of vCPU 0' }).getByRole('button', { name: 'Edit APIC_TASKPRI', exact: true }).click();
      await regs.getByLabel('New value for APIC_TASKPRI').fill(v);
      await regs.getByLabel('New value for APIC_TASKPRI').press('Enter');
    }
    const log = page.getByRole('region', { name: 'Event log' });
    await log.getByRole('button', { name: 'Show the state after step 0' }).click();
    await expect(regs.getByTestId('reg-0x080')).toContainText('0x00000010');
    await log.getByRole('button', { name: 'Redo (Ctrl+Y)' }).click();
    await expect(regs.getByTestId('reg-0x080')).toContainText('0x00000020');
    await page.keyboard.press('Control+z');
    await expect(regs.getByTestId('reg-0x080')).toContainText('0x00000010');
    await log.getByLabel('Filter the event log').fill('0x30');
    await expect(log.getByRole('listitem')).toHaveCount(1);
    await page.screenshot({ path: 'test-results/event-log.png' });
  });
});

test('screens at 1280x720 with 4 and with 300 vCPUs', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.screenshot({ path: 'test-results/screen-4.png' });
  await page.goto('/?vcpus=300');
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem').first()).toBeVisible();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(1280);
  await page.screenshot({ path: 'test-results/screen-300.png' });
});

test('selecting a vCPU out of view scrolls the vCPU list to it, and the event log follows the cursor', async ({ page }) => {
  await page.goto('/?vcpus=300');
  await page.getByTestId('vcpu-row-0').waitFor();
  await page.evaluate(() => window.lab.getState().select(250));
  await expect(page.getByTestId('vcpu-row-250')).toBeInViewport();
  await page.evaluate(() => window.lab.getState().select(3));
  await expect(page.getByTestId('vcpu-row-3')).toBeInViewport();
  await page.evaluate(() => {
    for (let i = 0; i < 80; i++) window.lab.getState().apply({ op: 'mmio_write', vcpu: 0, offset: '0x80', value: i & 0xff });
    window.lab.getState().travel(5);
  });
  await expect(page.getByRole('button', { name: 'Show the state after step 4' })).toBeInViewport();
  await page.evaluate(() => window.lab.getState().travel(80));
  await expect(page.getByRole('button', { name: 'Show the state after step 79' })).toBeInViewport();
});
