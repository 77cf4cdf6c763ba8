/**
 * Snapshots of a VM to come back to in place: the store's time-travel checkpoints.
 *
 * Models no KVM function: it is a snapshot of the model, in the spirit of a VMM saving each vCPU's
 * state (KVM_GET_LAPIC, KVM_GET_MP_STATE, ...) and the VM's, but of every field of the model. A
 * snapshot holds the VM-wide fields (the map, inhibits, clock, the vCPU list) and one record per
 * vCPU (its fields, its LAPIC's, its timer's and the register page). A vCPU whose state equals its
 * record in the previous snapshot shares that record, so a snapshot costs what changed since the
 * last one, not what the VM holds: 4096 vCPUs of which a few changed cost a few kB, not 4.5 MB.
 *
 * Restoring writes the values back into the same VM object and the same vCPU objects (vCPUs
 * created after the snapshot drop out of the VM's lists), so nothing that holds the VM needs to
 * know. Functions are shared, not copied: the core keeps none that close over its state between
 * steps (trace events are handed over after each step).
 */
import type { Vcpu } from './vcpu';
import type { Vm } from './vm';

type Fields = Record<string, unknown>;

/** One vCPU's state: its own fields, its LAPIC's (the page's odd words among them), its timer's, and its page's slots. */
interface VcpuRecord {
  vcpu: Fields;
  apic: Fields;
  timer: Fields;
  slots: Uint32Array;
}

export interface VmSnapshot {
  /** The VM-wide fields (vCPU references are to the live vCPU objects). */
  readonly vm: Fields;
  /** The record of each vCPU object the VM had. */
  readonly records: ReadonlyMap<Vcpu, VcpuRecord>;
  /** About how many bytes its VM-wide fields take (its records are counted where they are first made). */
  readonly bytes: number;
}

/** What a vCPU record and a vCPU's share of the VM-wide fields cost (about 1.1 kB and 75 B, measured in Node with 4096 vCPUs). */
export const RECORD_BYTES = 1160;
export const VM_BYTES_PER_VCPU = 75;

/** A snapshot of `vm`, sharing the records of vCPUs that have not changed since `previous`. */
export function takeSnapshot(vm: Vm, previous?: VmSnapshot): VmSnapshot {
  const live = liveObjects(vm);
  const records = new Map<Vcpu, VcpuRecord>();
  for (const v of vm.vcpus) {
    const old = previous?.records.get(v);
    records.set(v, old && sameRecord(old, v, live) ? old : { vcpu: fieldsOf(v, live), apic: fieldsOf(v.apic, live), timer: fieldsOf(v.apic.timer, live), slots: v.apic.slots.slice() });
  }
  return { vm: fieldsOf(vm, live), records, bytes: vm.vcpus.length * VM_BYTES_PER_VCPU };
}

/**
 * Put `vm` back as `snapshot` holds it (a snapshot of this same VM object). `changed`, if given,
 * names the vCPUs that may differ from it (Vm.touch() between then and now): the others are left
 * as they are, which with 4096 vCPUs is most of the work saved.
 */
export function restoreSnapshot(vm: Vm, snapshot: VmSnapshot, changed?: ReadonlySet<number>): void {
  // The snapshot's vCPUs, not the VM's now: a vCPU created since is dropped, one gone since is back.
  const live = liveObjects(vm, snapshot.records.keys());
  const present = changed && new Set(vm.vcpus);
  assign(vm, snapshot.vm, live);
  for (const v of vm.vcpus) {
    if (present?.has(v) && !changed!.has(v.id)) continue;
    const r = snapshot.records.get(v)!;
    assign(v, r.vcpu, live);
    assign(v.apic, r.apic, live);
    assign(v.apic.timer, r.timer, live);
    v.apic.slots.set(r.slots);
    v.apic.syncMatchWords();
  }
}

/**
 * The objects a snapshot refers to rather than copies: the VM, its vCPUs, their LAPICs, timers and
 * register pages, and the blocks the pages sit in (each kept by identity, a page's contents in the
 * records).
 */
