import { expect, test, type Page } from '@playwright/test';

/** Software-enable the APICs of `ids` (KVM_SET_LAPIC merging APIC_SPIV = 0x1ff). */
async function swEnable(page: Page, ids: number[]) {
  await page.evaluate((ids) => {
    for (const vcpu of ids) window.lab.getState().apply({ op: 'set_lapic', vcpu, merge: true, regs: { '0x0f0': '0x1ff' } });
  }, ids);
}

/** Screenshots go to test-results/ (or $ICR_SHOTS, out of reach of other runs that clean test-results). */
const SHOTS = process.env.ICR_SHOTS ?? 'test-results';

const irrOf = (page: Page, vcpu: number) =>
  page.evaluate((id) => window.lab.getState().snapshot.vcpus.find((v) => v.vcpu === id)!.irr, vcpu);

test.describe('ICR composer', () => {
  test('a Fixed IPI from an xAPIC vCPU 0 reaches vCPU 2 with vector 0x41', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    // set_lapic rebuilds the map: vCPU 3, the newest, is in the optimized map only after a rebuild.
    await swEnable(page, [0, 1, 2, 3]);
    const icr = page.getByRole('region', { name: 'ICR' });
    await expect(icr.getByTestId('icr-sender-mode')).toHaveText('xAPIC');
    await expect(icr.getByLabel('sender vCPU')).toHaveValue('0');

    await icr.getByLabel('vector', { exact: true }).fill('0x41');
    await icr.getByLabel('delivery mode').selectOption('Fixed');
    await icr.getByLabel('destination', { exact: true }).fill('2');
    await expect(icr.getByTestId('icr-dest-hint')).toHaveText('APIC ID 2');
    // Fields -> raw: ICR2 holds the destination in bits 31:24, ICR the rest.
    await expect(icr.getByLabel('raw APIC_ICR2')).toHaveValue('0x02000000');
    await expect(icr.getByLabel('raw APIC_ICR', { exact: true })).toHaveValue('0x00004041');

    await icr.getByRole('button', { name: 'Send IPI' }).click();
    const delivered = icr.getByTestId('icr-delivered');
    await expect(delivered).toContainText('vCPU 2');
    await expect(delivered).toContainText('Fixed');
    await expect(delivered).toContainText('0x41');
    await expect(icr.getByTestId('icr-result')).toContainText('fast: through the optimized map');
    const why = icr.getByTestId('icr-why');
    await expect(why).toContainText('Why: Fixed vector 65 to physical destination 0x2 from vCPU 0: fast path: phys_map[2] holds vCPU 2.');
    await expect(why.getByRole('link', { name: /kvm_apic_map_get_dest_lapic/ })).toHaveAttribute('href', /\/ident\/kvm_apic_map_get_dest_lapic$/);
    await expect(icr.getByTestId('icr-dropped')).toHaveCount(0);
    expect(await irrOf(page, 2)).toContain(65);
    // Both writes are logged: ICR2, then the ICR write that sends.
    const steps = await page.evaluate(() => window.lab.getState().log.slice(-2).map((e) => e.step));
    expect(steps).toMatchObject([
      { op: 'mmio_write', vcpu: 0, offset: 0x310n, value: 0x02000000n },
      { op: 'mmio_write', vcpu: 0, offset: 0x300n, value: 0x4041n },
    ]);

    // Hovering a target is the linked-view hover; clicking it opens its register page.
    await delivered.getByRole('button', { name: /vCPU 2/ }).hover();
    expect(await page.evaluate(() => window.lab.getState().hover)).toEqual({ vcpu: 2 });
    await delivered.getByRole('button', { name: /vCPU 2/ }).click();
    await expect(page.getByRole('region', { name: 'Register page' }).getByTestId('reg-0x220')).toContainText('0x00000002');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SHOTS}/icr-4vcpus.png` });
  });

  test('a target whose APIC is software-disabled drops the IPI, and the panel says why', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    // The default VM: every APIC is software-disabled (SPIV bit 8 clear).
    const icr = page.getByRole('region', { name: 'ICR' });
    await icr.getByLabel('destination', { exact: true }).fill('1');
    await icr.getByRole('button', { name: 'Send IPI' }).click();
    await expect(icr.getByTestId('icr-delivered')).toContainText('no LAPIC accepted it');
    const dropped = icr.getByTestId('icr-dropped');
    await expect(dropped).toHaveText(/^✖ vCPU 1: Fixed vector 65 dropped: the APIC is disabled \(software-disabled: SPIV bit 8 is clear\)/);
    await expect(dropped.getByRole('link', { name: /__apic_accept_irq/ })).toBeVisible();
    await expect(icr.getByTestId('icr-why')).toContainText('fast path: phys_map[1] holds vCPU 1.');
    expect(await irrOf(page, 1)).toEqual([]);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SHOTS}/icr-dropped.png` });
  });

  test('the PV IPI hypercall (KVM_HC_SEND_IPI) reads the optimized map only: delivered, refused for a shorthand, lost without a map', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    await swEnable(page, [0, 1, 2, 3]);
    const icr = page.getByRole('region', { name: 'ICR' });
    await icr.getByLabel('destination', { exact: true }).fill('2');
    await icr.getByRole('button', { name: 'Send PV IPI' }).click();
    await expect(icr.getByTestId('icr-result')).toContainText('PV IPI: the optimized map only');
    await expect(icr.getByTestId('icr-delivered')).toContainText('vCPU 2');
    const why = icr.getByTestId('icr-why');
    await expect(why).toContainText('Fixed vector 65 by the PV IPI hypercall (KVM_HC_SEND_IPI) from vCPU 0 to APIC ID 2: PV IPI: phys_map gives vCPU 2.');
    await expect(why.getByRole('link', { name: /kvm_pv_send_ipi/ })).toHaveAttribute('href', /\/ident\/kvm_pv_send_ipi$/);
    expect(await irrOf(page, 2)).toContain(65);
    expect(await page.evaluate(() => window.lab.getState().log.at(-1)!.step)).toMatchObject({ op: 'pv_send_ipi', vcpu: 0, bitmapLow: 1n, min: 2n, icr: 0x4041n });

    // A shorthand is not a PV IPI: KVM returns -KVM_EINVAL and sends nothing.
    await icr.getByLabel('shorthand').selectOption('3');
    await icr.getByRole('button', { name: 'Send PV IPI' }).click();
    await expect(icr.getByTestId('icr-fault')).toContainText('returns -22: vCPU 0: the PV IPI hypercall takes a physical destination with no shorthand, and ICR 0xc4041 has the logical bit or a shorthand (-KVM_EINVAL): -22 from the hypercall.');

    // vCPUs 0 and 256 alias xAPIC ID 0: no optimized map, so the hypercall fails and the IPI is lost.
    await page.evaluate(() => {
      const steps = [0, 1, 256].map((vcpu) => ({ op: 'mmio_write', vcpu, offset: '0xf0', value: '0x1ff' }));
      window.lab.getState().loadScenario({ format: 'apic-scenario/1', vm: { vcpus: [0, 1, 256] }, steps }, 'aliased');
    });
    await icr.getByLabel('shorthand').selectOption('0');
    await icr.getByLabel('destination', { exact: true }).fill('1');
    await icr.getByRole('button', { name: 'Send PV IPI' }).click();
    await expect(icr.getByTestId('icr-fault')).toContainText('returns -95: vCPU 0: there is no optimized map, which the PV IPI hypercall needs, so nobody gets the IPI');
    await expect(icr.getByTestId('icr-why')).toContainText('vCPUs 0 and 256 share physical APIC ID 0');
    await expect(icr.getByTestId('icr-delivered')).toContainText('no optimized map: nobody was looked up');
    await expect(page.getByRole('region', { name: 'Event log' })).toContainText('returns -95: vCPU 0: there is no optimized map');
    expect(await irrOf(page, 1)).toEqual([]);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SHOTS}/icr-pv-ipi-no-map.png` });
  });

  test('raw value and fields stay in sync; bad hex sends nothing', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    const icr = page.getByRole('region', { name: 'ICR' });
    const raw = icr.getByLabel('raw APIC_ICR', { exact: true });
    // Raw -> fields: NMI (4), logical, level-triggered, shorthand all excluding self.
    await raw.fill('0x000cccf2');
    await expect(icr.getByLabel('vector', { exact: true })).toHaveValue('0xf2');
    await expect(icr.getByLabel('delivery mode')).toHaveValue('4');
    await expect(icr.getByLabel('destination mode')).toHaveValue('1');
    await expect(icr.getByLabel('trigger mode')).toHaveValue('1');
    await expect(icr.getByLabel('level assert')).toBeChecked();
    await expect(icr.getByLabel('shorthand')).toHaveValue('3');

    await raw.fill('0x4zz1');
    await expect(raw).toHaveAttribute('aria-invalid', 'true');
    await expect(icr.getByRole('alert')).toContainText('APIC_ICR: not hex: "z" is not a hex digit — nothing is sent');
    await expect(icr.getByRole('button', { name: 'Send IPI' })).toBeDisabled();
    await expect(icr.getByRole('button', { name: 'Send MSI' })).toBeDisabled();
    expect(await page.evaluate(() => window.lab.getState().log.length)).toBe(0);

    // A disabled-mode sender cannot send, and says why.
    await page.evaluate(() => window.lab.getState().apply({ op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00000' }));
    await raw.fill('0x4041');
    await icr.getByLabel('sender vCPU').selectOption('1');
    await expect(icr.getByTestId('icr-sender-mode')).toHaveText('disabled');
    await expect(icr.getByRole('button', { name: 'Send IPI' })).toBeDisabled();
    await expect(icr.getByTestId('icr-note')).toContainText("vCPU 1's APIC is disabled");

    // An MSI needs no sender: the same fields as address/data.
    await page.evaluate(() => window.lab.getState().apply({ op: 'set_lapic', vcpu: 2, merge: true, regs: { '0x0f0': '0x1ff' } }));
    await icr.getByLabel('destination', { exact: true }).fill('2');
    await icr.getByLabel('vector', { exact: true }).fill('42');
    await icr.getByRole('button', { name: 'Send MSI' }).click();
    await expect(icr.getByTestId('icr-result')).toContainText('MSI');
    await expect(icr.getByTestId('icr-delivered')).toContainText('vCPU 2');
    expect(await irrOf(page, 2)).toContain(0x42);
  });

  test('an x2APIC sender with a 32-bit destination, then reserved bits #GP (300 vCPUs)', async ({ page }) => {
    await page.goto('/?vcpus=300');
    await page.evaluate(() => window.lab.getState().apply({ op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00' }));
    await swEnable(page, [0, 261]);
    const icr = page.getByRole('region', { name: 'ICR' });
    await expect(icr.getByTestId('icr-sender-mode')).toHaveText('x2APIC');

    await icr.getByLabel('destination', { exact: true }).fill('0x105');
    await expect(icr.getByTestId('icr-dest-hint')).toHaveText('APIC ID 261');
    const raw = icr.getByLabel('raw ICR, 64-bit');
    await expect(raw).toHaveValue('0x00000105_00004041');
    await icr.getByRole('button', { name: 'Send IPI' }).click();
    await expect(icr.getByTestId('icr-delivered')).toContainText('vCPU 261');
    await expect(icr.getByTestId('icr-delivered')).toContainText('0x41');
    expect(await irrOf(page, 261)).toContain(65);
    const step = await page.evaluate(() => window.lab.getState().log.at(-1)!.step);
    expect(step).toMatchObject({ op: 'wrmsr', vcpu: 0, msr: 0x830n, value: 0x10500004041n });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SHOTS}/icr-300vcpus.png` });

    // Bit 13 is X2APIC_ICR_RESERVED_BITS: KVM injects #GP and sends nothing.
    await raw.fill('0x00000105_00006041');
    await expect(icr.getByTestId('icr-note')).toContainText('reserved bits 13 set (0x2000): #GP');
    await expect(icr.getByLabel('vector', { exact: true })).toHaveValue('0x41');
    await icr.getByRole('button', { name: 'Send IPI' }).click();
    const fault = icr.getByTestId('icr-fault');
    await expect(fault).toContainText('#GP: vCPU 0: x2APIC ICR reserved bits 31:20, 17:16 or 13 set (X2APIC_ICR_RESERVED_BITS): a #GP for the guest.');
    await expect(fault.getByRole('link', { name: /kvm_x2apic_icr_write/ })).toBeVisible();
    await expect(icr.getByTestId('icr-why')).toHaveCount(0);
    await expect(icr.getByTestId('icr-delivered')).toHaveCount(0);
    expect(await irrOf(page, 261)).toEqual([65]);
    await page.screenshot({ path: `${SHOTS}/icr-gp.png` });

    // An xAPIC sender cannot carry the 32-bit destination. With 300 vCPUs the sender is typed, not
    // picked from a list: an id that does not exist is named and changes nothing.
    const sender = icr.getByLabel('sender vCPU');
    await sender.fill('300');
    await expect(icr.getByRole('alert').filter({ hasText: 'no vCPU "300"' })).toContainText('this VM has 300 vCPUs');
    await expect(icr.getByTestId('icr-sender-mode')).toHaveText('x2APIC');
    await sender.fill('1');
    await expect(icr.getByTestId('icr-sender-mode')).toHaveText('xAPIC');
    await expect(icr.getByRole('button', { name: 'Send IPI' })).toBeDisabled();
    await expect(icr.getByTestId('icr-note')).toContainText('8-bit destination');
  });
});
