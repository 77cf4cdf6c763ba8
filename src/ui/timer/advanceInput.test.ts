import { describe, expect, it } from 'vitest';
import { advanceInputWords } from '../../explain/panels';
import { MAX_ADVANCE_NS } from '../../scenario/schema';
import { parseAdvance } from './advanceInput';

describe('the timer lane reads an amount of guest time', () => {
  it('takes nanoseconds, hex, separators and units', () => {
    expect(parseAdvance('250000')).toEqual({ ns: 250000n });
    expect(parseAdvance(' 1_000_000 ')).toEqual({ ns: 1000000n });
    expect(parseAdvance('1,000')).toEqual({ ns: 1000n });
    expect(parseAdvance('0x10')).toEqual({ ns: 16n });
    expect(parseAdvance('250 µs')).toEqual({ ns: 250000n });
    expect(parseAdvance('250us')).toEqual({ ns: 250000n });
    expect(parseAdvance('1.5 ms')).toEqual({ ns: 1500000n });
    expect(parseAdvance('2 s')).toEqual({ ns: 2000000000n });
    expect(parseAdvance('0')).toEqual({ ns: 0n });
    expect(parseAdvance('1.50 ns')).toEqual({ error: advanceInputWords.fraction('1.50 ns') });
    expect(parseAdvance('1.0 ns')).toEqual({ ns: 1n });
  });

  it('refuses what is not a forward amount of guest time, in one message', () => {
    expect(parseAdvance('-5')).toEqual({ error: advanceInputWords.negative });
    expect(parseAdvance('-1 ms')).toEqual({ error: advanceInputWords.negative });
    expect(parseAdvance('-0x10')).toEqual({ error: advanceInputWords.negative });
    expect(parseAdvance('abc')).toEqual({ error: advanceInputWords.notNumber('abc') });
    expect(parseAdvance('1e9')).toEqual({ error: advanceInputWords.notNumber('1e9') });
    expect(parseAdvance('10 min')).toEqual({ error: advanceInputWords.notNumber('10 min') });
    expect(parseAdvance('0.5')).toEqual({ error: advanceInputWords.fraction('0.5') });
  });

  it('refuses more than one hour per step, however large, with the schema\'s limit', () => {
    expect(parseAdvance(String(MAX_ADVANCE_NS))).toEqual({ ns: MAX_ADVANCE_NS });
    expect(parseAdvance(String(MAX_ADVANCE_NS + 1n))).toEqual({ error: advanceInputWords.tooLong(MAX_ADVANCE_NS) });
    expect(parseAdvance('99999999999999999999999999')).toEqual({ error: advanceInputWords.tooLong(MAX_ADVANCE_NS) });
    expect(parseAdvance('7200 s')).toEqual({ error: advanceInputWords.tooLong(MAX_ADVANCE_NS) });
  });
});
