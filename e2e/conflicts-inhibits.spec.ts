import { expect, test, type Page } from '@playwright/test';

/** Screenshots go to test-results/ (SHOT_DIR overrides it: Playwright empties test-results/ at every run). */
const SHOTS = process.env.SHOT_DIR ?? 'test-results';
const SW_ON = { '0x0f0': '0x1ff' };

/** vCPUs 0, 1, 256 in xAPIC mode, each software-enabled by a set_lapic merge (which rebuilds the map). */
function aliasDoc(use32bitIds: boolean, vm: Record<string, unknown> = {}) {
  return {
    format: 'apic-scenario/1',
    title: use32bitIds ? 'aliasing with 32-bit IDs' : 'aliasing without 32-bit IDs',
    vm: { vcpus: [0, 1, 256], ...vm },
    steps: [
      ...(use32bitIds ? [{ op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }] : []),
      ...[0, 1, 256].map((vcpu) => ({ op: 'set_lapic', vcpu, merge: true, regs: SW_ON })),
    ],
  };
}

async function importDoc(page: Page, doc: unknown) {
  // The dev server may still reload the page once (dependency optimisation) right after goto.
  await page.waitForLoadState('networkidle');
  await page.waitForFunction(() => window.lab !== undefined);
  const ok = await page.evaluate((text) => window.lab.getState().importScenario(text), JSON.stringify(doc));
  expect(ok).toBe(true);
}

