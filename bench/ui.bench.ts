/**
 * `npm run bench:ui`: the built app in Chromium with 4096 vCPUs, issue 17's rows: first render;
 * click to painted frame for an x2APIC toggle, undo and an IPI (p95 over 3 rounds of 20 clicks);
 * selecting a vCPU (the work past the wait for the next frame); the JS heap after a forced GC
 * (loaded, after 100 clicks, with a 200,000-step log); the JavaScript sent on first load.
 * Reported with targets, not asserted: nothing fails when a target is missed.
 */
import { test, type Page } from '@playwright/test';
import { firstLoadJs } from '../scripts/firstLoadJs.mjs';
import { report, summarize, summarizeP95, type BenchResult } from './harness';

test.setTimeout(1_800_000);

const VCPUS = 4096;

/**
 * In the page: run `action` and wait for the frame that shows it. `total`: from the action to the
 * painted frame; `work`: the same less the idle wait for the frame (the action's synchronous work
 * and the microtasks it queued, then the frame's own work: styles, layout, paint).
 */
const MEASURE = `(async (action) => {
  const t0 = performance.now();
  action();
  await new Promise((r) => queueMicrotask(r));
  const t1 = performance.now();
  const frame = await new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  await new Promise((r) => setTimeout(r, 0));
  const t3 = performance.now();
  return { total: t3 - t0, work: t1 - t0 + (t3 - frame) };
})`;

/** The JS heap after forced full collections (DevTools protocol), MB. */
async function heapAfterGc(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  // Collect until the heap stops shrinking: right after loading a 200,000-step log, two forced
  // collections still count about 50 MB that a third frees (a heap snapshot agrees with the third).
  let used = Infinity;
  for (let i = 0; i < 6; i++) {
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    if (usedSize >= used) break;
    used = usedSize;
  }
  await cdp.detach();
  return used / 2 ** 20;
}

/** Open the app with 4096 vCPUs (a fresh session: nothing stored). */
async function open4096(page: Page): Promise<void> {
  await page.goto('/');
  await page.evaluate(() => localStorage.clear());
  await page.goto(`/?vcpus=${VCPUS}`);
  await page.getByTestId('vcpu-row-0').waitFor();
}

/** The clicks measured, as the source of an in-page function of the click's number (row i % 12 is in view). */
const CLICK = {
  toggle: `(i) => document.querySelector('[data-testid="vcpu-row-' + (i % 12) + '"] .vtoggles button:last-child').click()`,
  undo: `() => document.querySelector('button[aria-label="Undo (Ctrl+Z)"]').click()`,
  ipi: `() => document.querySelector('button[aria-label="Send IPI"]').click()`,
  select: `(i) => document.querySelector('[data-testid="vcpu-row-' + (i % 12) + '"] button').click()`,
};

/** Three rounds of 20 clicks of `action` (a CLICK), each timed to the painted frame. */
async function clicks(page: Page, action: string): Promise<number[]> {
  return page.evaluate(
    async ({ measure, action }) => {
      const m = eval(measure) as (a: () => void) => Promise<{ total: number }>;
      const act = eval(action) as (i: number) => void;
      const out: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 20; i++) out.push((await m(() => act(round * 20 + i))).total);
        await new Promise((r) => setTimeout(r, 200)); // let idle work (effects, GC) settle between rounds
      }
      return out;
    },
    { measure: MEASURE, action },
  );
}