function liveObjects(vm: Vm, vcpus: Iterable<Vcpu> = vm.vcpus): Set<object> {
  const live = new Set<object>([vm]);
  for (const v of vcpus) live.add(v).add(v.apic).add(v.apic.timer).add(v.apic.slots).add(v.apic.pageBlock);
  return live;
}

/** An object's own fields: values as they are, objects copied deeply, live objects by reference. */
function fieldsOf(o: object, live: Set<object>): Fields {
  // A spread keeps the fields in one compact block (added one by one, 50 of them make a hash table).
  const out: Fields = { ...o };
  const seen = new Map<object, unknown>();
  for (const k in out) {
    const v = out[k];
    if (typeof v === 'object' && v !== null) out[k] = copy(v, live, seen);
  }
  return out;
}

/** Set each field of `o` from `fields` (objects copied again, so the snapshot stays as it was). */
function assign(o: object, fields: Fields, live: Set<object>): void {
  const dst = o as Fields;
  const seen = new Map<object, unknown>();
  for (const k in fields) {
    const v = fields[k];
    if (typeof v !== 'object' || v === null) {
      if (dst[k] !== v) dst[k] = v;
    } else dst[k] = copy(v, live, seen);
  }
}

/** A deep copy of `value`, keeping its classes, the references inside it, and live objects as they are. */
function copy(value: unknown, live: Set<object>, seen: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null || live.has(value)) return value;
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (ArrayBuffer.isView(value)) {
    const out = (value as Uint32Array).slice();
    seen.set(value, out);
    return out;
  }
  if (value instanceof Map) {
    const out = new Map();
    seen.set(value, out);
    for (const [k, v] of value) out.set(copy(k, live, seen), copy(v, live, seen));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set();
    seen.set(value, out);
    for (const v of value) out.add(copy(v, live, seen));
    return out;
  }
  if (Array.isArray(value)) {
    const out = value.slice();
    seen.set(value, out);
    for (let i = 0; i < out.length; i++) if (typeof out[i] === 'object' && out[i] !== null) out[i] = copy(out[i], live, seen);
    return out;
  }
  // Every own field at once, then the class: a spread keeps the object's field layout, so the copy
  // stays a fast object (fields added one by one turn a class with many into a slow dictionary).
  const out = Object.setPrototypeOf({ ...value }, Object.getPrototypeOf(value)) as Fields;
  seen.set(value, out);
  for (const k in out) {
    const x = out[k];
    if (typeof x === 'object' && x !== null && Object.hasOwn(out, k)) out[k] = copy(x, live, seen);
  }
  return out;
}

/** Does `v` still hold what record `r` says (every field of the vCPU, its LAPIC and timer, and the page)? */
function sameRecord(r: VcpuRecord, v: Vcpu, live: Set<object>): boolean {
  const a = v.apic.slots;
  for (let i = 0; i < a.length; i++) if (a[i] !== r.slots[i]) return false;
  return sameFields(r.vcpu, v, live) && sameFields(r.apic, v.apic, live) && sameFields(r.timer, v.apic.timer, live);
}

function sameFields(fields: Fields, o: object, live: Set<object>): boolean {
  const src = o as Fields;
  const keys = Object.keys(src);
  if (keys.length !== Object.keys(fields).length) return false;
  for (const k of keys) if (!same(fields[k], src[k], live)) return false;
  return true;
}

/** Equal values: live objects by identity, other objects field by field. */
function same(a: unknown, b: unknown, live: Set<object>): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || live.has(a) || live.has(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) {
    const x = a as Uint32Array, y = b as Uint32Array;
    return x.length === y.length && x.every((w, i) => w === y[i]);
  }
  if (a instanceof Map) return a.size === (b as Map<unknown, unknown>).size && [...a].every(([k, v]) => same(v, (b as Map<unknown, unknown>).get(k), live));
  if (a instanceof Set) return a.size === (b as Set<unknown>).size && [...a].every((v) => (b as Set<unknown>).has(v));
  return sameFields(a as Fields, b, live);
}