test.describe('alias conflicts and APICv inhibits', () => {
  test('without 32-bit IDs: APIC ID 0 is shared, both receive on the slow path, PHYSICAL_ID_ALIASED set', async ({ page }) => {
    await page.goto('/');
    await importDoc(page, aliasDoc(false));
    const conflicts = page.getByRole('region', { name: 'Alias conflicts' });
    const row = conflicts.getByTestId('conflict-phys-0');
    await expect(row).toContainText('ID 0');
    await expect(row.getByRole('button', { name: /select vCPU 0\b/ })).toBeVisible();
    await expect(row.getByRole('button', { name: /select vCPU 256\b/ })).toBeVisible();
    await expect(row).toContainText('slow');
    await expect(row).toContainText('both receive');
    await expect(row).toContainText('vCPUs 0 and 256 share physical APIC ID 0');
    await expect(row).toContainText('kvm_irq_delivery_to_apic');
    await expect(row).toContainText('kvm_recalculate_phys_map');
    await expect(conflicts).toContainText('Truncated xAPIC IDs (1)');
    await expect(conflicts.getByRole('button', { name: /select vCPU 256/ }).last()).toContainText('256→0');

    const inhibits = page.getByRole('region', { name: 'APICv inhibits' });
    const aliased = inhibits.getByTestId('inhibit-PHYSICAL_ID_ALIASED');
    await expect(aliased).toContainText('SET');
    await expect(aliased).toContainText('set by: vCPUs 0 and 256 share physical APIC ID 0 and 32-bit IDs are off');
    await expect(aliased.getByRole('link', { name: /kvm_recalculate_phys_map/ })).toHaveAttribute('href', /elixir\.bootlin\.com\/linux\/latest\/A\/ident\/kvm_recalculate_phys_map/);
    await expect(inhibits.getByTestId('inhibit-APIC_BASE_MODIFIED')).toContainText('clear');
    await expect(inhibits.getByTestId('inhibit-APIC_BASE_MODIFIED')).toContainText('sticky');
    await expect(inhibits.getByTestId('apicv-active')).toHaveText('⊘ APICv inhibited');
    await expect(inhibits.getByRole('listitem')).toHaveCount(7);
    await expect(inhibits).toContainText('6 not used by Intel');

    // Linked views: hovering the conflict highlights APIC ID 0; clicking a chip selects the vCPU.
    await row.hover();
    expect(await page.evaluate(() => window.lab.getState().hover)).toEqual({ apicId: 0 });
    await row.getByRole('button', { name: /select vCPU 256\b/ }).click();
    expect(await page.evaluate(() => window.lab.getState().selectedVcpu)).toBe(256);
    await page.screenshot({ path: `${SHOTS}/conflicts-alias-slow.png` });
  });

  test('with 32-bit IDs first: the first vCPU wins on the fast path and nothing is inhibited', async ({ page }) => {
    await page.goto('/');
    await importDoc(page, aliasDoc(true));
    const row = page.getByRole('region', { name: 'Alias conflicts' }).getByTestId('conflict-phys-0');
    await expect(row).toContainText('fast');
    await expect(row).toContainText('only vCPU 0');
    await expect(row).toContainText('phys_map[0] keeps vCPU 0 (first vCPU wins)');
    const inhibits = page.getByRole('region', { name: 'APICv inhibits' });
    await expect(inhibits.getByTestId('apicv-active')).toHaveText('● APICv active');
    await expect(inhibits.getByTestId('inhibit-PHYSICAL_ID_ALIASED')).toContainText('clear');
    await expect(inhibits.getByText('SET', { exact: true })).toHaveCount(0);
    await page.screenshot({ path: `${SHOTS}/conflicts-alias-fast.png` });
  });

  test('KVM 6.2: aliases are resolved silently (first vCPU wins), the aliasing inhibits do not exist yet', async ({ page }) => {
    await page.goto('/');
    await importDoc(page, aliasDoc(false, { kvm: '6.2' }));
    const row = page.getByRole('region', { name: 'Alias conflicts' }).getByTestId('conflict-phys-0');
    await expect(row).toContainText('only vCPU 0');
    await expect(row).toContainText('first vCPU wins');
    const inhibits = page.getByRole('region', { name: 'APICv inhibits' });
    await expect(inhibits.getByTestId('inhibit-PHYSICAL_ID_ALIASED')).toHaveCount(0);
    await expect(inhibits).toContainText('1 not in KVM 6.2');
    await expect(inhibits.getByTestId('inhibit-APIC_ID_MODIFIED')).toContainText('SET');
    await expect(inhibits.getByTestId('inhibit-APIC_ID_MODIFIED')).toContainText('sticky');
    await page.screenshot({ path: `${SHOTS}/conflicts-alias-6.2.png` });
  });

  test('AMD without x2AVIC: a vCPU entering x2APIC mode deletes the APIC-access page for good', async ({ page }) => {
    await page.goto('/');
    await importDoc(page, { format: 'apic-scenario/1', vm: { vcpus: 4, vendor: 'amd', x2avic: false }, steps: [] });
    const inhibits = page.getByRole('region', { name: 'APICv inhibits' });
    await expect(inhibits.getByTestId('apic-access-page')).toContainText('mapped');
    await expect(inhibits.getByRole('listitem')).toHaveCount(13);
    await expect(inhibits.getByTestId('apicv-active')).toHaveText('● AVIC active');
    await page.evaluate(() => window.lab.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' }));
    await expect(inhibits.getByTestId('apic-access-page')).toContainText('deleted for good');
    await expect(inhibits.getByTestId('apic-access-page')).toContainText('vCPU 1 entered x2APIC mode');
    await expect(inhibits.getByTestId('apicv-active')).toHaveText('● AVIC active');
    await page.screenshot({ path: `${SHOTS}/inhibits-amd-deleted.png` });
  });

  test('AMD x2AVIC, vCPUs 0, 1 and 600: an id above 511 inhibits AVIC, unless the CPU has X2AVIC_EXT and KVM is 6.19+ (the "4k" box)', async ({ page }) => {
    await page.goto('/');
    await importDoc(page, { format: 'apic-scenario/1', vm: { vcpus: [0, 1, 600], vendor: 'amd' }, steps: [] });
    const inhibits = page.getByRole('region', { name: 'APICv inhibits' });
    await expect(inhibits.getByTestId('inhibit-PHYSICAL_ID_TOO_BIG')).toContainText('SET');
    await expect(inhibits.getByTestId('apicv-active')).toContainText('AVIC inhibited');
    const fourK = page.getByRole('checkbox', { name: '4k' });
    await fourK.check();
    await expect(inhibits.getByTestId('inhibit-PHYSICAL_ID_TOO_BIG')).not.toContainText('SET');
    await expect(inhibits.getByTestId('apicv-active')).toHaveText('● AVIC active');
    await page.screenshot({ path: `${SHOTS}/inhibits-amd-x2avic-4k.png` });
    // KVM 6.18 does not use the CPU's bigger table.
    await page.getByLabel('KVM release').selectOption('6.18');
    await expect(inhibits.getByTestId('inhibit-PHYSICAL_ID_TOO_BIG')).toContainText('SET');
  });

  test('logical collisions and a rewritten xAPIC ID on 4 vCPUs (screenshot)', async ({ page }) => {
    await page.goto('/');
    await page.screenshot({ path: `${SHOTS}/conflicts-4-fresh.png` });
    const lapic = (vcpu: number, regs: Record<string, string>) => ({ op: 'set_lapic', vcpu, merge: true, regs: { ...SW_ON, '0x0e0': '0xffffffff', ...regs } });
    await importDoc(page, {
      format: 'apic-scenario/1',
      vm: { vcpus: 4 },
      steps: [lapic(0, { '0x0d0': '0x01000000' }), lapic(1, { '0x0d0': '0x01000000' }), lapic(2, { '0x0d0': '0x06000000', '0x020': '0x03000000' }), lapic(3, { '0x0d0': '0x04000000' })],
    });
    const conflicts = page.getByRole('region', { name: 'Alias conflicts' });
    await expect(conflicts.getByTestId('conflict-phys-3')).toContainText('both receive');
    await expect(conflicts.getByTestId('conflict-phys-3')).toContainText('vCPUs 2 and 3 share physical APIC ID 3');
    await expect(conflicts.getByTestId('conflict-log-0x01')).toContainText('flat bit 0');
    await expect(conflicts.getByTestId('conflict-log-0x04')).toContainText('flat bit 2');
    // The alias removed the whole map: the rebuild never judged the logical IDs, so no multi-bit finding is shown.
    const logicalRow = conflicts.getByTestId('conflict-log-0x01');
    await logicalRow.getByRole('button', { name: /logical ID 0x01/ }).click();
    await expect(logicalRow).toContainText('slow path: there is no optimized map');
    await expect(logicalRow).toContainText('vCPUs 2 and 3 share physical APIC ID 3');
    await expect(conflicts).not.toContainText('more than one bit set');
    await expect(page.getByRole('region', { name: 'APICv inhibits' }).getByTestId('inhibit-APIC_ID_MODIFIED')).toContainText('SET');
    await page.screenshot({ path: `${SHOTS}/conflicts-4-logical.png` });
  });

  test('300 vCPUs: 44 shared IDs and 44 truncated xAPIC IDs, scrolled inside the panel', async ({ page }) => {
    await page.goto('/?vcpus=300');
    const conflicts = page.getByRole('region', { name: 'Alias conflicts' });
    await expect(conflicts.getByTestId('conflict-count')).toHaveText('⚠ 44 physical · 0 logical');
    // The first 32 rows are listed; the rest one click away (a 4096-vCPU VM has hundreds).
    await expect(conflicts.getByTestId('conflict-phys-31')).toBeVisible();
    await expect(conflicts.getByTestId('conflict-phys-43')).toHaveCount(0);
    await conflicts.getByRole('button', { name: 'Show all 44 shared physical IDs (12 more)' }).click();
    await expect(conflicts.getByTestId('conflict-phys-43')).toContainText('299');
    await expect(conflicts).toContainText('Truncated xAPIC IDs (44)');
    const inhibits = page.getByRole('region', { name: 'APICv inhibits' });
    await expect(inhibits.getByTestId('inhibit-PHYSICAL_ID_ALIASED')).toContainText('SET');
    // The page itself does not scroll.
    const overflow = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
    expect(overflow).toEqual([1280, 720]);
    await page.screenshot({ path: `${SHOTS}/conflicts-300.png` });
  });
});

test.describe("the issue's cases, in every panel", () => {
  const mmio = (vcpu: number, offset: string, value: string) => ({ op: 'mmio_write', vcpu, offset, value });

  test('(a) vCPU 2 takes xAPIC ID 1 while vCPU 0 has a multi-bit LDR: vCPUs 1 and 2 and ID 1 are blamed', async ({ page }) => {
    await page.goto('/');
    await importDoc(page, { format: 'apic-scenario/1', vm: { vcpus: 4, vendor: 'amd' }, steps: [mmio(0, '0xf0', '0x1ff'), mmio(0, '0xd0', '0x03000000'), mmio(2, '0x20', '0x01000000')] });
    const inhibits = page.getByRole('region', { name: 'APICv inhibits' });
    for (const reason of ['PHYSICAL_ID_ALIASED', 'LOGICAL_ID_ALIASED']) {
      const row = inhibits.getByTestId(`inhibit-${reason}`);
      await expect(row).toContainText('SET');
      await expect(row).toContainText('vCPUs 1 and 2 share physical APIC ID 1');
      await expect(row).not.toContainText(/vCPU 0\b|logical ID 0x3/);
    }
    const conflicts = page.getByRole('region', { name: 'Alias conflicts' });
    await expect(conflicts.getByTestId('conflict-count')).toHaveText('⚠ 1 physical · 0 logical');
    await expect(conflicts.getByTestId('conflict-phys-1')).toContainText('vCPUs 1 and 2 share physical APIC ID 1');
    await expect(conflicts).not.toContainText(/vCPU 0\b|logical ID/);
    const warnings = page.getByTestId('warnings');
    await expect(warnings).toContainText('vCPUs 1 and 2 share physical APIC ID 1');
    await expect(warnings).not.toContainText(/vCPU 0\b|logical ID/);
    const map = page.getByRole('region', { name: 'Optimized APIC map' });
    await expect(map).toContainText('vCPUs 1 and 2 share physical APIC ID 1');
    await expect(map).not.toContainText(/logical ID 0x3/);
    // The step's kvm_apicv_inhibit_changed events carry the same decision, shown under the log.
    const log = page.getByRole('region', { name: 'Event log' });
    await expect(log).toContainText('vCPUs 1 and 2 share physical APIC ID 1');
    await expect(log).not.toContainText(/logical ID 0x3/);
    await page.screenshot({ path: `${SHOTS}/case-a.png` });
  });

  test('(b) 32-bit IDs enabled after the alias removed the map: the panels say they were off at that rebuild', async ({ page }) => {
    await page.goto('/');
    await importDoc(page, { format: 'apic-scenario/1', vm: { vcpus: [0, 256] }, steps: [mmio(0, '0xf0', '0x1ff'), { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 }] });
    await expect(page.locator('label', { hasText: '32-bit IDs' }).getByRole('checkbox')).toBeChecked();
    await expect(page.getByTestId('map-state')).toHaveText('map absent');
    const aliased = page.getByRole('region', { name: 'APICv inhibits' }).getByTestId('inhibit-PHYSICAL_ID_ALIASED');
    const conflict = page.getByRole('region', { name: 'Alias conflicts' }).getByTestId('conflict-phys-0');
    const warnings = page.getByTestId('warnings');
    for (const panel of [aliased, conflict, warnings]) {
      await expect(panel).toContainText('32-bit IDs were off at that rebuild');
      await expect(panel).not.toContainText('are off');
    }
    await page.screenshot({ path: `${SHOTS}/case-b.png` });
  });

  test('(c) a refused x2APIC WRMSR names the branch that refused it under the modelled release', async ({ page }) => {
    await page.goto('/');
    const steps = [
      { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00', host: true },
      { op: 'wrmsr', vcpu: 0, msr: '0x802', value: '0x100000000' },
    ];
    const log = page.getByRole('region', { name: 'Event log' });
    await importDoc(page, { format: 'apic-scenario/1', vm: { vcpus: 2, kvm: '6.2' }, steps });
    await expect(log).toContainText('register 0x20 is read-only in x2APIC mode');
    await expect(log).not.toContainText('bits 63:32 are reserved');
    await importDoc(page, { format: 'apic-scenario/1', vm: { vcpus: 2 }, steps });
    await expect(log).toContainText('bits 63:32 are reserved in every x2APIC register but the ICR');
  });
});
