/**
 * For tests: every field of a VM's object graph as JSON-like data, to compare two VMs field by
 * field (hidden ones included). Objects met again are named by the path where they were first
 * met; functions are marked, bookkeeping left out.
 */
import type { Vm } from './vm';

/**
 * Fields that are not the model's state: the trace buffer, Vm.touch()'s marks (handed over each
 * step), and where a register page sits in its shared block (the page's own words are `slots`;
 * the block holds other LAPICs' pages too, of any VM).
 */
const BOOKKEEPING = new Set(['traceSink', 'touched', 'touchRound', 'pageBlock', 'pageStart']);

export function modelState(vm: Vm): unknown {
  const paths = new Map<object, string>();
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'function') return '<fn>';
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v !== 'object' || v === null) return v;
    const first = paths.get(v);
    if (first !== undefined) return `<ref ${first}>`;
    paths.set(v, path);
    if (ArrayBuffer.isView(v)) return [...(v as Uint32Array)];
    if (v instanceof Map) return [...v].map(([k, x], i) => [walk(k, `${path}.k${i}`), walk(x, `${path}.v${i}`)]);
    if (v instanceof Set) return [...v].map((x, i) => walk(x, `${path}.${i}`));
    return Object.fromEntries(Object.keys(v).filter((k) => !BOOKKEEPING.has(k)).map((k) => [k, walk((v as Record<string, unknown>)[k], `${path}.${k}`)]));
  };
  return walk(vm, 'vm');
}

