/**
 * `npm run capture` as a user meets it: its one-line refusals, and, where this machine allows
 * (root, /dev/kvm, trace-cmd), a real capture that leaves no tracefs instance behind.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { kvmAvailability } from '../kvm/kvmIoctl';
import { overwrittenEvents, threadIds, TRACEFS, TraceInstance } from './tracefs';

const repo = join(import.meta.dirname, '..', '..');
const FIXTURE = 'src/scenario/fixtures/kvm-create-vcpu-eexist-rebuilds-map.json';
const tmp = mkdtempSync(join(tmpdir(), 'capture-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function capture(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['scripts/capture.mjs', ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stderr: r.stderr };
}
const instances = () => (existsSync(join(TRACEFS, 'instances')) ? readdirSync(join(TRACEFS, 'instances')).filter((n) => n.startsWith('lapic_capture_')) : []);

const isRoot = process.getuid?.() === 0;
const kvm = kvmAvailability().ok;
const traceCmd = !spawnSync('trace-cmd', ['--version'], { stdio: 'ignore' }).error;

describe('the trace buffer', () => {
  it('counts the events a full ring buffer overwrote, from the trace file\'s header', () => {
    expect(overwrittenEvents('# tracer: nop\n#\n# entries-in-buffer/entries-written: 55168/60004   #P:2\n')).toBe(4836);
    expect(overwrittenEvents('# entries-in-buffer/entries-written: 9/9   #P:2\n')).toBe(0);
  });
});

describe('npm run capture: refusals, one line and exit 2', () => {
  it('a usage error', () => {
    const r = capture([FIXTURE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('need one scenario file and --out DIR; usage: npm run capture -- SCENARIO.json --out DIR\n');
  });

  it('a scenario the kernel cannot run, before any tracing', () => {
    // Nested VMX: refused by the KVM backend with or without guest code.
    const r = capture(['src/scenario/fixtures/kut-vmx-init-signal.json', '--out', join(tmp, 'refused')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^capture: step \d+ \(\w+\): not supported on real KVM: .*\n$/);
    expect(existsSync(join(tmp, 'refused'))).toBe(false);
  });

  it('no /dev/kvm', () => {
    const r = capture([FIXTURE, '--out', join(tmp, 'nokvm')], { KVM_DEVICE: '/nonexistent/kvm' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^capture: real KVM is not available: [^\n]+\n$/);
  });

  it.skipIf(!kvm)('no trace-cmd: says how to install it', () => {
    const r = capture([FIXTURE, '--out', join(tmp, 'notool')], { PATH: '/nonexistent' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('capture: trace-cmd is not installed; install it with: apt-get install -y trace-cmd\n');
  });

  it('a directory that already holds files', () => {
    const dir = join(tmp, 'full');
    mkdirSync(dir);
    writeFileSync(join(dir, 'old.txt'), '');
    const r = capture([FIXTURE, '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`capture: ${dir} is not empty: capture into a new or empty directory\n`);
  });
});

describe.skipIf(!isRoot)('set_event_pid and the threads of a Node process (needs root)', () => {
  it('existing threads are followed when listed; a Worker started later is added by event-fork', async () => {
    const instance = new TraceInstance(`lapic_capture_test_${process.pid}`);
    try {
      const before = threadIds();
      instance.followTasks(before);
      expect(instance.followedTasks().sort((a, b) => a - b)).toEqual(before);
      const worker = new Worker('setTimeout(() => {}, 1000)', { eval: true });
      await new Promise((resolve) => worker.on('online', resolve));
      const added = threadIds().filter((t) => !before.includes(t));
      expect(added.length).toBeGreaterThan(0);
      expect(instance.followedTasks()).toEqual(expect.arrayContaining(added));
      await worker.terminate();
    } finally {
      instance.remove();
    }
    expect(existsSync(instance.dir)).toBe(false);
  });
});

describe.skipIf(!(isRoot && kvm && traceCmd))('a real capture (needs root, /dev/kvm, trace-cmd)', () => {
  it('saves the trace, reports, result, images and manifest, and removes its instance', () => {
    const dir = join(tmp, 'real');
    const r = capture([FIXTURE, '--out', dir]);
    expect(r.stderr).toBe(`capture: saved in ${dir}\n`);
    expect(r.code).toBe(0);
    const files = readdirSync(dir);
    for (const f of ['trace.txt', 'trace.dat', 'report.txt', 'report-l.txt', 'result.json', 'capture.json']) expect(files).toContain(f);
    for (const v of [0, 1, 256]) for (const t of ['bin', 'hexdump-C.txt', 'hexdump-Cv.txt', 'od-Ax-tx1.txt', 'od-Ax-tx1-v.txt']) expect(files).toContain(`lapic-${v}.${t}`);
    expect(readFileSync(join(dir, 'trace.txt'), 'utf8')).toMatch(/kvm_msi_set_irq: dst 0 vec 0 \(NMI\|physical\|edge\)/);
    expect(readFileSync(join(dir, 'report.txt'), 'utf8')).toMatch(/^lapic_capture_\d+: .*kvm_apic_accept_irq: +apicid 100 vec 0 \(NMI\|edge\)$/m);
    const manifest = JSON.parse(readFileSync(join(dir, 'capture.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'apic-capture/1', scenario: { file: FIXTURE }, tracefs: { untracedTasks: [] } });
    expect(instances()).not.toContain(manifest.tracefs.instance);
  });
});
