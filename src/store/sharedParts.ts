/**
 * A long log repeats itself: the same route decision, the same words, the same trace line, step
 * after step. The log keeps each such part once (hash-consing): a step's result is rewritten to
 * point at an equal part kept earlier, frozen so that no step can change another's. What a result
 * says is unchanged (the same JSON); only its memory is shared.
 *
 * The table of parts is bounded: when it is full it starts again (later repeats are then shared
 * among themselves), so a log of parts that never repeat costs at most the table on top.
 */
import type { StepResult } from '../scenario/result';

/** Fields every result has, or that belong to this step alone. */
const OWN = new Set(['i', 'op', 'ok', 'trace']);
const MAX_PARTS = 50_000;

export class SharedParts {
  private table = new Map<string, unknown>();

  /** `result` with its parts replaced by equal ones kept before (or kept now, for later steps). */
  keep(result: StepResult): StepResult {
    const r = result as unknown as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      const v = r[k];
      if (!OWN.has(k) && (typeof v === 'string' || (typeof v === 'object' && v !== null))) r[k] = this.share(keyOf(v), v);
    }
    if (result.trace?.length) {
      // Each event is printed once: the trace's key is made of its events' keys.
      const keys = result.trace.map((e) => keyOf(e));
      const events = result.trace.map((e, i) => this.share(keys[i], e));
      result.trace = this.share(`t${keys.join('\n')}`, events);
    }
    return result;
  }

  /** `value` (whose key is `key`), or an equal one kept before. */
  private share<T>(key: string, value: T): T {
    const kept = this.table.get(key);
    if (kept !== undefined && (typeof value === 'string' || sameKind(kept, value))) return kept as T;
    if (this.table.size >= MAX_PARTS) this.table.clear();
    this.table.set(key, typeof value === 'object' ? Object.freeze(value) : value);
    return value;
  }
}

/**
 * What tells equal parts apart: a string itself, a trace record its shareKey (its fields, which
 * decide its words: traceFormat.ts), anything else its JSON. Without a replacer first:
 * JSON.stringify then takes V8's fast path (a replacer is called on every value), and a part with
 * a bigint, which it cannot print, is printed again with one.
 */
function keyOf(value: unknown): string {
  if (typeof value === 'string') return `s${value}`;
  const fields = (value as { shareKey?: string }).shareKey;
  if (fields !== undefined) return `k${fields}`;
  try {
    return `o${JSON.stringify(value)}`;
  } catch {
    return `o${JSON.stringify(value, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x))}`;
  }
}

/** Same JSON is not enough where the class matters (a trace record and a plain object may print alike). */
function sameKind(a: unknown, b: unknown): boolean {
  return typeof a === 'object' && a !== null && Object.getPrototypeOf(a) === Object.getPrototypeOf(b) && Array.isArray(a) === Array.isArray(b);
}
