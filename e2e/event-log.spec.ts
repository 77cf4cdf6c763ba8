/**
 * The event log explains each step from its decisions (a #GP names the rule that fired and links
 * to the KVM function), and "Copy trace" copies the steps up to the shown one as trace-cmd report
 * text, saying truthfully when the clipboard refuses.
 */
import { expect, test, type Page } from '@playwright/test';
import { KVM_FORMAT_EVENTS, traceToText } from '../src/core/traceFormat';
import type { TraceEvent } from '../src/core/types';

/** Screenshots go here (SHOTS_DIR overrides it when several sessions share test-results/). */
const SHOTS = process.env.SHOTS_DIR ?? 'test-results';
const log = (page: Page) => page.getByRole('region', { name: 'Event log' });

/** An illegal guest transition on vCPU 1: xAPIC -> x2APIC, then x2APIC -> xAPIC (#GP). */
async function gpOnVcpu1(page: Page) {
  const row = page.getByTestId('vcpu-row-1');
  await row.getByRole('button', { name: 'Enter x2APIC mode on vCPU 1' }).click();
  await row.getByRole('button', { name: 'Leave x2APIC mode on vCPU 1' }).click();
}

/** The trace of the first `n` steps, as plain events (what the store holds). */
const traces = (page: Page, n: number) =>
  page.evaluate(
    (n) => window.lab.getState().log.slice(0, n).map((e) => (e.result.trace ?? []).map((t) => ({ event: t.event, vcpu: t.vcpu, detail: t.detail }))),
    n,
  ) as Promise<TraceEvent[][]>;

test.describe('event log', () => {
  test('a #GP shows the rule that fired, in full, with its KVM function', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    await gpOnVcpu1(page);
    const why = log(page).getByTestId('log-why');
    const words = 'vCPU 1: x2APIC -> xAPIC is illegal for the guest (disable the APIC first): a #GP for the guest.';
    await expect(why).toContainText(`#GP: ${words}`);
    await expect(why.getByRole('link', { name: /kvm_apic_set_base/ })).toHaveAttribute('href', /\/ident\/kvm_apic_set_base$/);
    await expect(log(page).getByRole('listitem').filter({ hasText: '0xfee00800' })).toContainText('#GP (x2APIC -> xAPIC is illegal for the guest');
    // The vCPU list says it too, under the list, not only in a tooltip.
    await expect(page.getByTestId('vcpu-row-1').getByRole('alert')).toHaveText('#GP');
    await expect(page.getByTestId('vcpu-fault')).toContainText(`#GP at step 1: ${words}`);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SHOTS}/event-log-gp.png` });

    // Time travel to the step before: no fault is shown any more.
    await log(page).getByRole('button', { name: 'Show the state after step 0' }).click();
    await expect(log(page).getByTestId('log-why')).toHaveCount(0);
    await expect(page.getByTestId('vcpu-fault')).toHaveCount(0);
  });

  test('an IPI lists its route and each dropped target', async ({ page }) => {
    await page.goto('/?preset=kvm-created');
    await page.evaluate(() => window.lab.getState().apply({ op: 'msi', addressLo: '0xfee01000', data: '0x31' }));
    const why = log(page).getByTestId('log-why');
    await expect(why.getByRole('listitem')).toHaveText([
      /^Fixed vector 49 to physical destination 0x1 \(an MSI\): fast path: phys_map\[1\] holds vCPU 1\./,
      /^vCPU 1: Fixed vector 49 dropped: the APIC is disabled \(software-disabled: SPIV bit 8 is clear\)/,
    ]);
  });

  test('Copy trace copies the steps up to the shown one as trace-cmd report text', async ({ page, context }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.goto('/?preset=kvm-created');
    const copy = log(page).getByRole('button', { name: 'Copy trace' });
    await expect(copy).toBeDisabled();
    await gpOnVcpu1(page);
    await page.evaluate(() => window.lab.getState().apply({ op: 'msi', addressLo: '0xfee01000', data: '0x31' }));

    await copy.click();
    const expected = traceToText(await traces(page, 3), { events: KVM_FORMAT_EVENTS });
    const lines = expected.trim().split('\n');
    await expect(log(page).getByTestId('copy-trace-status')).toHaveText(`copied ${lines.length} trace lines (steps 0-2)`);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(expected);
    expect(lines.some((l) => l.includes('kvm_msi_set_irq:'))).toBe(true);

    // Only the steps up to the shown one.
    await log(page).getByRole('button', { name: 'Show the state after step 1' }).click();
    await expect(log(page).getByTestId('copy-trace-status')).toHaveCount(0);
    await copy.click();
    const upTo1 = traceToText(await traces(page, 2), { events: KVM_FORMAT_EVENTS });
    await expect(log(page).getByTestId('copy-trace-status')).toContainText('(steps 0-1)');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(upTo1);
    expect(upTo1).not.toContain('kvm_msi_set_irq');
  });

  test('a refused clipboard is reported, not claimed as copied', async ({ page }) => {
    await page.addInitScript(() => {
      navigator.clipboard.writeText = () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));
    });
    await page.goto('/?preset=kvm-created');
    await gpOnVcpu1(page);
    await log(page).getByRole('button', { name: 'Copy trace' }).click();
    const status = log(page).getByTestId('copy-trace-status');
    await expect(status).toHaveText('could not copy the trace: Write permission denied.');
    await expect(status).toHaveClass(/error/);
  });
});
