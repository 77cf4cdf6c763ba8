/**
 * Command-line flags for the project's CLIs (the scenario runner, the fuzzer, the KVM probe),
 * parsed with node:util's parseArgs. Every problem becomes a UsageError with one line that names
 * the flag, so each CLI can print it on stderr and exit 2.
 *
 * parseArgs runs non-strict (so the message is ours, not Node's multi-line one) and the tokens are
 * checked here: an unknown flag, a value given to a boolean flag (`--trace=1`), a string flag
 * without a value or whose value looks like another flag (`--seconds --seed 7`: write
 * `--seconds=-1` for a value that starts with "-"). "-" alone is a positional (standard input)
 * and "--" ends the flags.
 */
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

export interface FlagSpec {
  type: 'boolean' | 'string';
  short?: string;
}

export type FlagValues<O extends Record<string, FlagSpec>> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string;
};

/** Parse `args` against `options`; throws UsageError (one line) on anything it does not know. */
export function parseFlags<const O extends Record<string, FlagSpec>>(
  args: readonly string[],
  options: O,
  { positionals: allowPositionals = true }: { positionals?: boolean } = {},
): { values: FlagValues<O>; positionals: string[] } {
  const { values, positionals, tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const spec = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (!spec) throw new UsageError(`unknown option ${t.rawName}`);
    if (spec.type === 'boolean' && t.value !== undefined) throw new UsageError(`option ${t.rawName} takes no value`);
    if (spec.type === 'string') {
      if (t.value === undefined || t.value === '') throw new UsageError(`option ${t.rawName} needs a value`);
      if (!t.inlineValue && t.value.startsWith('-')) {
        throw new UsageError(`option ${t.rawName} needs a value (got ${t.value}; write ${t.rawName}=${t.value} if that is the value)`);
      }
    }
  }
  if (!allowPositionals && positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  return { values: values as FlagValues<O>, positionals };
}
