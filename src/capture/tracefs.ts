/**
 * A private tracefs instance that records KVM's APIC tracepoints of this process only. Node only,
 * needs root.
 *
 * Why a private instance: it has its own buffer, events and pid filter, so a capture neither
 * disturbs nor sees anybody else's tracing, and removing it leaves the system as it was.
 *
 * Why every thread id: `set_event_pid` filters by kernel task id, and a Node process is several
 * tasks (the main thread, V8 and libuv threads, worker_threads). Measured on Linux 6.18: writing
 * process.pid covers the main thread only; `options/event-fork` then adds tasks created *later* by
 * a traced task (a Worker started afterwards appeared in set_event_pid), but never threads that
 * already exist. So we write every tid of /proc/self/task and turn event-fork on.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const TRACEFS = '/sys/kernel/tracing';

/** The events a capture records (arch/x86/kvm/trace.h), all under events/kvm/. */
export const KVM_EVENTS = [
  'kvm_apic', 'kvm_msr', 'kvm_apic_ipi', 'kvm_apic_accept_irq', 'kvm_msi_set_irq', 'kvm_eoi',
  'kvm_apicv_inhibit_changed', 'kvm_vcpu_wakeup',
] as const;

/** Thread ids of this process, numerically sorted. */
export function threadIds(): number[] {
  return readdirSync('/proc/self/task').map(Number).sort((a, b) => a - b);
}

/** Mount tracefs at TRACEFS unless it is already there (its `instances` directory shows it). */
export function mountTracefs(): void {
  if (existsSync(join(TRACEFS, 'instances'))) return;
  execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Events the ring buffer overwrote, from the `trace` file's header
 * ("# entries-in-buffer/entries-written: 55168/60004"): a long scenario fills the instance's buffer
 * (about 1.4 MB per CPU) and the oldest events, which the replay needs most, are lost.
 */
export function overwrittenEvents(trace: string): number {
  const m = /entries-in-buffer\/entries-written: (\d+)\/(\d+)/.exec(trace);
  return m ? Number(m[2]) - Number(m[1]) : 0;
}

export class TraceInstance {
  readonly dir: string;
  private removed = false;

  /** Create instances/<name> (tracing is on in a new instance, with no event enabled yet). */
  constructor(readonly name: string) {
    mountTracefs();
    this.dir = join(TRACEFS, 'instances', name);
    mkdirSync(this.dir);
  }

  private write(file: string, text: string): void {
    writeFileSync(join(this.dir, file), text);
  }

  /** Keep only events of these tasks and of tasks they create from now on (see the module comment). */
  followTasks(tids: number[]): void {
    this.write('options/event-fork', '1');
    // One write: opening set_event_pid for writing without O_APPEND clears the list.
    this.write('set_event_pid', tids.join(' '));
  }

  /** The task ids the pid filter holds now (event-fork adds to it). */
  followedTasks(): number[] {
    return readFileSync(join(this.dir, 'set_event_pid'), 'utf8').split(/\s+/).filter(Boolean).map(Number);
  }

  /** Enable each event this kernel has; returns the ones it lacks (older kernels miss some). */
  enableEvents(events: readonly string[]): string[] {
    const missing = events.filter((e) => !existsSync(join(this.dir, 'events/kvm', e)));
    for (const e of events) if (!missing.includes(e)) this.write(`events/kvm/${e}/enable`, '1');
    return missing;
  }

  /** Stop recording, so that nothing after the scenario (tools we spawn) lands in the buffer. */
  stop(): void {
    this.write('tracing_on', '0');
  }

  /** The instance's `trace` file: tracefs's text format; reading it does not consume the buffer. */
  readTrace(): string {
    return readFileSync(join(this.dir, 'trace'), 'utf8');
  }

  /**
   * Remove the instance; safe to call twice, and when it is already gone. Synchronous, so that a
   * signal handler or a `finally` can rely on it having happened.
   */
  remove(): void {
    if (this.removed) return;
    try {
      rmdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.removed = true;
  }
}
