import { expect, test } from '@playwright/test';

test('the built page has a Content-Security-Policy, violates none of it, and makes no request off its origin', async ({ page, baseURL }) => {
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.addInitScript(() => {
    (window as unknown as { cspViolations: string[] }).cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as unknown as { cspViolations: string[] }).cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  await page.goto('/');
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  test.skip(csp === null, 'the dev server (E2E_PORT) serves no CSP; npm test runs the built app');
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("connect-src 'none'");
  // Exercise the panels: an IPI, the map, a tour, compare.
  await page.evaluate(() => {
    const lab = window.lab.getState();
    lab.apply({ op: 'set_lapic', vcpu: 1, merge: true, regs: { '0x0f0': '0x1ff' } });
    lab.apply({ op: 'msi', addressLo: '0xfee01000', data: '0x41' });
  });
  await page.getByLabel('Guided tours').selectOption('aliased-ids');
  await page.getByRole('button', { name: 'Next tour step' }).click();
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByRole('dialog', { name: 'Compare releases' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
  expect(requests.filter((u) => !u.startsWith(baseURL!) && !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([]);
});

test('text from a scenario never becomes markup', async ({ page }) => {
  await page.goto('/');
  const evil = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
  await page.evaluate((t) => window.lab.getState().importScenario(JSON.stringify({ format: 'apic-scenario/1', title: t, vm: { vcpus: 2 }, steps: [{ op: 'wrmsr', vcpu: 0, msr: '0x802', value: 0, note: t }] })), evil);
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByRole('dialog', { name: 'Compare releases' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  expect(await page.locator('img[src="x"]').count()).toBe(0);
});
