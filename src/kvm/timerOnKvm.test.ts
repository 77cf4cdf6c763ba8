/**
 * The APIC timer judged by the kernel (issue 16): timer scenarios replayed on the model and on the
 * real /dev/kvm agree within the comparison's time tolerance (compare.ts): TMCCT within how far the
 * kernel's host clock ran ahead of (or behind) the model's virtual one since the timer was armed,
 * everything else exactly, expiries included (the vector in IRR after an `advance` past the expiry
 * and a `run`).
 *
 * Robust on a loaded shared machine: timers last 300 ms to 1 s and every expiry is at least
 * 150 ms away from the step boundaries around it, so a host that lags by up to 150 ms between
 * steps cannot flip an outcome; the TMCCT tolerance is measured, not fixed (each run prints it).
 * When a run does lag more than a margin, the comparison reports a close call (the kernel's timer
 * may have fired on the other side of a step) and the scenario is run again, up to 3 times; a
 * difference without a close call fails at once.
 */
import { describe, expect, it } from 'vitest';
import { compareBackends, formatComparison, type Comparison } from '../scenario/compare';
import { ModelBackend } from '../scenario/modelBackend';
import { field, type StepResult } from '../scenario/result';
import { parseScenario, type Scenario, type Step } from '../scenario/schema';
import type { VcpuObservation } from '../scenario/backend';
import { KvmBackend, kvmRefusal, probeHost, type KvmHostTraits } from './kvmBackend';
import { hostOverrides } from './kvmRun';
import { kvmAvailability, openKvm, type KvmSystem } from './kvmIoctl';

const avail = kvmAvailability();
if (!avail.ok) console.warn(`[src/kvm] timer-on-kernel tests skipped: ${avail.reason}`);

const ATTEMPTS = 3;
const MS = 1_000_000;

/** The kernel backend, keeping what it answered and what it showed last. */
class RecordingKvm extends KvmBackend {
  readonly results: StepResult[] = [];
  last: VcpuObservation[] = [];
  override applyStep(step: Step, i: number): StepResult {
    const r = super.applyStep(step, i);
    this.results.push(r);
    return r;
  }
  override observe(): VcpuObservation[] {
    return (this.last = super.observe());
  }
}

const scenario = (vm: Record<string, unknown>, steps: unknown[]): Scenario => parseScenario({ format: 'apic-scenario/1', vm, steps });

/**
 * Compare `build(host)` on the model and the kernel until a run has no close call or agrees; the
 * agreeing run's comparison and the kernel's results and last observation.
 */
async function judged(
  build: (host: KvmHostTraits) => Scenario,
  model: (s: Scenario, host: KvmHostTraits) => ModelBackend = (s, host) => new ModelBackend(s.vm, hostOverrides(host)),
): Promise<{ c: Comparison; kernel: RecordingKvm; host: KvmHostTraits }> {
  const sys: KvmSystem = await openKvm();
  try {
    const host = probeHost(sys);
    const s = build(host);
    for (let attempt = 1; ; attempt++) {
      const kernel = new RecordingKvm(sys, s.vm);
      const c = compareBackends(s, model(s, host), kernel);
      const t = c.timing!;
      console.log(`[timer on kvm] attempt ${attempt}: kernel clock up to ${(t.maxLeadNs / MS).toFixed(2)} ms ahead; ${t.tmcctJudged} TMCCT judged, ${t.tmcctWithinPeriodOnly} within the period only; ${t.closeCalls.length} close call(s); ${c.differences.length} difference(s)`);
      if (c.differences.length === 0) return { c, kernel, host };
      const report = formatComparison(c, []);
      if (t.closeCalls.length === 0 || attempt === ATTEMPTS) throw new Error(report);
      console.log(`[timer on kvm] inconclusive (the host lagged past a margin), again:\n${report}`);
    }
  } finally {
    sys.close();
  }
}

const irrHas = (o: VcpuObservation | undefined, vector: number): boolean => (((o?.regs[(0x200 + 0x10 * (vector >> 5)) >> 2] ?? 0) >>> (vector & 31)) & 1) === 1;
const value = (r: StepResult | undefined): number => Number(field(r!, 'value'));
const ENABLE = { op: 'mmio_write', vcpu: 0, offset: '0xf0', value: '0x1ff' };

