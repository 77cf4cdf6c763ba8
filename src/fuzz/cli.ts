/**
 * `npm run fuzz -- [--seconds N] [--seed S]`: run the fuzzer for a while (default 60 s) and
 * print what it did; a violation prints the shrunk scenario and exits 1.
 */
import fc from 'fast-check';
import { fuzzScenarioArb } from './arbitraries';
import { checkScenario } from './invariants';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg('--seconds', 60);
const seed = arg('--seed', Date.now() % 1_000_000);
const deadline = Date.now() + seconds * 1000;
let scenarios = 0;
let checks = 0;
let skipped = 0;
let steps = 0;
const result = fc.check(
  fc.property(fuzzScenarioArb(), (s) => {
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
