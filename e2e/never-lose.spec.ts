import { expect, test, type Page } from '@playwright/test';

/** Never lose work: a broken link leaves the stored session alone; Reset resets; the set-aside menu goes back. */

const steps = (page: Page) => page.evaluate(() => window.lab.getState().log.map((e) => e.step.op));

test('a broken #s= link is reported and the stored session survives the next action and a reload', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.evaluate(() => {
    const lab = window.lab.getState();
    lab.apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
    lab.apply({ op: 'rdmsr', vcpu: 1, msr: '0x802' });
  });
  await page.waitForTimeout(500); // the save is debounced
  const stored = await page.evaluate(() => localStorage.getItem('kvm-lapic-lab/session'));
  expect(stored).toContain('0x802');

  await page.goto('about:blank'); // a new page load, not a hash change
  await page.goto('/#s=1.garbage');
  await expect(page.getByRole('alert')).toContainText('link:');
  expect(await steps(page)).toEqual(['wrmsr', 'rdmsr']); // the stored session, not a new one
  await page.getByTestId('vcpu-row-2').getByRole('button', { name: 'Enter x2APIC mode on vCPU 2' }).click();
  await page.waitForTimeout(500);
  await page.goto('about:blank');
  await page.goto('/');
  expect(await steps(page)).toEqual(['wrmsr', 'rdmsr', 'wrmsr']);
  await expect(page.getByTestId('vcpu-row-1')).toContainText('x2APIC');
});

test('Reset always starts over with the count shown, and the set-aside menu brings the session back', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.getByTestId('vcpu-row-1').getByRole('button', { name: 'Enter x2APIC mode on vCPU 1' }).click();
  await page.getByRole('button', { name: 'Reset' }).click();
  expect(await steps(page)).toEqual([]);
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(4);
  await expect(page.getByTestId('vcpu-row-1')).not.toContainText('x2APIC');

  const menu = page.getByTestId('set-aside-menu');
  await menu.getByText('Set aside (1)').click();
  await expect(menu).toContainText('before Reset');
  await expect(menu).toContainText('1 step');
  await menu.getByRole('button', { name: 'Restore: before Reset' }).click();
  await expect(page.getByTestId('vcpu-row-1')).toContainText('x2APIC');
  expect(await steps(page)).toEqual(['wrmsr']);
});

test('the preset menu loads a preset with the vCPU count given; the session is set aside', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.getByTestId('vcpu-row-1').getByRole('button', { name: 'Enter x2APIC mode on vCPU 1' }).click();
  const menu = page.getByTestId('preset-menu');
  await menu.getByText('Start from…').click();
  await menu.getByLabel('vCPUs for the preset').fill('6');
  await menu.getByRole('button', { name: /Linux guest, xAPIC cluster/ }).click();
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(6);
  const map = await page.evaluate(() => window.lab.getState().snapshot.map);
  expect(map.logicalMode).toBe('XAPIC_CLUSTER');
  await expect(page.getByTestId('set-aside-menu')).toContainText('Set aside (1)');
});

test('?preset=ID starts from that preset; the first screen is Linux xAPIC flat with 4 vCPUs and says how to start', async ({ page }) => {
  await page.goto('/?preset=linux-x2apic&vcpus=3');
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(3);
  await expect(page.getByTestId('vcpu-row-2')).toContainText('x2APIC');
  expect(new URL(page.url()).search).toBe(''); // a reload keeps the session
  await page.reload();
  await expect(page.getByTestId('vcpu-row-2')).toContainText('x2APIC');

  await page.evaluate(() => localStorage.clear());
  await page.goto('/');
  const intro = page.getByRole('note', { name: 'How to start' });
  await expect(intro).toContainText('send');
  await expect(intro).toContainText('tour');
  expect(await page.evaluate(() => window.lab.getState().snapshot.map.logicalMode)).toBe('XAPIC_FLAT');
  await expect(page.getByRole('region', { name: 'vCPUs' }).getByRole('listitem')).toHaveCount(4);
  await intro.getByRole('button', { name: 'Dismiss the introduction' }).click();
  await expect(intro).toHaveCount(0);
});

test('undo works with a checkbox focused; Share says the truth about the clipboard', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.getByTestId('vcpu-row-1').getByRole('button', { name: 'Enter x2APIC mode on vCPU 1' }).click();
  await page.getByRole('region', { name: 'vCPUs' }).getByLabel('as host').focus();
  await page.keyboard.press('Control+z');
  await expect.poll(() => page.evaluate(() => window.lab.getState().cursor)).toBe(0);
  await page.keyboard.press('Control+Shift+z');
  await expect.poll(() => page.evaluate(() => window.lab.getState().cursor)).toBe(1);

  await page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: { writeText: () => Promise.reject(new Error('denied')) } }));
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Link copied' })).toHaveCount(0);
  await expect(page.getByText('copy it by hand')).toBeVisible();
  await expect(page.getByLabel('Link to this session')).toHaveValue(/#s=1\./);
});

test('acting in the past keeps the undone steps as a branch the set-aside menu brings back', async ({ page }) => {
  await page.goto('/?preset=kvm-created');
  await page.evaluate(() => {
    const lab = window.lab.getState();
    lab.apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' });
    lab.apply({ op: 'rdmsr', vcpu: 1, msr: '0x802' });
    lab.apply({ op: 'get_mp_state', vcpu: 0 });
  });
  // Go back to the state after step 0 in the log, then act: steps 1 and 2 are undone and replaced.
  await page.getByRole('button', { name: 'Show the state after step 0' }).click();
  await page.getByTestId('vcpu-row-2').getByRole('button', { name: 'Enter x2APIC mode on vCPU 2' }).click();
  expect(await steps(page)).toEqual(['wrmsr', 'wrmsr']);
  const menu = page.getByTestId('set-aside-menu');
  await menu.getByText('Set aside (1)').click();
  await expect(menu).toContainText('3 steps');
  await menu.getByRole('button', { name: /^Restore: steps 1-2/ }).click();
  expect(await steps(page)).toEqual(['wrmsr', 'rdmsr', 'get_mp_state']);
  // Going back set the newer branch aside in its turn.
  await expect(menu).toContainText('Set aside (1)');
});
