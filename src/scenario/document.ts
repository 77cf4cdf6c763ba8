/** A scenario as the JSON document that describes it: bigints become hex strings. */
export function toDocument(s: { vm: object; steps: readonly object[]; title?: string }): object {
  return JSON.parse(JSON.stringify({ format: 'apic-scenario/1', ...s }, (_k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v)));
}
