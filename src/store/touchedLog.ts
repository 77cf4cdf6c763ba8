/**
 * Which vCPUs each step of the log touched, packed into two growing typed arrays (ids, and where
 * each step's ids start) so that a 200,000-step log costs a few bytes a step, not an array each.
 */
export class TouchedLog {
  private ids = new Int32Array(1024);
  /** starts[i] is where step i's ids begin; starts[length] where the next step's will. */
  private starts = new Int32Array(1024);
  length = 0;

  /** Record the next step's ids. */
  push(ids: readonly number[]): void {
    const at = this.starts[this.length];
    if (at + ids.length > this.ids.length) this.ids = grow(this.ids, at + ids.length);
    this.ids.set(ids, at);
    if (this.length + 2 > this.starts.length) this.starts = grow(this.starts, this.length + 2);
    this.starts[++this.length] = at + ids.length;
  }

  /** Step i's ids. */
  get(i: number): Int32Array {
    return this.ids.subarray(this.starts[i], this.starts[i + 1]);
  }

  /** Keep the first `n` steps. */
  truncate(n: number): void {
    this.length = Math.min(this.length, n);
  }
}

function grow(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}
