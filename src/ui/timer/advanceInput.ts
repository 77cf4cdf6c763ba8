/**
 * The timer lane's "custom" amount of guest time: nanoseconds, hex, or a number with a unit
 * (250 µs, 1.5 ms, 2 s), read into whole nanoseconds for an `advance` step. What is not a forward
 * amount of guest time, or is longer than a step may be, is refused here with one message (words
 * from src/explain) and nothing is dispatched. Pure.
 */
import { advanceInputWords } from '../../explain/panels';
import { MAX_ADVANCE_NS } from '../../scenario/schema';

const UNIT_NS: Record<string, bigint> = { ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n, s: 1_000_000_000n };

export type AdvanceInput = { ns: bigint } | { error: string };

export function parseAdvance(text: string): AdvanceInput {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return checked(BigInt(t));
  const m = /^([+-]?)\s*(\d[\d_,]*)(?:\.(\d+))?\s*(ns|us|µs|μs|ms|s)?$/i.exec(t);
  if (!m) return /^-/.test(t) ? { error: advanceInputWords.negative } : { error: advanceInputWords.notNumber(t) };
  const [, sign, whole, frac = '', unitText = 'ns'] = m;
  const unit = UNIT_NS[unitText.toLowerCase()] ?? UNIT_NS[unitText];
  const fracDigits = frac.replace(/0+$/, '');
  const scale = 10n ** BigInt(fracDigits.length);
  const total = BigInt(whole.replace(/[_,]/g, '')) * unit * scale + BigInt(fracDigits || '0') * unit;
  if (total % scale !== 0n) return { error: advanceInputWords.fraction(t) };
  const ns = total / scale;
  if (sign === '-' && ns !== 0n) return { error: advanceInputWords.negative };
  return checked(ns);
}

function checked(ns: bigint): AdvanceInput {
  return ns > MAX_ADVANCE_NS ? { error: advanceInputWords.tooLong(MAX_ADVANCE_NS) } : { ns };
}
