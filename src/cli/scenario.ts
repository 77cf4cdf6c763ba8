/**
 * The headless scenario runner (scenario-format.md, "Running"):
 *
 *   npm run -s scenario -- FILE.json      # or "-" for standard input
 *   npm run -s scenario -- --profiles     # behaviours that changed between KVM releases
 *   npm run -s scenario -- --kvm FILE     # replay on the real /dev/kvm instead of the model
 *   npm run -s scenario -- --compare FILE # replay on both; report every difference (exit 3), else exit 0
 *
 * Prints one apic-result/1 document and exits 0; invalid input or an unknown flag: one line on
 * stderr, exit 2. Flags are parsed with node:util parseArgs (./args.ts); "-" is standard input.
 * When the scenario carries expectations, the result gains `check: {expectations, failed, mismatches}`.
 */
import { readFileSync } from 'node:fs';
import { compile } from 'zod/mini';
import { BEHAVIOUR_CHANGES } from '../core/profile';
import { checkExpectations } from '../scenario/expect';
import { finalState, type ScenarioResult, type StepResult } from '../scenario/result';
import { replayScenario } from '../scenario/runner';
import { parseScenarioText, ScenarioInputError, STEP_SCHEMAS, type StepSchemaOf } from '../scenario/schema';
import { parseFlags, UsageError } from './args';
import { ResultText } from './resultText';
import { printPieces } from './stdout';

const USAGE = 'usage: npm run -s scenario -- [--trace | --kvm | --compare] FILE.json | - | --profiles';
/** The flags (node:util parseArgs); anything else is one line on stderr and exit 2. */
const OPTIONS = {
  trace: { type: 'boolean' },
  kvm: { type: 'boolean' },
  compare: { type: 'boolean' },
  profiles: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
/** --compare found differences between the model and the kernel (1 stays "a bug in the project"). */
const EXIT_DIFFERENCES = 3;

/**
 * The step schemas compiled by zod (z.compile), each on the first step of its op: a valid step
 * takes generated code, anything else falls back to the same parser, so every result and message
 * is the same (and a schema zod cannot compile is handed back as it is). Node may generate code,
 * the app's Content-Security-Policy forbids it; a 100,000-step file validates in a third of the time.
 */
const compiled = new Map<string, ReturnType<StepSchemaOf>>();
const compiledStepSchema: StepSchemaOf = (op) => {
  let s = compiled.get(op);
  if (!s) compiled.set(op, (s = compile(STEP_SCHEMAS[op])));
  return s;
};

async function main(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, OPTIONS);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}; ${USAGE}\n`);
    return 2;
  }
  const { values: opt, positionals: files } = flags;
  if (opt.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (opt.profiles) {
    process.stdout.write(JSON.stringify({ format: 'apic-profiles/1', changes: BEHAVIOUR_CHANGES }, null, 2) + '\n');
    return 0;
  }
  if (files.length !== 1) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(files[0] === '-' ? 0 : files[0], 'utf8');
  } catch (e) {
    process.stderr.write(`cannot read ${files[0]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 2;
  }
  try {
    const scenario = parseScenarioText(text, compiledStepSchema);
    if (opt.kvm || opt.compare) {
      const { kvmAvailability } = await import('../kvm/kvmIoctl');
      const avail = kvmAvailability();
      if (!avail.ok) {
        process.stderr.write(`real KVM is not available: ${avail.reason}\n`);
        return 2;
      }
      const kvm = await import('../kvm/kvmRun');
      if (opt.compare) {
        const { comparison, report } = await kvm.compareOnKvm(scenario);
        process.stdout.write(report);
        return comparison.differences.length === 0 ? 0 : EXIT_DIFFERENCES;
      }
      process.stdout.write(JSON.stringify(await kvm.runOnKvm(scenario), null, 2) + '\n');
      return 0;
    }
    const trace = opt.trace ?? false;
    const expects = scenario.steps.filter((s) => s.expect).length + (scenario.expectFinal ? 1 : 0);
    // Each result becomes text as it is made, unless the expectations read the results after the
    // replay. (A trace event words itself when read, from values fixed when it happened.) Nothing
    // is printed before the replay ends: an error leaves stdout empty.
    const keep = expects > 0;
    const out = new ResultText();
    const steps: StepResult[] = [];
    const vm = replayScenario(scenario, { trace }, (r) => (keep ? steps.push(r) : out.add(r)));
    const result: ScenarioResult = { format: 'apic-result/1', steps, final: finalState(vm) };
    if (expects > 0) {
      const mismatches = checkExpectations(scenario, result);
      result.check = { expectations: expects, failed: mismatches.length, mismatches };
    }
    for (const r of steps) out.add(r);
    printPieces([...out.pieces(result), '\n']);
    return 0;
  } catch (e) {
    if (e instanceof ScenarioInputError) {
      process.stderr.write(e.message + '\n');
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`internal error (a bug in the project): ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
