import { expect, test, type Page } from '@playwright/test';

const TITLE = 'Optimized APIC map';
/** Screenshots go here (SHOTS_DIR overrides it when several sessions share test-results/). */
const SHOTS = process.env.SHOTS_DIR ?? 'test-results';
const panel = (page: Page) => page.getByRole('region', { name: TITLE });
const apply = (page: Page, step: object) =>
  page.evaluate((s) => {
    const r = window.lab.getState().apply(s);
    if (!r) throw new Error(window.lab.getState().error ?? 'rejected');
    return r;
  }, step);

test.describe('optimized APIC map', () => {
  test('default VM: the newest vCPU joins the map at the next rebuild', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const map = panel(page);
    await expect(map).toBeVisible();
    await expect(map.getByTestId('map-nodes')).toBeVisible();
    // A fresh VM: vCPU 3 was created last, and KVM rebuilt the map during its RESET.
    await expect(map.getByTestId('map-slot-2')).toHaveClass(/st-xapic/);
    await expect(map.getByTestId('map-slot-3')).toHaveClass(/st-missing/);
    // Why, from the rebuild's decision, with a link to the KVM function that made it.
    const found = map.getByTestId('map-why');
    await expect(found).toContainText('vCPU 3 is missing from the optimized map until the next rebuild. KVM_CREATE_VCPU resets the new LAPIC');
    await expect(found.getByRole('link', { name: /kvm_vcpu_reset/ })).toHaveAttribute('href', /elixir\.bootlin\.com\/linux\/latest\/A\/ident\/kvm_vcpu_reset$/);
    await expect(map.getByTestId('map-notin')).toHaveCount(0);
    await page.screenshot({ path: SHOTS + '/apic-map-fresh.png' });

    for (const v of [0, 1, 2, 3]) await apply(page, { op: 'mmio_write', vcpu: v, offset: '0xf0', value: '0x1ff' });
    for (const v of [0, 1, 2, 3]) {
      const card = map.getByTestId(`map-slot-${v}`);
      await expect(card).toHaveClass(/st-xapic/);
      await expect(card).toHaveAttribute('data-vcpu', String(v));
      await expect(card).toContainText(`vCPU ${v}`);
    }
    await expect(map.getByTestId('map-notin')).toHaveCount(0);
    await expect(map.getByTestId('map-why')).toHaveCount(0);
    await expect(map.getByTestId('map-summary')).toContainText('4 of 4 vCPUs in phys_map');

    // Linked views: hovering a slot's vCPU sets the store's hover; clicking selects the vCPU.
    await map.getByTestId('map-slot-2').locator('.vcpu-box').hover();
    expect(await page.evaluate(() => window.lab.getState().hover)).toEqual({ vcpu: 2 });
    await expect(map.getByTestId('map-readout')).toContainText('vCPU 2 ← APIC ID 2');
    await map.getByTestId('map-slot-2').click();
    expect(await page.evaluate(() => window.lab.getState().selectedVcpu)).toBe(2);
    await expect(map.getByTestId('map-slot-2')).toHaveClass(/selected/);
    // Keyboard: focus a card and press Enter.
    await map.getByTestId('map-slot-1').focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => window.lab.getState().selectedVcpu)).toBe(1);
  });

  test('aliased physical IDs: no optimized map, with the reason', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const doc = {
      format: 'apic-scenario/1',
      title: 'aliasing',
      vm: { vcpus: [0, 1, 256] },
      steps: [0, 1, 256].map((v) => ({ op: 'set_lapic', vcpu: v, merge: true, regs: {} })),
    };
    expect(await page.evaluate((t) => window.lab.getState().importScenario(t), JSON.stringify(doc))).toBe(true);
    const map = panel(page);
    const absent = map.getByTestId('map-absent');
    await expect(absent).toContainText('No optimized map');
    await expect(absent).toContainText('vCPUs 0 and 256 share physical APIC ID 0 and 32-bit IDs are off: no optimized map.');
    await expect(absent).toContainText('so it drops the whole map and every interrupt takes the slow path');
    await expect(absent.getByRole('link', { name: /kvm_recalculate_phys_map/ })).toBeVisible();
    await expect(map.getByTestId('map-slot-0')).toHaveClass(/st-conflict/);
    await expect(map.getByTestId('map-slot-0')).toHaveAttribute('data-vcpu', '0 256');

    // An NMI to APIC ID 0 reaches both through the slow path.
    await apply(page, { op: 'msi', addressLo: '0xfee00000', data: '0x400' });
    const route = map.getByTestId('map-route');
    await expect(route).toContainText('slow path');
    await expect(route.getByTestId('map-route-why')).toContainText(
      'NMI vector 0 to physical destination 0x0 (an MSI): slow path: there is no optimized map (vCPUs 0 and 256 share physical APIC ID 0',
    );
    await expect(route).toContainText('KVM examined 3 vCPUs and matched vCPUs 0 and 256.');
    await expect(route).toContainText('Accepted by vCPU 0 and 256.');
    await expect(route.getByRole('link', { name: /kvm_irq_delivery_to_apic/ })).toBeVisible();
    await page.screenshot({ path: SHOTS + '/apic-map-aliased.png' });
  });

  test('an x2APIC IPI draws its route through phys_map', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    for (const v of [0, 1, 2, 3]) {
      await apply(page, { op: 'wrmsr', vcpu: v, msr: '0x1b', value: '0xfee00d00' });
      await apply(page, { op: 'wrmsr', vcpu: v, msr: '0x80f', value: '0x1ff' });
    }
    const map = panel(page);
    await expect(map.getByTestId('map-slot-3')).toHaveClass(/st-x2apic/);
    await expect(map.getByTestId('map-logical')).toContainText('logical lookups reuse the physical table (cluster = ID >> 4, bit = ID & 0xf)');

    await apply(page, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0x200000030' });
    const route = map.getByTestId('map-route');
    await expect(route).toContainText('fast path');
    await expect(route.getByTestId('map-route-why')).toContainText('Fixed vector 48 to physical destination 0x2 from vCPU 0: fast path: phys_map[2] holds vCPU 2.');
    await expect(route.getByRole('link', { name: /kvm_apic_map_get_dest_lapic/ })).toHaveAttribute('href', /\/ident\/kvm_apic_map_get_dest_lapic$/);
    await expect(route).toContainText('Through phys_map[2] → vCPU 2');
    await expect(map.getByTestId('map-slot-2')).toHaveClass(/on-route/);
    await expect(map.getByTestId('map-slot-2')).toHaveClass(/route-target/);
    await expect(map.getByTestId('map-slot-0')).toHaveClass(/route-source/);
    await expect(map.locator('path.route-path')).toHaveCount(1);
    await page.screenshot({ path: SHOTS + '/apic-map-route.png' });

    // Time travel back one step: the route is the previous step's (none).
    await page.evaluate(() => window.lab.getState().undo());
    await expect(map.getByTestId('map-route')).toHaveCount(0);
    await expect(map.locator('path.route-path')).toHaveCount(0);
  });

  test('a logical xAPIC IPI goes through the flat table; an MSI comes from a device', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    for (const v of [0, 1, 2, 3]) {
      await apply(page, { op: 'mmio_write', vcpu: v, offset: '0xf0', value: '0x1ff' });
      await apply(page, { op: 'mmio_write', vcpu: v, offset: '0xd0', value: '0x' + (1 << (24 + v)).toString(16) });
    }
    const map = panel(page);
    const logical = map.getByTestId('map-logical');
    await expect(logical).toContainText('XAPIC_FLAT');
    await expect(logical.getByRole('table', { name: 'xapic_flat_map' })).toContainText('0123');
    await apply(page, { op: 'mmio_write', vcpu: 1, offset: '0x310', value: '0x9000000' });
    await apply(page, { op: 'mmio_write', vcpu: 1, offset: '0x300', value: '0x841' });
    const route = map.getByTestId('map-route');
    await expect(route).toContainText('Fixed vector 65 to logical destination 0x9 from vCPU 1: fast path: xAPIC flat logical mask 0x9 selects vCPUs 0 and 3.');
    await expect(route).toContainText('Through xapic_flat_map bit 0 and 3 → vCPU 0 and 3');
    await expect(logical.locator('td.on-route')).toHaveCount(2);
    await page.screenshot({ path: SHOTS + '/apic-map-flat.png' });

    await apply(page, { op: 'msi', addressLo: '0xfee02000', data: '0x4031' });
    await expect(route).toContainText('Fixed vector 49 to physical destination 0x2 (an MSI): fast path: phys_map[2] holds vCPU 2.');
    await expect(map.getByTestId('map-slot-2')).toHaveClass(/on-route/);
    await expect(map.locator('path.route-path')).toHaveCount(1);
  });

  test('a cluster IPI goes through xapic_cluster_map; a dropped target says why', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const apic = (v: number, cluster: number, bit: number) => [
      { op: 'mmio_write', vcpu: v, offset: '0xf0', value: '0x1ff' },
      { op: 'mmio_write', vcpu: v, offset: '0xe0', value: '0x0fffffff' },
      { op: 'mmio_write', vcpu: v, offset: '0xd0', value: '0x' + (((cluster << 4) | (1 << bit)) << 24 >>> 0).toString(16) },
    ];
    for (const step of [...apic(0, 1, 0), ...apic(1, 1, 1), ...apic(2, 2, 0), ...apic(3, 2, 1)]) await apply(page, step);
    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x23000000' });
    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x831' });
    const map = panel(page);
    const route = map.getByTestId('map-route');
    await expect(route.getByTestId('map-route-why')).toContainText('logical destination 0x23 from vCPU 0: fast path: xAPIC cluster logical cluster 2 mask 0x3 selects vCPUs 2 and 3.');
    await expect(route).toContainText('Through xapic_cluster_map[2] bit 0 and 1 → vCPU 2 and 3');
    await expect(map.getByRole('table', { name: 'xapic_cluster_map' }).locator('td.on-route')).toHaveCount(2);
    await route.scrollIntoViewIfNeeded();
    await page.screenshot({ path: SHOTS + '/apic-map-cluster.png' });

    // vCPU 2 software-disabled: it leaves the logical table, but phys_map still selects it and its LAPIC drops the interrupt.
    await apply(page, { op: 'mmio_write', vcpu: 2, offset: '0xf0', value: '0xff' });
    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x2000000' });
    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x32' });
    await expect(route).toContainText('Through phys_map[2] → nobody accepted it.');
    const dropped = route.getByTestId('map-dropped');
    await expect(dropped).toHaveText(/vCPU 2: Fixed vector 50 dropped: the APIC is disabled \(software-disabled: SPIV bit 8 is clear\)/);
    await expect(dropped.getByRole('link', { name: /__apic_accept_irq/ })).toBeVisible();
    await expect(map.getByTestId('map-slot-2')).toHaveClass(/route-dropped/);
  });

  test('a rebuild fades changed slots in and an IPI pulses, under 300 ms; reduced motion skips both', async ({ page }) => {
    await page.clock.install();
    await page.goto('/?preset=kvm-created');
    const map = panel(page);
    const card3 = map.getByTestId('map-slot-3');
    await expect(card3).toHaveClass(/st-missing/);
    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' }); // rebuild: vCPU 3 joins
    await expect(card3).toHaveClass(/st-xapic/);
    const opacity = (id: string) => map.getByTestId(id).evaluate((el) => (el as SVGGElement).style.opacity);
    expect(Number(await opacity('map-slot-3'))).toBeLessThan(1);
    expect(await opacity('map-slot-2')).toBe(''); // unchanged slots do not animate
    await page.clock.runFor(300);
    await expect.poll(() => opacity('map-slot-3')).toBe('1');

    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0x310', value: '0x2000000' });
    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x30' });
    const path = map.locator('path.route-path');
    await expect(path).toHaveCount(1);
    const width = () => path.evaluate((el) => parseFloat(getComputedStyle(el).strokeWidth));
    expect(await width()).toBeGreaterThan(2);
    await page.clock.runFor(300);
    await expect.poll(width).toBe(2);

    await page.emulateMedia({ reducedMotion: 'reduce' });
    await apply(page, { op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00' }); // x2APIC: slot 1 changes
    await expect(map.getByTestId('map-slot-1')).toHaveClass(/st-x2apic/);
    expect(await opacity('map-slot-1')).toBe('');
    await apply(page, { op: 'mmio_write', vcpu: 0, offset: '0x300', value: '0x31' });
    expect(await width()).toBe(2);
  });

  test('300 vCPUs: the density view on a canvas', async ({ page }) => {
    await page.goto('/?vcpus=300');
    const map = panel(page);
    await expect(map.getByTestId('map-density')).toBeVisible();
    await expect(map.getByTestId('map-nodes')).toHaveCount(0);
    await expect(map.locator('g.map-card')).toHaveCount(0);
    await expect(map.getByTestId('map-absent')).toContainText('vCPUs 0 and 256 share physical APIC ID 0');
    const legend = map.getByRole('list', { name: 'Legend' });
    await expect(legend).toContainText('shared ID (no map) 44');
    await expect(legend).toContainText('xAPIC vCPU 212');

    // Hover readout from the mouse position: slot 0 is the top-left cell.
    const canvas = map.getByTestId('map-density-canvas');
    const box = (await canvas.boundingBox())!;
    const cell = await page.evaluate(() => {
      const c = document.querySelector('[data-testid=map-density-canvas]') as HTMLCanvasElement;
      return (c.getBoundingClientRect().width - 34 - 2) / 32;
    });
    await page.mouse.move(box.x + 34 + cell * 0.5, box.y + cell * 0.5);
    await expect(map.getByTestId('map-readout')).toContainText('APIC ID 0: shared by vCPUs 0, 256');
    expect(await page.evaluate(() => window.lab.getState().hover)).toEqual({ apicId: 0 });
    await page.mouse.move(box.x + 34 + cell * 13.5, box.y + cell * 1.5); // slot 45
    await expect(map.getByTestId('map-readout')).toContainText('APIC ID 45 → vCPU 45');
    await page.mouse.click(box.x + 34 + cell * 13.5, box.y + cell * 1.5);
    expect(await page.evaluate(() => window.lab.getState().selectedVcpu)).toBe(45);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: SHOTS + '/apic-map-300.png' });

    // The page never scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  });

  test('4096 vCPUs with 32-bit IDs in x2APIC: a present map in the density view', async ({ page }) => {
    await page.goto('/?vcpus=4096');
    const map = panel(page);
    await expect(map.getByTestId('map-density')).toBeVisible();
    await apply(page, { op: 'enable_cap', cap: 'X2APIC_API', flags: 1 });
    await apply(page, { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00' });
    await expect(map.getByTestId('map-summary')).toContainText('present');
    await apply(page, { op: 'wrmsr', vcpu: 0, msr: '0x830', value: '0xf0000000030' });
    await expect(map.getByTestId('map-route')).toContainText('phys_map[3840]');
    await page.screenshot({ path: SHOTS + '/apic-map-4096.png' });

    // Zoom: bigger cells, scrolled inside the panel, never the page.
    const canvas = map.getByTestId('map-density-canvas');
    const before = (await canvas.boundingBox())!.width;
    await map.getByRole('button', { name: 'Zoom in' }).click();
    await expect.poll(async () => (await canvas.boundingBox())!.width).toBeGreaterThan(before * 1.5);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: SHOTS + '/apic-map-4096-zoom.png' });
  });
});
