/**
 * Numbers in scenarios: a JSON number (a safe integer) or a string, hex "0xfee0_0900" or
 * decimal "4276094976" (scenario-format.md, "Numbers"). Output is lowercase hex with 0x.
 */

const HEX = /^0x[0-9a-f](?:_?[0-9a-f])*$/i;
const DEC = /^[0-9](?:_?[0-9])*$/;

/**
 * Number strings parsed before, and their values: a long scenario writes the same MSRs and values
 * again and again, and one bigint for each text is less to parse and less for the garbage collector
 * to copy (a 100,000-step replay keeps every step). Emptied when full.
 */
const parsed = new Map<string, bigint>();
const MAX_PARSED = 4096;

/** Parse a scenario number; returns a message (without the field name) when it is not one. */
export function parseNumber(raw: unknown): bigint | string {
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) return `${raw} is not a safe integer (write large values as hex strings)`;
    if (raw < 0) return `${raw} is negative`;
    return BigInt(raw);
  }
  if (typeof raw === 'string') {
    const known = parsed.get(raw);
    if (known !== undefined) return known;
    const s = raw.trim();
    if (!HEX.test(s) && !DEC.test(s)) return `${JSON.stringify(raw)} is not a number (use hex "0x..." or decimal)`;
    // BigInt() reads "0x" and "0X" itself; underscores are the scenario format's, not its.
    const v = BigInt(s.includes('_') ? s.replaceAll('_', '') : s);
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(raw, v);
    return v;
  }
  return `${JSON.stringify(raw) ?? 'undefined'} is not a number`;
}

/** Lowercase hex with 0x, as every register, MSR, address and 64-bit value is written out. */
export function hex(v: bigint | number): string {
  return '0x' + (typeof v === 'bigint' ? v : BigInt(v < 0 ? v >>> 0 : v)).toString(16);
}

/** 2^bits by bits, made once: every number of a scenario is checked against one. */
const limits: bigint[] = [];

/** Does `v` fit in `bits` bits (unsigned)? */
export function fits(v: bigint, bits: number): boolean {
  return v >= 0n && v < (limits[bits] ??= 1n << BigInt(bits));
}
