import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseFlags } from './args';

const OPTIONS = { trace: { type: 'boolean' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
const error = (args: string[], positionals = true): string => {
  try {
    parseFlags(args, OPTIONS, { positionals });
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

describe('parseFlags (node:util parseArgs, one-line errors)', () => {
  it('reads flags, values and positionals; "-" is a positional, "--" ends the flags', () => {
    expect(parseFlags(['--trace', '--seed', '7', 'a.json'], OPTIONS)).toEqual({ values: { trace: true, seed: '7' }, positionals: ['a.json'] });
    expect(parseFlags(['--seed=-3', '-h', '-'], OPTIONS)).toEqual({ values: { seed: '-3', help: true }, positionals: ['-'] });
    expect(parseFlags(['--', '--trace'], OPTIONS)).toEqual({ values: {}, positionals: ['--trace'] });
  });

  it.each([
    [['--bogus'], 'unknown option --bogus'],
    [['-x', 'f'], 'unknown option -x'],
    [['--trace=yes'], 'option --trace takes no value'],
    [['--seed'], 'option --seed needs a value'],
    [['--seed='], 'option --seed needs a value'],
    [['--seed', '--trace'], 'option --seed needs a value (got --trace; write --seed=--trace if that is the value)'],
  ])('%j: %s', (args, message) => {
    expect(error(args)).toBe(message);
  });

  it('refuses positionals where a CLI takes none', () => {
    expect(error(['extra'], false)).toBe('unexpected argument extra');
  });
});

describe('npm run fuzz -- flags', () => {
  const fuzz = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/fuzz/cli.ts', ...args], { encoding: 'utf8' });

  it.each([
    [['--bogus'], /^unknown option --bogus; usage: npm run fuzz -- \[--seconds N\] \[--seed S\]$/],
    [['--seconds', 'soon'], /^--seconds soon is not a positive number of seconds; usage: /],
    [['--seed', '1.5'], /^--seed 1.5 is not an integer; usage: /],
  ])('%j: one line on stderr, exit 2', (args, message) => {
    const r = fuzz(args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
  });
});
