/**
 * `npm run fuzz -- [--seconds N] [--seed S]`: run the fuzzer for a while (default 60 s) and
 * print what it did; a violation prints the shrunk scenario and exits 1. Flags are parsed with
 * node:util parseArgs (src/cli/args.ts); an unknown flag or a bad value: one line on stderr, exit 2.
 */
import fc from 'fast-check';
import { parseFlags, UsageError } from '../cli/args';
import { fuzzScenarioWithTimersArb } from './arbitraries';
import { checkScenario } from './invariants';

const USAGE = 'usage: npm run fuzz -- [--seconds N] [--seed S]';

/** The flags, or null after printing one line on stderr (exit code 2). */
function options(argv: string[]): { seconds: number; seed: number } | null {
  try {
    const { values } = parseFlags(argv, { seconds: { type: 'string' }, seed: { type: 'string' } }, { positionals: false });
    const seconds = values.seconds === undefined ? 60 : Number(values.seconds);
    if (!(Number.isFinite(seconds) && seconds > 0)) throw new UsageError(`--seconds ${values.seconds} is not a positive number of seconds`);
    const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
    if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed ${values.seed} is not an integer`);
    return { seconds, seed };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}; ${USAGE}\n`);
    return null;
  }
}

const opts = options(process.argv.slice(2));
if (!opts) process.exit(2);
const { seconds, seed } = opts;
const deadline = Date.now() + seconds * 1000;
let scenarios = 0;
let checks = 0;
let skipped = 0;
let steps = 0;
const result = fc.check(
  fc.property(fuzzScenarioWithTimersArb(), (s) => {
    const r = checkScenario(s, scenarios++);
    checks += r.checks;
    steps += s.steps.length;
    if (r.skipped) skipped++;
    if (r.violations.length) throw new Error(r.violations.join('\n'));
  }),
  { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false },
);
void deadline;
console.log(`fuzz: seed ${seed}, ${scenarios} scenarios (${skipped} VMs KVM refuses to build), ${steps} steps, ${checks} invariant checks, ${result.failed ? 1 : 0} failures`);
if (result.failed) {
  console.log(String((result.errorInstance as Error | undefined)?.message ?? ''));
  console.log(fc.defaultReportMessage(result));
  process.exitCode = 1;
}
