/**
 * The VM at the store's cursor, the view of it that the UI reads, and the way to any other step of
 * the log. A step updates the view from its change set (nextView); time travel restores the
 * snapshot before the target in place, replays at most about an interval of steps, and updates the
 * view for the vCPUs the steps in between touched. Work grows with what changed, not with the VM
 * or the log.
 */
import { traceEvents, type TraceEvent } from '../core/types';
import type { Vm } from '../core/vm';
import { applyStep, createVm } from '../scenario/runner';
import type { StepResult } from '../scenario/result';
import type { Step, VmInput } from '../scenario/schema';
import { Checkpoints } from './checkpoints';
import { SharedParts } from './sharedParts';
import { TouchedLog } from './touchedLog';
import { fullView, nextView, NO_CHANGES, touchedBy, type ChangeSet, type StateView } from './stateView';

const NO_TRACE = Object.freeze([]) as unknown as TraceEvent[];

export class Timeline {
  private readonly vm: Vm;
  private readonly checkpoints: Checkpoints;
  /** What each applied step touched (a superset of what it changed): what time travel across it updates. */
  private readonly touched = new TouchedLog();
  /** The parts of results that repeat, kept once for the whole log. */
  private readonly parts = new SharedParts();
  /** How many log steps the VM has applied. */
  cursor = 0;
  view: StateView;
  /** What the step at the cursor changed (nothing at step 0). */
  changes: ChangeSet = NO_CHANGES;

  /**
   * A new VM; throws ScenarioInputError if `vmInput` cannot be created. `interval`: the first
   * checkpoint interval. `deferCheckpoints`: steps take no snapshot; the caller calls checkpoint()
   * when checkpointDue, in idle time (loading a log still takes them as it goes).
   */
  constructor(vmInput: VmInput, interval?: number, private readonly deferCheckpoints = false) {
    this.vm = createVm(vmInput);
    this.vm.takeTouched();
    this.vm.takeTrace();
    this.view = fullView(this.vm);
    this.checkpoints = new Checkpoints(this.vm, interval);
  }

  /** The VM at the cursor (read it, do not change it). */
  get current(): Vm {
    return this.vm;
  }

  /** A checkpoint of the current step is due (deferred checkpoints: see checkpoint()). */
  get checkpointDue(): boolean {
    return this.checkpoints.startPending || this.checkpoints.due(this.cursor);
  }

  /** Take the checkpoint that is due, if one is: the VM at step 0 before anything changes it, or the current step. */
  checkpoint(): void {
    if (this.checkpoints.startPending) this.checkpoints.startChanging();
    else if (this.checkpoints.due(this.cursor)) this.checkpoints.take(this.cursor);
  }

  /** What the checkpoints take now (about; bytes). */
  get checkpointBytes(): number {
    return this.checkpoints.bytes();
  }

  /** Steps between checkpoints now: about the most a travel replays. */
  get interval(): number {
    return this.checkpoints.interval;
  }

  /**
   * Apply `step` at the cursor, forgetting any steps after it (the caller drops them from its log).
   * Throws ScenarioInputError before changing anything when the step is invalid.
   */
  apply(step: Step): StepResult {
    if (this.cursor === 0) this.checkpoints.startChanging();
    const { result, touched } = this.record(step);
    this.checkpoints.dropAfter(this.cursor);
    ({ view: this.view, changes: this.changes } = nextView(this.view, this.vm, touched));
    this.stepped();
    return result;
  }

  /**
   * Apply a whole log from the cursor without building views on the way (loading a session), then
   * show the end. Returns each step's result; throws at the first invalid step.
   */
  load(steps: readonly Step[]): StepResult[] {
    if (this.cursor === 0 && steps.length) this.checkpoints.startChanging();
    this.checkpoints.plan(this.cursor + steps.length);
    const out = steps.map((step) => {
      const { result } = this.record(step);
      this.checkpoints.reached(++this.cursor);
      return result;
    });
    this.view = fullView(this.vm);
    this.changes = NO_CHANGES;
    return out;
  }

  /** Show the state after `n` of the steps this timeline applied (`steps`: those steps). */
  travel(n: number, steps: readonly { step: Step }[]): void {
    if (n === this.cursor) return;
    const last = Math.max(0, n - 1);
    const from = this.cursor;
    // Go forward from here when that is shorter than from the checkpoint before the target.
    if (last < this.cursor || last - this.cursor >= this.checkpoints.interval) {
      // Only the vCPUs touched between the snapshot and here can differ from it.
      this.cursor = this.checkpoints.restore(last, (at) => this.touchedBetween(at, from));
    }
    while (this.cursor < last) this.replay(steps[this.cursor].step);
    // The view before the step at the cursor: only vCPUs touched between the shown step and here can differ.
    const candidates = this.touchedBetween(from, last);
    this.view = this.vm.vcpus.length === this.view.snapshot.vcpus.length ? nextView(this.view, this.vm, candidates).view : fullView(this.vm);
    this.changes = NO_CHANGES;
    if (n > 0) {
      this.replay(steps[last].step);
      ({ view: this.view, changes: this.changes } = nextView(this.view, this.vm, this.touched.get(last)));
    }
  }

  /** The vCPUs the steps between step `a` and step `b` (either way round) touched. */
  private touchedBetween(a: number, b: number): Set<number> {
    const ids = new Set<number>();
    for (let i = Math.min(a, b); i < Math.max(a, b); i++) for (const id of this.touched.get(i)) ids.add(id);
    return ids;
  }

  /**
   * Apply `step` at the cursor as the log's next step (any recorded after the cursor are forgotten):
   * its result as the log keeps it (with its trace, its repeated parts shared with other steps'),
   * and the vCPUs it touched, recorded.
   * Throws ScenarioInputError before changing anything when the step is invalid.
   */
  private record(step: Step): { result: StepResult; touched: number[] } {
    const result = applyStep(this.vm, step, this.cursor);
    const trace = traceEvents(this.vm.takeTrace());
    result.trace = trace.length ? trace : NO_TRACE;
    this.parts.keep(result);
    const touched = touchedBy(this.vm, step);
    this.touched.truncate(this.cursor);
    this.touched.push(touched);
    return { result, touched };
  }

  /** Re-apply a step of the log (its result is already in the log). */
  private replay(step: Step): void {
    applyStep(this.vm, step, this.cursor);
    this.vm.takeTrace();
    this.vm.takeTouched();
    this.stepped();
  }

  /** One more step applied: copy the VM now if a checkpoint is due and they are not deferred. */
  private stepped(): void {
    this.cursor++;
    if (!this.deferCheckpoints) this.checkpoints.reached(this.cursor);
  }
}