test('ui benchmarks', async ({ page }) => {
  const results: BenchResult[] = [];

  // First render: from navigation to the first frame that shows the vCPU list.
  await page.addInitScript(() => {
    const w = window as unknown as { __firstRow?: number };
    const seen = () => {
      if (w.__firstRow === undefined && document.querySelector('[data-testid="vcpu-row-0"]')) {
        requestAnimationFrame(() => (w.__firstRow ??= performance.now()));
        return true;
      }
      return false;
    };
    new MutationObserver((_, obs) => seen() && obs.disconnect()).observe(document, { childList: true, subtree: true });
  });
  const firsts: number[] = [];
  for (let i = 0; i < 5; i++) {
    await open4096(page);
    await page.waitForFunction(() => (window as unknown as { __firstRow?: number }).__firstRow !== undefined);
    firsts.push(await page.evaluate(() => (window as unknown as { __firstRow: number }).__firstRow));
  }
  results.push(summarize(`${VCPUS} vCPUs: first render`, 'ms', firsts, (v) => v <= 400, '<= 400 ms'));
  results.push(summarize(`${VCPUS} vCPUs: JS heap after a forced GC, loaded`, 'MB', [await heapAfterGc(page)], (v) => v <= 100, '<= 100 MB'));

  // Click to painted frame: the x2 toggle of a visible vCPU row, the Undo button, Send IPI.
  const toggles = await clicks(page, CLICK.toggle);
  results.push(summarizeP95(`${VCPUS} vCPUs: x2APIC toggle on a vCPU, click to painted frame`, 'ms', toggles, 50));
  const undos = await clicks(page, CLICK.undo);
  results.push(summarizeP95(`${VCPUS} vCPUs: undo, click to painted frame`, 'ms', undos, 50));
  const ipis = await clicks(page, CLICK.ipi);
  results.push(summarizeP95(`${VCPUS} vCPUs: send an IPI, click to painted frame`, 'ms', ipis, 50));

  // Selecting a vCPU: the work past the wait for the next frame.
  const selects: number[] = await page.evaluate(async ({ measure, action }) => {
    const m = eval(measure) as (a: () => void) => Promise<{ work: number }>;
    const select = eval(action) as (i: number) => void;
    const out: number[] = [];
    for (let i = 0; i < 60; i++) out.push((await m(() => select(i))).work);
    return out;
  }, { measure: MEASURE, action: CLICK.select });
  results.push(summarizeP95(`${VCPUS} vCPUs: select a vCPU, work past the wait for the frame`, 'ms', selects, 16));

  // 100 more clicks (toggles, IPIs, undos, selections), then the heap.
  await page.evaluate((actions) => {
    const act = actions.map((a) => eval(a) as (i: number) => void);
    for (let i = 0; i < 100; i++) act[i % 4](i);
  }, [CLICK.toggle, CLICK.ipi, CLICK.undo, CLICK.select]);
  results.push(summarize(`${VCPUS} vCPUs: JS heap after a forced GC, after 100 clicks`, 'MB', [await heapAfterGc(page)], (v) => v <= 100, '<= 100 MB'));

  // A 200,000-step log (TPR writes, APICBASE toggles, IPIs, one vCPU after another), loaded as a scenario.
  const loaded = await page.evaluate((n) => {
    const steps = [];
    for (let i = 0; i < 200_000; i++) {
      const v = (i * 67) % n;
      steps.push(
        i % 3 === 0 ? { op: 'mmio_write', vcpu: v, offset: '0x80', value: i & 0xff }
        : i % 3 === 1 ? { op: 'wrmsr', vcpu: v, msr: '0x1b', value: i % 2 ? '0xfee00c00' : '0xfee00800', host: true }
        : { op: 'mmio_write', vcpu: v, offset: '0x300', value: 0x4040 },
      );
    }
    const t = performance.now();
    const ok = window.lab.getState().loadScenario({ format: 'apic-scenario/1', vm: { vcpus: n }, steps }, 'bench');
    return { ok, ms: performance.now() - t, error: window.lab.getState().error };
  }, VCPUS);
  if (!loaded.ok) throw new Error(`the 200,000-step log did not load: ${loaded.error}`);
  results.push(summarize(`${VCPUS} vCPUs: load a 200,000-step log of TPR writes, mode switches and IPIs (the page waits)`, 'ms', [loaded.ms]));
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
  results.push(summarize(`${VCPUS} vCPUs: JS heap after a forced GC, with a 200,000-step log`, 'MB', [await heapAfterGc(page)], (v) => v <= 100, '<= 100 MB'));
  const travels: number[] = await page.evaluate(async (measure) => {
    const m = eval(measure) as (a: () => void) => Promise<{ total: number }>;
    const out: number[] = [];
    for (let k = 0; k < 20; k++) out.push((await m(() => window.lab.getState().travel((k * 35_711) % 200_000))).total);
    return out;
  }, MEASURE);
  results.push(summarize(`${VCPUS} vCPUs: time travel in a 200,000-step log, to the painted frame (median)`, 'ms', travels));

  const js = firstLoadJs(process.env.BENCH_DIST ?? 'dist');
  results.push(summarize('JavaScript sent on first load (gzip)', 'kB', [js.firstLoadGzipKb], (v) => v <= 120, '<= 120 kB'));

  report('UI benchmarks (Chromium, the built app)', results, 'bench/results/ui.json');
});
