import AxeBuilder from '@axe-core/playwright';
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { overflowing } from './fit';

/**
 * Importing a real trace (src/import/testdata/vmm.report.txt, captured on Linux 6.18) goes through
 * a review of which vCPU each host thread runs: the importer's guesses and how it made them, a box
 * per thread to change one or skip it, bad ids refused with a message, and Load re-importing with
 * the mapping chosen.
 */
const REPORT = readFileSync(new URL('../src/import/testdata/vmm.report.txt', import.meta.url));

async function openReview(page: Page) {
  await page.getByLabel('Import scenario file').setInputFiles({ name: 'vmm.report.txt', mimeType: 'text/plain', buffer: REPORT });
  const dialog = page.getByRole('dialog', { name: 'Import a trace: which vCPU each thread runs' });
  await expect(dialog).toBeVisible();
  return dialog;
}

/** The loaded scenario's vCPUs and the vCPU of every step, from the store (window.lab). */
async function loaded(page: Page) {
  return page.evaluate(() => {
    const doc = JSON.parse(window.lab.getState().exportScenario()) as { vm: { vcpus: number[] }; steps: { vcpu?: number }[] };
    const log = window.lab.getState().log.map((e) => (e.step as { vcpu?: number }).vcpu);
    return { vcpus: doc.vm.vcpus, stepVcpus: log };
  });
}

test('a real trace: review the threads, move one to another vCPU, load', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
  const before = await loaded(page);
  const dialog = await openReview(page);

  // The threads the report found, with the vCPU each runs and how the importer knows.
  const threads = [
    ['3608', 'CPU 0/KVM', '0', 'kvm_eoi on line 9 names vCPU 0'],
    ['3609', 'CPU 1/KVM', '1', 'task name "CPU 1/KVM" (QEMU\'s vCPU thread)'],
    ['3610', 'CPU 256/KVM', '256', 'task name "CPU 256/KVM" (QEMU\'s vCPU thread)'],
  ];
  for (const [pid, comm, vcpu, how] of threads) {
    const row = dialog.getByTestId(`thread-${pid}`);
    await expect(row).toContainText(comm);
    await expect(row.getByLabel(`vCPU for thread ${comm} (pid ${pid})`)).toHaveValue(vcpu);
    await expect(row).toContainText(how);
  }
  await expect(dialog.getByTestId('import-review-summary')).toContainText('on vCPUs 0, 1, 256');
  await expect(dialog.getByLabel('vCPU for thread CPU 0/KVM (pid 3608)')).toBeFocused();

  // Bad ids: a message naming the thread, and nothing loaded.
  const box = dialog.getByLabel('vCPU for thread CPU 256/KVM (pid 3610)');
  for (const bad of ['two', '99999']) {
    await box.fill(bad);
    await dialog.getByRole('button', { name: 'Load' }).click();
    await expect(dialog.getByRole('alert')).toContainText(`Thread “CPU 256/KVM” (pid 3610): “${bad}” is not a vCPU id. Type a whole number from 0 to 16383`);
    await expect(box).toHaveAttribute('aria-invalid', 'true');
    await expect(dialog).toBeVisible();
    expect(await loaded(page)).toEqual(before);
  }

  // Thread 3610 runs vCPU 2 (say): Preview shows the new VM before anything is loaded.
  await box.fill('2');
  await dialog.getByRole('button', { name: 'Preview' }).click();
  await expect(dialog.getByRole('alert')).toBeHidden();
  await expect(dialog.getByTestId('thread-3610')).toContainText('was 256');
  await expect(dialog.getByTestId('import-review-summary')).toContainText('on vCPUs 0, 1, 2, 256');
  expect(await loaded(page)).toEqual(before);
  await page.screenshot({ path: 'test-results/import-review.png' });

  await box.press('Enter');
  await expect(dialog).toBeHidden();
  const after = await loaded(page);
  // vCPU 256 stays (the trace shows interrupts accepted by it); the thread's own steps are vCPU 2's now.
  expect(after.vcpus).toEqual([0, 1, 2, 256]);
  // Lines 4, 18, 19 of the trace, and the x2APIC enable line 4 proves (KVM_SET_MSRS of APICBASE is not traced).
  expect(after.stepVcpus.filter((v) => v === 2).length).toBe(4);
  expect(after.stepVcpus).not.toContain(256);
  await expect(page.getByTestId('vcpu-row-2')).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'trace:' })).toContainText('on vCPUs 0, 1, 2, 256');
});

