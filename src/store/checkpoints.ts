/**
 * Copies of the VM at steps about `interval` apart, so that any step is reached by replaying at
 * most about an interval of steps from the copy before it. Their memory is bounded: when there are
 * more than the budget allows for this VM's size, the interval doubles and the copies closer than
 * that to the one before them go (step 0, the VM as created, always stays).
 *
 * Copies are taken when a caller says (take / reached): in the app, in idle time, so that a click
 * never waits for one; headless, as each interval is reached.
 */
import { cloneVm, restoreInto } from '../core/cloneVm';
import type { Vm } from '../core/vm';

/** Memory the copies may take, and what one vCPU's state takes in a copy (measured: about 2 kB). */
const BUDGET_BYTES = 24 * 2 ** 20;
const BYTES_PER_VCPU = 2048;
const FIRST_INTERVAL = 32;

export class Checkpoints {
  private readonly saved = new Map<number, Vm>();
  /** Steps between copies. */
  interval: number;
  /** The step of the last copy at or before the VM's step (the step the caller is at). */
  private below = 0;

  /** `start`: the VM at step 0, copied when its first step is about to change it (startChanging). */
  constructor(private start: Vm | null, firstInterval = FIRST_INTERVAL) {
    this.interval = firstInterval;
  }

  /**
   * The VM at step 0 is about to change: copy it now (not when it was created, so that showing a
   * new VM is not slowed down by a copy that only travelling back to step 0 needs).
   */
  startChanging(): void {
    if (this.start) this.saved.set(0, cloneVm(this.start));
    this.start = null;
  }

  /** Is step 0 still to be copied (its VM not changed yet)? */
  get startPending(): boolean {
    return this.start !== null;
  }

  /** How many copies fit the budget for a VM this size (at least 3: the start and two more). */
  private capacity(vm: Vm): number {
    return Math.max(3, Math.floor(BUDGET_BYTES / (Math.max(1, vm.vcpus.length) * BYTES_PER_VCPU)));
  }

  /** A log of `steps` steps is coming: widen the interval now rather than copy and then drop copies. */
  plan(steps: number, vm: Vm): void {
    while (Math.floor(steps / this.interval) + 1 > this.capacity(vm)) this.interval *= 2;
  }

  /** Is a copy of the VM after `step` steps due (the last copy an interval or more back)? */
  due(step: number): boolean {
    return step - this.below >= this.interval;
  }

  /** Keep a copy of `vm`, the VM after `step` steps. */
  take(step: number, vm: Vm): void {
    this.saved.set(step, cloneVm(vm));
    this.below = step;
    while (this.saved.size > this.capacity(vm)) {
      this.interval *= 2;
      let last = 0;
      for (const s of this.steps()) {
        if (s === 0 || s - last >= this.interval) last = s;
        else this.saved.delete(s);
      }
      this.below = this.lastAtOrBefore(step);
    }
  }

  /** The VM after `step` steps: copied if a copy is due. */
  reached(step: number, vm: Vm): void {
    if (this.due(step)) this.take(step, vm);
  }

  /**
   * A VM to go on from, as the last checkpoint at or before `step` has it, and that step: `current`
   * itself restored in place when it has the checkpoint's vCPUs, else a fresh copy of the checkpoint.
   */
  before(step: number, current: Vm): { step: number; vm: Vm } {
    this.startChanging();
    this.below = this.lastAtOrBefore(step);
    const saved = this.saved.get(this.below)!;
    return { step: this.below, vm: restoreInto(current, saved) ? current : cloneVm(saved) };
  }

  /** The log was cut after `step`: copies past it describe steps that are gone. */
  dropAfter(step: number): void {
    for (const s of this.saved.keys()) if (s > step) this.saved.delete(s);
    this.below = this.lastAtOrBefore(step);
  }

  /** Steps that have a copy, in order (for tests and the benchmark). */
  steps(): number[] {
    return [...this.saved.keys()].sort((a, b) => a - b);
  }

  private lastAtOrBefore(step: number): number {
    let best = 0;
    for (const s of this.saved.keys()) if (s <= step && s > best) best = s;
    return best;
  }
}