describe('the kernel backend refuses what it cannot raise, saying why', () => {
  it('local_irq: no ioctl raises a local source by itself', () => {
    for (const lvt of ['LINT0', 'LINT1', 'PERF', 'CMCI'] as const) expect(kvmRefusal({ op: 'local_irq', vcpu: 0, lvt })).toMatch(/LVT|PMU|machine check|LINT0/);
    expect(kvmRefusal({ op: 'local_irq', vcpu: 0, lvt: 'PERF' })).toContain('no architectural PMU');
  });
  it('advance and nmi_watchdog run (host time passes; a PIT ticks)', () => {
    expect(kvmRefusal({ op: 'advance', ns: 1000n })).toBeNull();
    expect(kvmRefusal({ op: 'advance', until: 'next-timer-expiry' })).toBeNull();
    expect(kvmRefusal({ op: 'nmi_watchdog' })).toBeNull();
    expect(kvmRefusal({ op: 'advance', ns: 3_600_000_000_000n })).toContain('host time');
  });
});

describe.skipIf(!avail.ok)('the APIC timer on the real kernel agrees with the model', () => {
  it('one-shot: no expiry before TMICT has counted down, then the vector in IRR after a run', async () => {
    const { kernel } = await judged(() =>
      scenario({ vcpus: 1 }, [
        ENABLE,
        { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0xb' }, // divide by 1
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40' }, // one-shot, vector 0x40
        { op: 'mmio_write', vcpu: 0, offset: '0x380', value: String(400 * MS) }, // 400 ms
        { op: 'advance', ns: String(150 * MS) },
        { op: 'run', vcpu: 0 },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' }, // about 250 ms left
        { op: 'get_lapic', vcpu: 0 },
        { op: 'advance', ns: String(450 * MS) }, // 200 ms past the expiry
        { op: 'run', vcpu: 0 },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
      ]),
    );
    expect(value(kernel.results[6])).toBeGreaterThan(0); // still counting after 150 ms
    expect(value(kernel.results[6])).toBeLessThan(250 * MS + 100 * MS);
    expect(value(kernel.results[10])).toBe(0);
    expect(irrHas(kernel.last[0], 0x40)).toBe(true);
  }, 60_000);

  it('TMCCT counts down at the programmed divide (MMIO, x2APIC RDMSR 0x839 guest and host, KVM_GET_LAPIC)', async () => {
    const { c, kernel } = await judged(() =>
      scenario({ vcpus: 2 }, [
        ENABLE,
        { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0x9' }, // divide by 64
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x10040' }, // masked one-shot
        { op: 'mmio_write', vcpu: 0, offset: '0x380', value: String(15_625_000) }, // 1 s
        { op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00', host: true }, // vCPU 1: x2APIC
        { op: 'wrmsr', vcpu: 1, msr: '0x80f', value: '0x1ff', host: true },
        { op: 'wrmsr', vcpu: 1, msr: '0x83e', value: '0x3', host: true }, // divide by 16
        { op: 'wrmsr', vcpu: 1, msr: '0x832', value: '0x10041', host: true },
        { op: 'wrmsr', vcpu: 1, msr: '0x838', value: String(62_500_000) }, // 1 s, by the guest
        { op: 'advance', ns: String(300 * MS) },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'rdmsr', vcpu: 1, msr: '0x839' },
        { op: 'rdmsr', vcpu: 1, msr: '0x839', host: true },
        { op: 'advance', ns: String(300 * MS) },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'rdmsr', vcpu: 1, msr: '0x839' },
        { op: 'get_lapic', vcpu: 0 },
        { op: 'get_lapic', vcpu: 1 },
      ]),
    );
    // 300 ms apart: 300 ms / 64 ns and 300 ms / 16 ns fewer counts, give or take the host's lag.
    const lag = c.timing!.maxLeadNs;
    expect(Math.abs(value(kernel.results[10]) - value(kernel.results[14]) - 300 * MS / 64)).toBeLessThan(lag / 64 + 2);
    expect(Math.abs(value(kernel.results[11]) - value(kernel.results[15]) - 300 * MS / 16)).toBeLessThan(lag / 16 + 2);
    expect(c.timing!.tmcctJudged).toBeGreaterThanOrEqual(8);
  }, 60_000);

  it('periodic: reloads every period (IRR after a run, TMCCT within the period), until the next expiry, and the 200 us minimum period', async () => {
    const { c, kernel } = await judged(() =>
      scenario({ vcpus: 1 }, [
        ENABLE,
        { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0xb' },
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x20040' }, // periodic, vector 0x40
        { op: 'mmio_write', vcpu: 0, offset: '0x380', value: String(300 * MS) }, // 300 ms
        { op: 'advance', ns: String(750 * MS) }, // fired at 300 and 600: half a period to go
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'run', vcpu: 0 },
        { op: 'mmio_write', vcpu: 0, offset: '0xb0', value: '0' }, // nothing in service: EOI does nothing
        { op: 'advance', until: 'next-timer-expiry' }, // 900 ms: the kernel waits for its own expiry
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        // The minimum period: TMICT 1000 at divide 1 is 1 us, run as 200 us (masked: no IRR to race).
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x30041' },
        { op: 'mmio_write', vcpu: 0, offset: '0x380', value: '1000' },
        { op: 'advance', ns: String(10 * MS) },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'get_lapic', vcpu: 0 },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'get_lapic', vcpu: 0 },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
      ]),
    );
    expect(value(kernel.results[5])).toBeLessThan(300 * MS); // reloaded: within the period
    expect(irrHas(kernel.last[0], 0x40)).toBe(true);
    const clamped = [13, 15, 17].map((i) => value(kernel.results[i]));
    expect(Math.max(...clamped)).toBeLessThan(200_000); // within the 200 us period
    expect(Math.max(...clamped)).toBeGreaterThan(1000); // longer than TMICT's 1 us: the minimum period
    expect(c.timing!.tmcctWithinPeriodOnly).toBeGreaterThan(0);
  }, 60_000);

  it('TSC-deadline (MSR 0x6E0 at the kernel TSC rate): read back, no expiry before the deadline, then IRR and the deadline cleared', async () => {
    const { host, kernel } = await judged((host) =>
      scenario({ vcpus: 1 }, [
        ENABLE,
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40040' }, // TSC-deadline, vector 0x40
        { op: 'wrmsr', vcpu: 0, msr: '0x6e0', value: String(host.tscKhz * 500) }, // 500 ms after time zero
        { op: 'rdmsr', vcpu: 0, msr: '0x6e0' },
        { op: 'rdmsr', vcpu: 0, msr: '0x6e0', host: true },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' }, // 0 in TSC-deadline mode
        { op: 'advance', ns: String(250 * MS) },
        { op: 'run', vcpu: 0 },
        { op: 'advance', ns: String(450 * MS) }, // 200 ms past the deadline
        { op: 'run', vcpu: 0 },
        { op: 'rdmsr', vcpu: 0, msr: '0x6e0' }, // injected: cleared
        { op: 'wrmsr', vcpu: 0, msr: '0x6e0', value: String(host.tscKhz * 1500), host: true }, // the host arms it
        { op: 'advance', until: 'next-timer-expiry' },
        { op: 'rdmsr', vcpu: 0, msr: '0x6e0', host: true }, // expired, not injected yet: still there
        { op: 'run', vcpu: 0 },
        { op: 'rdmsr', vcpu: 0, msr: '0x6e0', host: true },
      ]),
    );
    expect(host.tscKhz).toBeGreaterThan(0);
    expect(BigInt(field(kernel.results[3], 'value')!)).toBe(BigInt(host.tscKhz * 500));
    expect(value(kernel.results[10])).toBe(0);
    expect(BigInt(field(kernel.results[13], 'value')!)).toBe(BigInt(host.tscKhz * 1500));
    expect(value(kernel.results[15])).toBe(0);
    expect(irrHas(kernel.last[0], 0x40)).toBe(true);
  }, 60_000);

  it('a switch into TSC-deadline mode cancels a running one-shot and zeroes TMICT', async () => {
    const { kernel } = await judged(() =>
      scenario({ vcpus: 1 }, [
        ENABLE,
        { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0xb' },
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40' },
        { op: 'mmio_write', vcpu: 0, offset: '0x380', value: String(400 * MS) },
        { op: 'advance', ns: String(100 * MS) },
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40040' }, // into TSC-deadline mode
        { op: 'mmio_read', vcpu: 0, offset: '0x380' },
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40' }, // and back: still stopped
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'advance', ns: String(500 * MS) }, // past where it would have fired
        { op: 'run', vcpu: 0 },
      ]),
    );
    expect(value(kernel.results[6])).toBe(0);
    expect(value(kernel.results[8])).toBe(0);
    expect(irrHas(kernel.last[0], 0x40)).toBe(false);
  }, 60_000);

  it('KVM_SET_LAPIC restarts the timer from the image TMCCT', async () => {
    const { kernel } = await judged(() =>
      scenario({ vcpus: 1 }, [
        ENABLE,
        { op: 'set_lapic', vcpu: 0, merge: true, regs: { '0x320': '0x40', '0x3e0': '0xb', '0x380': String(800 * MS), '0x390': String(400 * MS) } },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' }, // about 400 ms, not 800
        { op: 'advance', ns: String(200 * MS) },
        { op: 'get_lapic', vcpu: 0 },
        { op: 'run', vcpu: 0 },
        { op: 'advance', ns: String(400 * MS) }, // 600 ms: past the restored expiry at 400, before 800
        { op: 'run', vcpu: 0 },
      ]),
    );
    expect(value(kernel.results[2])).toBeLessThanOrEqual(400 * MS);
    expect(value(kernel.results[2])).toBeGreaterThan(250 * MS);
    expect(irrHas(kernel.last[0], 0x40)).toBe(true);
  }, 60_000);

  it('without CPUID.TSC_DEADLINE_TIMER, LVTT cannot select TSC-deadline mode and MSR 0x6E0 writes are ignored', async () => {
    const { kernel } = await judged((host) =>
      scenario({ vcpus: 1, tscDeadline: false }, [
        ENABLE,
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40040' },
        { op: 'mmio_read', vcpu: 0, offset: '0x320' }, // 0x40: one-shot
        { op: 'wrmsr', vcpu: 0, msr: '0x6e0', value: String(host.tscKhz * 200) },
        { op: 'rdmsr', vcpu: 0, msr: '0x6e0' },
        { op: 'wrmsr', vcpu: 0, msr: '0x6e0', value: String(host.tscKhz * 200), host: true },
        { op: 'rdmsr', vcpu: 0, msr: '0x6e0', host: true },
        { op: 'advance', ns: String(400 * MS) },
        { op: 'run', vcpu: 0 },
      ]),
    );
    expect(field(kernel.results[2], 'value')).toBe('0x40');
    expect(kernel.results[3].ok).toBe(true); // no #GP: ignored
    expect(value(kernel.results[4])).toBe(0);
    expect(value(kernel.results[6])).toBe(0);
    expect(irrHas(kernel.last[0], 0x40)).toBe(false);
  }, 60_000);

  it('a TDCR change rescales what remains of a running timer (update_target_expiration)', async () => {
    const { kernel } = await judged(() =>
      scenario({ vcpus: 1 }, [
        ENABLE,
        { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0x0' }, // divide by 2
        { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40' },
        { op: 'mmio_write', vcpu: 0, offset: '0x380', value: String(200 * MS) }, // 400 ms
        { op: 'advance', ns: String(100 * MS) },
        { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0x1' }, // divide by 4: 300 ms left become 600
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'advance', ns: String(350 * MS) }, // past the old expiry (400 ms), 250 ms before the new one
        { op: 'run', vcpu: 0 },
        { op: 'mmio_read', vcpu: 0, offset: '0x390' },
        { op: 'advance', ns: String(450 * MS) }, // 200 ms past the new expiry (700 ms)
        { op: 'run', vcpu: 0 },
      ]),
    );
    expect(value(kernel.results[6])).toBeGreaterThan(140 * MS); // about 600 ms / 4 ns
    expect(irrHas(kernel.last[0], 0x40)).toBe(true);
  }, 60_000);

  it('the comparison is not blind: a model dividing by 128 instead of 64, or counting TSC deadlines at 1 GHz, is caught', async () => {
    const sys = await openKvm();
    let host: KvmHostTraits;
    try {
      host = probeHost(sys);
    } finally {
      sys.close();
    }
    /** The model, but TDCR 0x9 (divide by 64) written as 0xa (by 128). */
    class WrongDivide extends ModelBackend {
      override applyStep(step: Step, i: number): StepResult {
        return super.applyStep(step.op === 'mmio_write' && step.offset === 0x3e0n && step.value === 0x9n ? { ...step, value: 0xan } : step, i);
      }
    }
    const divide = scenario({ vcpus: 1 }, [
      ENABLE,
      { op: 'mmio_write', vcpu: 0, offset: '0x3e0', value: '0x9' },
      { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x10040' },
      { op: 'mmio_write', vcpu: 0, offset: '0x380', value: String(15_625_000) }, // 1 s at divide 64, 2 s at 128
      { op: 'advance', ns: String(600 * MS) },
      { op: 'mmio_read', vcpu: 0, offset: '0x390' },
    ]);
    const deadline = scenario({ vcpus: 1 }, [
      ENABLE,
      { op: 'mmio_write', vcpu: 0, offset: '0x320', value: '0x40040' },
      { op: 'wrmsr', vcpu: 0, msr: '0x6e0', value: String(host.tscKhz * 400) }, // 400 ms at the kernel's rate
      { op: 'advance', ns: String(600 * MS) },
      { op: 'run', vcpu: 0 },
    ]);
    for (const [s, make, field] of [
      [divide, (sc: Scenario) => new WrongDivide(sc.vm, hostOverrides(host)), 'value (TMCCT)'],
      [deadline, (sc: Scenario) => new ModelBackend(sc.vm, { ...hostOverrides(host), tscKhz: 1_000_000 }), 'vCPU 0 0x220 APIC_IRR2'],
    ] as const) {
      const caught = await judged(() => s, make).then(
        () => null,
        (e: Error) => e.message,
      );
      expect(caught).toContain(field);
    }
  }, 60_000);

  it('the NMI watchdog: one tick of a real in-kernel PIT delivers through every LVT0 in NMI mode', async () => {
    const { kernel } = await judged(() =>
      scenario({ vcpus: 3 }, [
        { op: 'nmi_watchdog' }, // nobody in NMI mode: nothing
        { op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00', host: true },
        { op: 'wrmsr', vcpu: 1, msr: '0x1b', value: '0xfee00c00', host: true },
        { op: 'wrmsr', vcpu: 2, msr: '0x1b', value: '0xfee00c00', host: true },
        { op: 'wrmsr', vcpu: 0, msr: '0x80f', value: '0x1ff', host: true },
        { op: 'wrmsr', vcpu: 1, msr: '0x80f', value: '0x1ff', host: true },
        { op: 'wrmsr', vcpu: 2, msr: '0x80f', value: '0x1ff', host: true },
        { op: 'wrmsr', vcpu: 0, msr: '0x835', value: '0x400', host: true }, // LVT0: NMI
        { op: 'wrmsr', vcpu: 1, msr: '0x835', value: '0x10400', host: true }, // NMI, masked
        { op: 'nmi_watchdog' },
        { op: 'nmi_watchdog' }, // a second NMI waits too (one pending, one injecting at most: the model's process_nmi)
        { op: 'get_mp_state', vcpu: 0 },
      ]),
    );
    expect(kernel.last.map((o) => o.nmiPending)).toEqual([expect.any(Number), 0, 0]);
    expect(kernel.last[0].nmiPending).toBeGreaterThan(0);
  }, 60_000);
});
