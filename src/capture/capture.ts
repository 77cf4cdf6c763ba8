/**
 * `npm run capture -- SCENARIO.json --out DIR`: replay a scenario on the real /dev/kvm (as
 * `npm run scenario -- --kvm` does) with KVM's APIC tracepoints recorded in a private tracefs
 * instance, and save into DIR (which must be empty or new):
 *
 *   trace.txt            the instance's tracefs `trace` file
 *   trace.dat            `trace-cmd extract -B INSTANCE -o trace.dat`
 *   report.txt           `trace-cmd report -i trace.dat`
 *   report-l.txt         `trace-cmd report -l -i trace.dat` (latency format)
 *   result.json          the apic-result/1 that `--kvm` prints
 *   lapic-<vcpu>.bin     each vCPU's final KVM_GET_LAPIC image, and its dumps (lapicDumps.ts)
 *   capture.json         a manifest: kernel, date, command, scenario, tool versions, traced tasks
 *
 * Needs root, /dev/kvm and trace-cmd. Exit 0 on success; 2 with one line on stderr for a usage
 * error, a scenario the kernel cannot run, a non-empty DIR, a missing tool or no KVM/tracefs; 1
 * for a tool that failed (one line) or a bug. The tracefs instance is removed whatever happens:
 * in a finally, and by a handler for SIGINT/SIGTERM/SIGHUP (without it, a signal would kill the
 * process with the instance left behind). The scenario itself runs as synchronous ioctls, so a
 * signal that arrives then is only seen after the capture has finished and removed the instance.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseFlags, UsageError } from '../cli/args';
import { kvmRefusal } from '../kvm/kvmBackend';
import { kvmAvailability } from '../kvm/kvmIoctl';
import { parseScenarioText, ScenarioInputError, type Scenario } from '../scenario/schema';
import { probeKvm, runOnKvmWithImages } from '../kvm/kvmRun';
import { writeLapicDumps } from './lapicDumps';
import { missingTool, run, ToolFailed, toolVersion } from './tools';
import { KVM_EVENTS, overwrittenEvents, threadIds, TraceInstance } from './tracefs';

const USAGE = 'usage: npm run capture -- SCENARIO.json --out DIR';
const OPTIONS = { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** A reason to stop before capturing anything: one line on stderr, exit 2. */
class CannotCapture extends Error {}

function readScenario(file: string): { scenario: Scenario; text: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CannotCapture(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const scenario = parseScenarioText(text);
  // Refuse before touching tracefs: runOnKvm would refuse the same step only mid-run.
  scenario.steps.forEach((s, i) => {
    const why = kvmRefusal(s);
    if (why) throw new CannotCapture(`step ${i} (${s.op}): not supported on real KVM: ${why}`);
  });
  return { scenario, text };
}

/** A DIR that holds files is refused: a capture never mixes with an older one. */
function checkOutDir(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new CannotCapture(`${dir} is not empty: capture into a new or empty directory`);
}

function openInstance(): TraceInstance {
  try {
    return new TraceInstance(`lapic_capture_${process.pid}`);
  } catch (e) {
    throw new CannotCapture(`cannot create a tracefs instance (tracing needs root and tracefs): ${(e as Error).message.split('\n')[0]}`);
  }
}

/** How this capture was started, for the manifest: through npm, or node on the script. */
function invokedAs(): string[] {
  return process.env.npm_lifecycle_event === 'capture' ? ['npm', 'run', 'capture', '--'] : ['node', relative(process.cwd(), process.argv[1])];
}

/** Remove `instance` if a signal ends the process; returns the function that stops listening. */
function removeOnSignal(instance: TraceInstance): () => void {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const handler = (sig: NodeJS.Signals) => {
    instance.remove();
    process.stderr.write(`capture: ${sig}: tracefs instance ${instance.name} removed\n`);
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[sig]);
  };
  for (const s of signals) process.on(s, handler);
  return () => signals.forEach((s) => process.off(s, handler));
}

async function capture(file: string, dir: string, argv: string[]): Promise<void> {
  const { scenario, text } = readScenario(file);
  checkOutDir(dir);
  const avail = kvmAvailability();
  if (!avail.ok) throw new CannotCapture(`real KVM is not available: ${avail.reason}`);
  const missing = missingTool();
  if (missing) throw new CannotCapture(missing);
  mkdirSync(dir, { recursive: true });

  const host = await probeKvm(); // before tracing: the probe's own VM stays out of the trace
  const instance = openInstance();
  const stopListening = removeOnSignal(instance);
  try {
    instance.followTasks(threadIds());
    const missingEvents = instance.enableEvents(KVM_EVENTS);
    if (missingEvents.length) process.stderr.write(`capture: warning: this kernel has no ${missingEvents.join(', ')} tracepoint\n`);
    const { result, images } = await runOnKvmWithImages(scenario, host);
    instance.stop();
    // Every thread of this process must have been traced; event-fork adds threads created later.
    const followed = instance.followedTasks();
    const untraced = threadIds().filter((t) => !followed.includes(t));
    if (untraced.length) process.stderr.write(`capture: warning: threads ${untraced.join(', ')} were not in set_event_pid; their events are missing\n`);

    // `trace` first: trace-cmd extract consumes the buffer (trace_pipe_raw).
    const trace = instance.readTrace();
    writeFileSync(join(dir, 'trace.txt'), trace);
    const overwritten = overwrittenEvents(trace);
    if (overwritten) process.stderr.write(`capture: warning: the trace buffer overflowed and lost the first ${overwritten} events; capture a shorter scenario\n`);
    run('trace-cmd', ['extract', '-B', instance.name, '-o', join(dir, 'trace.dat')]);
    run('trace-cmd', ['report', '-i', join(dir, 'trace.dat')], join(dir, 'report.txt'));
    run('trace-cmd', ['report', '-l', '-i', join(dir, 'trace.dat')], join(dir, 'report-l.txt'));
    writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
    for (const { vcpu, image } of images) writeLapicDumps(dir, vcpu, image);

    const manifest = {
      format: 'apic-capture/1',
      kernel: release(),
      date: new Date().toISOString(),
      command: [...invokedAs(), ...argv].join(' '),
      scenario: { file: relative(process.cwd(), resolve(file)), sha256: createHash('sha256').update(text).digest('hex') },
      tools: { node: process.version, 'trace-cmd': toolVersion('trace-cmd'), hexdump: toolVersion('hexdump'), od: toolVersion('od') },
      tracefs: { instance: instance.name, events: KVM_EVENTS.filter((e) => !missingEvents.includes(e)), pid: process.pid, tasks: followed, untracedTasks: untraced, overwrittenEvents: overwritten },
    };
    writeFileSync(join(dir, 'capture.json'), JSON.stringify(manifest, null, 2) + '\n');
  } finally {
    stopListening();
    instance.remove();
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseFlags(argv, OPTIONS);
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if (positionals.length !== 1 || !values.out) throw new UsageError('need one scenario file and --out DIR');
    await capture(positionals[0], values.out, argv);
    process.stderr.write(`capture: saved in ${values.out}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) process.stderr.write(`${e.message}; ${USAGE}\n`);
    else if (e instanceof CannotCapture || e instanceof ScenarioInputError) process.stderr.write(`capture: ${e.message}\n`);
    else if (e instanceof ToolFailed) {
      process.stderr.write(`capture: ${e.message}\n`);
      return 1;
    } else throw e;
    return 2;
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
