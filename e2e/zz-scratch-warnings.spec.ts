import { test } from '@playwright/test';
const SW_ON = { '0x0f0': '0x1ff' };
test('warnings preview', async ({ page }) => {
  await page.goto('/src/ui/warnings/preview.html');
  await page.waitForLoadState('networkidle');
  await page.waitForFunction(() => window.lab !== undefined);
  await page.screenshot({ path: '/tmp/cf-shots/wn-fresh.png' });
  const doc = { format: 'apic-scenario/1', vm: { vcpus: [0, 1, 256] }, steps: [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }, ...[0, 1, 256].map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: SW_ON })), { op: 'set_lapic', vcpu: 1, merge: true, regs: { '0x0d0': '0x01000000' } }, { op: 'set_lapic', vcpu: 0, merge: true, regs: { '0x0d0': '0x01000000' } }, { op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfed00800' }, { op: 'msi', addressLo: '0xfee00000', data: '0x4400' }] };
  await page.evaluate((t) => window.lab.getState().importScenario(t), JSON.stringify(doc));
  await page.screenshot({ path: '/tmp/cf-shots/wn-alias.png' });
  await page.getByText(/more$/).click();
  await page.screenshot({ path: '/tmp/cf-shots/wn-alias-open.png' });
});
