import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

test('a vCPU\'s KVM_GET_LAPIC image exports as 1024 bytes and imports back as a hex dump', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('vcpu-row-1').getByRole('button', { name: 'Select vCPU 1' }).click();
  const regs = page.getByRole('region', { name: 'Register page' });
  const [download] = await Promise.all([page.waitForEvent('download'), regs.getByRole('button', { name: 'Image ↓' }).click()]);
  const bytes = readFileSync((await download.path())!);
  expect(bytes.length).toBe(1024);
  expect(bytes.readUInt32LE(0x20)).toBe(0x01000000); // APIC_ID of vCPU 1
  expect(bytes.readUInt32LE(0x30)).toBe(0x00050014); // APIC_LVR

  // Edit TPR in the image and load it back as an xxd-style dump: KVM_SET_LAPIC installs it.
  bytes.writeUInt32LE(0x000000a0, 0x80);
  const dump = Array.from({ length: 64 }, (_, r) => {
    const row = [...bytes.subarray(r * 16, r * 16 + 16)].map((b) => b.toString(16).padStart(2, '0'));
    return `${(r * 16).toString(16).padStart(8, '0')}: ${Array.from({ length: 8 }, (_, g) => row[g * 2] + row[g * 2 + 1]).join(' ')}  ................`;
  }).join('\n');
  await regs.getByLabel('Load a KVM_GET_LAPIC image').setInputFiles({ name: 'lapic.txt', mimeType: 'text/plain', buffer: Buffer.from(dump) });
  await expect(regs.getByTestId('reg-0x080')).toContainText('0x000000a0');
  await expect(regs.getByTestId('reg-0x0a0')).toContainText('0x000000a0'); // PPR recomputed by KVM_SET_LAPIC
  await expect(page.getByRole('region', { name: 'Event log' })).toContainText('set_lapic vcpu 1');

  await regs.getByLabel('Load a KVM_GET_LAPIC image').setInputFiles({ name: 'bad.txt', mimeType: 'text/plain', buffer: Buffer.from('00 11 22') });
  await expect(page.getByRole('alert')).toContainText('image: the dump holds 3 bytes');
});

test('a real squeezed `hexdump -C` dump imports; a squeezed `od -An -tx1` one says which od flags work', async ({ page }) => {
  const data = (f: string) => readFileSync(new URL(`../src/scenario/testdata/lapic/${f}`, import.meta.url));
  await page.goto('/');
  await page.getByTestId('vcpu-row-0').getByRole('button', { name: 'Select vCPU 0' }).click();
  const regs = page.getByRole('region', { name: 'Register page' });
  await expect(regs.getByTestId('reg-0x020')).toContainText('0x00000000');

  // vCPU 1's image from the core, dumped by the real hexdump -C ("*" lines and a final offset).
  const squeezed = data('vcpu1.hexdump-C.txt');
  expect(squeezed.toString()).toMatch(/^\*$/m);
  await regs.getByLabel('Load a KVM_GET_LAPIC image').setInputFiles({ name: 'vcpu1.hexdump-C.txt', mimeType: 'text/plain', buffer: squeezed });
  await expect(regs.getByTestId('reg-0x020')).toContainText('0x01000000');
  await expect(page.getByRole('region', { name: 'Event log' })).toContainText('set_lapic vcpu 0');

  await regs.getByLabel('Load a KVM_GET_LAPIC image').setInputFiles({ name: 'vcpu1.od-An-tx1.txt', mimeType: 'text/plain', buffer: data('vcpu1.od-An-tx1.txt') });
  await expect(page.getByRole('alert')).toContainText('image: line 2: "*" stands for repeated lines that od -An squeezed');
  await expect(page.getByRole('alert')).toContainText('od -An -tx1 -v');
});
