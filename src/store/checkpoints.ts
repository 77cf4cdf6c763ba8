/**
 * Snapshots of the VM at steps about `interval` apart, so that any step is reached by replaying at
 * most about an interval of steps from the snapshot before it. Snapshots share the records of the
 * vCPUs that did not change between them (core/vmSnapshot.ts), so their memory grows with what
 * changed. It is bounded: over the budget, the interval doubles and the snapshots closer than that
 * to the one before them go (step 0, the VM as created, always stays).
 *
 * Snapshots are taken when a caller says (take / reached): in the app, in idle time, so that a
 * click never waits for one; headless, as each interval is reached.
 */
import type { Vm } from '../core/vm';
import { RECORD_BYTES, restoreSnapshot, takeSnapshot, VM_BYTES_PER_VCPU, type VmSnapshot } from '../core/vmSnapshot';

/** Memory the snapshots may take. */
const BUDGET_BYTES = 24 * 2 ** 20;
const FIRST_INTERVAL = 32;

export class Checkpoints {
  private readonly saved = new Map<number, VmSnapshot>();
  /** How many kept snapshots hold each vCPU record, and what they all take. */
  private readonly holders = new Map<unknown, number>();
  private total = 0;
  /** Steps between snapshots. */
  interval: number;
  /** The step of the last snapshot at or before the VM's step (the step the caller is at). */
  private below = 0;

  /** `vm`: the timeline's VM (always the same object), at step 0; copied when its first step is about to change it. */
  constructor(private readonly vm: Vm, firstInterval = FIRST_INTERVAL) {
    this.interval = firstInterval;
  }

  /**
   * The VM at step 0 is about to change: take its snapshot now (not when it was created, so that
   * showing a new VM waits for nothing that only travelling back to step 0 needs).
   */
  startChanging(): void {
    if (!this.saved.has(0)) this.keep(0, takeSnapshot(this.vm));
  }

  /** Is step 0 still to be taken (the VM not changed yet)? */
  get startPending(): boolean {
    return !this.saved.has(0);
  }

  /**
   * A log of `steps` steps is coming: widen the interval now rather than take snapshots and then
   * drop them, counting on each step changing one more vCPU (a step that touches all of them is rarer).
   */
  plan(steps: number): void {
    const n = this.vm.vcpus.length;
    const perSnapshot = () => n * VM_BYTES_PER_VCPU + Math.min(n, this.interval) * RECORD_BYTES;
    while ((Math.floor(steps / this.interval) + 1) * perSnapshot() > BUDGET_BYTES) this.interval *= 2;
  }

  /** Is a snapshot of the VM after `step` steps due (the last one an interval or more back)? */
  due(step: number): boolean {
    return step - this.below >= this.interval;
  }

  /** Take the snapshot of the VM after `step` steps (the timeline's VM is there now). */
  take(step: number): void {
    this.keep(step, takeSnapshot(this.vm, this.saved.get(this.below)));
    this.below = step;
    while (this.total > BUDGET_BYTES && this.saved.size > 2) {
      this.interval *= 2;
      let last = 0;
      for (const s of this.steps()) {
        if (s === 0 || s - last >= this.interval) last = s;
        else this.drop(s);
      }
      this.below = this.lastAtOrBefore(step);
    }
  }

  /** The VM is after `step` steps: take its snapshot if one is due. */
  reached(step: number): void {
    if (this.due(step)) this.take(step);
  }

  /** The step of the last snapshot at or before `step`: where restore(step) goes back to. */
  stepBefore(step: number): number {
    this.startChanging();
    return this.lastAtOrBefore(step);
  }

  /**
   * Put the VM back as the last snapshot at or before `step` has it; returns that snapshot's step.
   * `changed(at)` names the vCPUs that may differ between it (at step `at`) and the VM now.
   */
  restore(step: number, changed?: (at: number) => ReadonlySet<number>): number {
    this.below = this.stepBefore(step);
    restoreSnapshot(this.vm, this.saved.get(this.below)!, changed?.(this.below));
    return this.below;
  }

  /** The log was cut after `step`: snapshots past it describe steps that are gone. */
  dropAfter(step: number): void {
    for (const s of [...this.saved.keys()]) if (s > step) this.drop(s);
    this.below = this.lastAtOrBefore(step);
  }

  /** Steps that have a snapshot, in order (for tests and the benchmark). */
  steps(): number[] {
    return [...this.saved.keys()].sort((a, b) => a - b);
  }

  /** What the kept snapshots take: each one's VM-wide fields, and every vCPU record once. */
  bytes(): number {
    return this.total;
  }

  private keep(step: number, snapshot: VmSnapshot): void {
    this.saved.set(step, snapshot);
    this.total += snapshot.bytes;
    for (const r of snapshot.records.values()) {
      const n = this.holders.get(r) ?? 0;
      if (n === 0) this.total += RECORD_BYTES;
      this.holders.set(r, n + 1);
    }
  }

  private drop(step: number): void {
    const snapshot = this.saved.get(step)!;
    this.saved.delete(step);
    this.total -= snapshot.bytes;
    for (const r of snapshot.records.values()) {
      const n = this.holders.get(r)! - 1;
      if (n === 0) {
        this.holders.delete(r);
        this.total -= RECORD_BYTES;
      } else this.holders.set(r, n);
    }
  }

  private lastAtOrBefore(step: number): number {
    let best = 0;
    for (const s of this.saved.keys()) if (s <= step && s > best) best = s;
    return best;
  }
}