test('skipping a thread leaves its events out; Cancel and Escape load nothing', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'VM', exact: true })).toBeVisible();
  const before = await loaded(page);
  let dialog = await openReview(page);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  dialog = await openReview(page);
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  expect(await loaded(page)).toEqual(before);

  dialog = await openReview(page);
  await dialog.getByLabel('vCPU for thread CPU 1/KVM (pid 3609)').fill('');
  await dialog.getByRole('button', { name: 'Load' }).click();
  await expect(dialog).toBeHidden();
  const after = await loaded(page);
  expect(after.vcpus).toEqual([0, 256]);
  expect(after.stepVcpus).not.toContain(1);
});

test('the review fits a 1024x768 screen, with no serious accessibility violation and no title tooltip', async ({ page }) => {
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.goto('/');
  const dialog = await openReview(page);
  const box = (await dialog.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(1024);
  expect(box.y + box.height).toBeLessThanOrEqual(768);
  await expect(dialog.getByRole('button', { name: 'Load' })).toBeInViewport();
  await expect.poll(() => overflowing(page)).toEqual([]);
  await dialog.getByText(/warnings? from the importer/).click();
  await page.screenshot({ path: 'test-results/import-review-1024.png' });
  const axe = await new AxeBuilder({ page }).include('[role=dialog]').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
  expect(await page.locator('[role=dialog] [title]').count()).toBe(0);
});

/**
 * A trace with a PV IPI hypercall, written by hand in trace.h's formats (this host's kernel cannot
 * produce kvm_hypercall for one: see PV_IPI_REFUSAL in src/kvm/kvmBackend.ts). Bit 0 of a1 is APIC
 * ID 64 for a 64-bit guest and 32 for a 32-bit one; the accept says vCPU 32 took it.
 */
const PV_TRACE = `cpus=2
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.100874: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:       CPU 32/KVM-7122  [000]  9801.101311: kvm_apic:             apic_write APIC_SPIV = 0x1ff
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.102622: kvm_hypercall:        nr 0xa a0 0x0 a1 0x1 a2 0x0 a3 0xfd
lapic_capture_7100:        CPU 0/KVM-7121  [001]  9801.103059: kvm_apic_accept_irq:  apicid 20 vec 253 (Fixed|edge)
`;

test('a trace with PV IPI hypercalls asks whether the guest was 32-bit, and re-reads them', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Import scenario file').setInputFiles({ name: 'pv.report.txt', mimeType: 'text/plain', buffer: Buffer.from(PV_TRACE) });
  const dialog = page.getByRole('dialog', { name: 'Import a trace: which vCPU each thread runs' });
  const guest32 = dialog.getByLabel('The guest was 32-bit');
  await expect(guest32).not.toBeChecked();
  await guest32.check();
  await expect(dialog.getByTestId('import-review-summary')).toContainText('on vCPUs 0, 32');
  await page.screenshot({ path: 'test-results/import-review-pv.png' });
  await dialog.getByRole('button', { name: 'Load' }).click();
  await expect(dialog).toBeHidden();
  const pv = await page.evaluate(() => window.lab.getState().log.find((e) => e.step.op === 'pv_send_ipi')!);
  expect(pv.step).toMatchObject({ op: 'pv_send_ipi', vcpu: 0, bitmapHigh: 1n, op64: false });
  expect(pv.result).toMatchObject({ ok: true, ret: 1, delivered: [{ vcpu: 32, mode: 'Fixed', vector: 253 }] });
});
