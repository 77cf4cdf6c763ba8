/**
 * The runner's apic-result/1 document as text: byte for byte what JSON.stringify(result, null, 2)
 * prints, with the steps stringified in batches as the replay hands them over. A result is garbage
 * once its batch is text, so a 100,000-step replay never holds 100,000 results (which the garbage
 * collector would copy and promote, step after step), nor builds one 56 MB string to encode at once.
 */
import type { ScenarioResult, StepResult } from '../scenario/result';

/** A batch stringified as `{"s": [...]}` has its steps at the depth they have in the document. */
const BATCH_HEAD = '{\n  "s": [';
const BATCH_TAIL = '\n  ]\n}';
const NO_STEPS = '"steps": []';

export class ResultText {
  private readonly chunks: string[] = [];
  private batch: StepResult[] = [];

  constructor(private readonly batchSize = 1000) {}

  /** The next step's result. */
  add(r: StepResult): void {
    this.batch.push(r);
    if (this.batch.length === this.batchSize) this.flush();
  }

  /**
   * The batch's steps as they read between the brackets of "steps", each on its own lines. The
   * comma before it is a piece of its own: joined, the two would be copied once more to print.
   */
  private flush(): void {
    const text = JSON.stringify({ s: this.batch }, null, 2);
    if (this.chunks.length) this.chunks.push(',');
    this.chunks.push(text.slice(BATCH_HEAD.length, -BATCH_TAIL.length));
    this.batch = [];
  }

  /**
   * The document in pieces, to be written in order: `result` with its `steps` replaced by those
   * added (its own steps are not read). Its fields keep their order; "steps" follows "format",
   * whose value cannot hold the text searched for.
   */
  pieces(result: ScenarioResult): string[] {
    if (this.batch.length) this.flush();
    const outer = JSON.stringify({ ...result, steps: [] }, null, 2);
    if (!this.chunks.length) return [outer];
    const at = outer.indexOf(NO_STEPS) + NO_STEPS.length - 1;
    return [outer.slice(0, at), ...this.chunks, '\n  ', outer.slice(at)];
  }
}
