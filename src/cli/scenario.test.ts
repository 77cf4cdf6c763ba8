import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (args: string[], input?: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/scenario.ts', ...args], { input, encoding: 'utf8' });

describe('npm run scenario (the headless runner, scenario-format.md "Running")', () => {
  it('prints one apic-result/1 document for a scenario on stdin and exits 0', () => {
    const r = run(['-'], JSON.stringify({ format: 'apic-scenario/1', vm: { vcpus: 2 }, steps: [{ op: 'rdmsr', vcpu: 1, msr: '0x1b', host: true }] }));
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.format).toBe('apic-result/1');
    expect(out.steps[0]).toEqual({ i: 0, op: 'rdmsr', ok: true, value: '0xfee00800' });
    expect(out.final.vcpus.map((v: { vcpu: number }) => v.vcpu)).toEqual([0, 1]);
  });

  it('invalid input: one line on stderr naming step and field, nothing on stdout, exit 2', () => {
    const r = run(['-'], JSON.stringify({ format: 'apic-scenario/1', steps: [{ op: 'wrmsr', vcpu: 0, msr: 0x1b, value: true }] }));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(['step 0 (wrmsr): value true is not a number']);
  });

  it('a missing file is reported in one line with exit 2', () => {
    const r = run(['does-not-exist.json']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('cannot read does-not-exist.json: ENOENT');
  });

  it('an unknown flag: one line on stderr naming it, nothing on stdout, exit 2', () => {
    for (const args of [['--bogus', '-'], ['-x', '-'], ['--profiles', '--bogus']]) {
      const r = run(args, '{}');
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), args.join(' ')).toEqual([`unknown option ${args.find((a) => a !== '-' && a !== '--profiles')}; usage: npm run -s scenario -- [--trace | --kvm | --compare] FILE.json | - | --profiles`]);
    }
  });

  it('a value given to a flag that takes none, or no file: one line on stderr, exit 2', () => {
    const bad = run(['--trace=1', '-'], '{}');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^option --trace takes no value; usage: /);
    const none = run([]);
    expect(none.status).toBe(2);
    expect(none.stderr.trim()).toMatch(/^usage: /);
  });

  it('--trace adds each step\'s trace events; "--" ends the flags', () => {
    const doc = JSON.stringify({ format: 'apic-scenario/1', steps: [{ op: 'wrmsr', vcpu: 0, msr: '0x1b', value: '0xfee00d00' }] });
    const r = run(['--trace', '--', '-'], doc);
    expect(r.status).toBe(0);
    expect(Array.isArray(JSON.parse(r.stdout).steps[0].trace)).toBe(true);
  });

  it('--profiles lists each behaviour change with its release and commit', () => {
    const r = run(['--profiles']);
    const out = JSON.parse(r.stdout);
    expect(out.changes.find((c: { id: string }) => c.id === 'x2apicIcr64')).toMatchObject({ since: '5.18', commit: 'a57a31684d7b' });
  });
});

describe('npm run scenario -- --kvm / --compare', () => {
  const doc = JSON.stringify({ format: 'apic-scenario/1', vm: { vcpus: 2 }, steps: [{ op: 'get_lapic', vcpu: 1 }] });

  it('without a usable /dev/kvm says so in one line and exits 2', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/scenario.ts', '--kvm', '-'], {
      input: doc,
      encoding: 'utf8',
      env: { ...process.env, KVM_DEVICE: '/nonexistent/kvm' },
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('real KVM is not available: /nonexistent/kvm missing (no KVM module, or not exposed to this container)');
  });
});
