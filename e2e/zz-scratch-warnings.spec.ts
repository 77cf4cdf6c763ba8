import { expect, test } from '@playwright/test';
test('4096', async ({ page }) => {
  test.setTimeout(120000);
  await page.goto('/?vcpus=4096');
  await page.waitForLoadState('networkidle');
  await expect(page.getByTestId('conflict-count')).toHaveText('⚠ 256 physical · 0 logical', { timeout: 60000 });
  const t = await page.evaluate(async () => {
    const out: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      window.lab.getState().setHover(i % 2 ? { apicId: i } : { vcpu: 3000 + i });
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      out.push(performance.now() - t0);
    }
    return out;
  });
  console.log('hover ms', t.map((x) => x.toFixed(1)).join(' '));
  await page.screenshot({ path: '/tmp/cf-shots/c4096.png' });
});
