/** compare.ts's time tolerance: how a kernel's TMCCT is judged against the model's (no /dev/kvm needed). */
import { describe, expect, it } from 'vitest';
import { compareBackends, judgeTmcct, timerParams, tmcctAt, type TimerParams } from './compare';
import { ModelBackend } from './modelBackend';
import { parseScenario } from './schema';

const MS = 1_000_000;
const regs = (lvtt: number, tdcr: number, tmict: number) => {
  const r = new Uint32Array(256);
  r[0x320 >> 2] = lvtt;
  r[0x3e0 >> 2] = tdcr;
  r[0x380 >> 2] = tmict;
  return r;
};

describe('timerParams and tmcctAt', () => {
  it('read the divide, the mode and the period (at least 200 us when periodic) from an image', () => {
    expect(timerParams(regs(0x40, 0xb, 1000))).toEqual({ mode: 'one-shot', divide: 1, tmict: 1000, periodNs: 1000 });
    expect(timerParams(regs(0x20040, 0xb, 1000))).toEqual({ mode: 'periodic', divide: 1, tmict: 1000, periodNs: 200_000 });
    expect(timerParams(regs(0x40040, 0x9, 5))).toMatchObject({ mode: 'tsc-deadline', divide: 64 });
    expect(timerParams(regs(0x40, 0x0, 7)).divide).toBe(2);
  });
  it('is apic_get_tmcct(): the remaining time modulo the period, in counts; 0 once it has passed', () => {
    const p = timerParams(regs(0x40, 0x3, 10 * MS)); // divide 16, 160 ms
    expect(tmcctAt(100 * MS, p)).toBe(6_250_000);
    expect(tmcctAt(160 * MS, p)).toBe(0); // just armed, no time passed: KVM's mod_64 gives 0
    expect(tmcctAt(-5, p)).toBe(0);
  });
});

describe('judgeTmcct', () => {
  const oneShot: TimerParams = { mode: 'one-shot', divide: 1, tmict: 400 * MS, periodNs: 400 * MS };
  const periodic: TimerParams = { mode: 'periodic', divide: 1, tmict: 100 * MS, periodNs: 100 * MS };

  it('is exact when the clocks cannot be apart (two models) or no count runs', () => {
    expect(judgeTmcct(5, 5, oneShot, 0, 0)).toEqual({ agrees: true, how: 'exact' });
    expect(judgeTmcct(5, 6, oneShot, 0, 0)).toEqual({ agrees: false, how: 'exact' });
    expect(judgeTmcct(0, 0, { ...oneShot, mode: 'tsc-deadline' }, -MS, MS)).toEqual({ agrees: true, how: 'exact' });
  });

  it('accepts a kernel count whose remaining time lies in the window, and only that', () => {
    // The model has 250 ms to go; the kernel's timer may have 2 ms less to 1 ms more.
    expect(judgeTmcct(250 * MS, 248 * MS + 1, oneShot, -2 * MS, MS, 250 * MS).agrees).toBe(true);
    expect(judgeTmcct(250 * MS, 251 * MS, oneShot, -2 * MS, MS, 250 * MS).agrees).toBe(true);
    expect(judgeTmcct(250 * MS, 247 * MS, oneShot, -2 * MS, MS, 250 * MS)).toEqual({ agrees: false, how: 'tolerance' });
    expect(judgeTmcct(250 * MS, 252 * MS, oneShot, -2 * MS, MS, 250 * MS).agrees).toBe(false);
  });

  it('a just-armed one-shot (the model reads 0: no time passed) agrees with a kernel a little into its count', () => {
    expect(judgeTmcct(0, 400 * MS - 3000, oneShot, -MS, 0, 400 * MS).agrees).toBe(true);
    // ... but not one that says it has expired, nor one far into its count.
    expect(judgeTmcct(0, 200 * MS, oneShot, -MS, 0, 400 * MS).agrees).toBe(false);
    expect(judgeTmcct(0, 1000, oneShot, -MS, MS, 400 * MS).agrees).toBe(false); // a one-shot never has more than its period left
  });

  it('an expiry within the window may read 0 on the kernel', () => {
    expect(judgeTmcct(500_000, 0, oneShot, -MS, 0, 500_000).agrees).toBe(true);
    expect(judgeTmcct(5 * MS, 0, oneShot, -MS, 0, 5 * MS).agrees).toBe(false);
  });

  it('periodic: measured round the period (a reload), the count within the period', () => {
    expect(judgeTmcct(MS / 2, 100 * MS - MS / 2, periodic, -2 * MS, 0, MS / 2).agrees).toBe(true); // the kernel already reloaded
    expect(judgeTmcct(50 * MS, 100 * MS + 5, periodic, -2 * MS, 0, 50 * MS).agrees).toBe(false); // beyond the period
    // A periodic timer not running (its target left in the past, e.g. a one-shot that fired, switched to periodic) reads 0.
    expect(judgeTmcct(0, 0, periodic, -7 * MS, -MS / 20, -30 * MS).agrees).toBe(true);
    expect(judgeTmcct(0, 90 * MS, periodic, -7 * MS, -MS / 20, -30 * MS).agrees).toBe(false);
    const short: TimerParams = { mode: 'periodic', divide: 1, tmict: 1000, periodNs: 200_000 };
    expect(judgeTmcct(100, 150_000, short, -MS, 0)).toEqual({ agrees: true, how: 'period' }); // window wider than the period
    expect(judgeTmcct(100, 250_000, short, -MS, 0)).toEqual({ agrees: false, how: 'period' });
  });
});

describe('compareBackends with clocks', () => {
  it('between two models the clocks never part: TMCCT is compared exactly and no close call is noted', () => {
    const s = parseScenario({
      format: 'apic-scenario/1',
      vm: { vcpus: 1 },
      steps: [
        { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' },
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x20040' },
        { op: 'mmio_write', vcpu: 0, offset: '0x380', value: '1000' },
        { op: 'advance', ns: '1000500' },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'run', vcpu: 0 },
      ],
    });
    const c = compareBackends(s, new ModelBackend(s.vm), new ModelBackend(s.vm));
    expect(c.differences).toEqual([]);
    expect(c.timing).toEqual({ maxLeadNs: 0, minLeadNs: 0, tmcctJudged: 0, tmcctWithinPeriodOnly: 0, closeCalls: [] });
  });
});
