/**
 * A deep copy of a VM and everything it holds (vCPUs, LAPIC pages, timers, the map, inhibits), to
 * go on from later as if it were the original, and the way back to such a copy in place: the
 * store's time-travel checkpoints.
 *
 * Models no KVM function: it is a snapshot of the model, in the spirit of a VMM saving every
 * vCPU's state (KVM_GET_LAPIC, KVM_GET_MP_STATE...) but of the whole model at once. The copy
 * keeps each object's class and every reference between objects (a vCPU in the map is the copy's
 * vCPU), so nothing needs to know it was copied. Functions are shared, not copied: the core keeps
 * none that close over its state between steps (trace events are handed over after each step).
 */
import type { Vm } from './vm';

export function cloneVm(vm: Vm): Vm {
  return copy(vm, new Map()) as Vm;
}

function copy(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
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
    for (const [k, v] of value) out.set(copy(k, seen), copy(v, seen));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set();
    seen.set(value, out);
    for (const v of value) out.add(copy(v, seen));
    return out;
  }
  if (Array.isArray(value)) {
    const out = value.slice();
    seen.set(value, out);
    for (let i = 0; i < out.length; i++) if (typeof out[i] === 'object' && out[i] !== null) out[i] = copy(out[i], seen);
    return out;
  }
  // Every own field at once, then the class. A spread copies the object's field layout, so the copy
  // stays a fast object (assigning fields one by one to Object.create() turns a class with many
  // fields into a slow dictionary object, and every later step on the copy slower with it).
  const out: Record<string, unknown> = Object.setPrototypeOf({ ...value }, Object.getPrototypeOf(value));
  seen.set(value, out);
  for (const k in out) {
    const x = out[k];
    if (typeof x === 'object' && x !== null && Object.hasOwn(out, k)) out[k] = copy(x, seen);
  }
  return out;
}

/**
 * Make `target` equal to `from`, an earlier copy of the same VM, in place: every vCPU keeps its
 * objects (its LAPIC, timer and register page) and takes the copy's values; the VM-wide fields
 * (map, inhibits, clock...) are copied. No vCPU object is allocated, so a big VM is restored in a
 * fraction of a cloneVm(). Returns false, changing nothing, when the two do not have the same vCPUs.
 */
export function restoreInto(target: Vm, from: Vm): boolean {
  const n = from.vcpus.length;
  if (target.vcpus.length !== n) return false;
  for (let i = 0; i < n; i++) if (target.vcpus[i].id !== from.vcpus[i].id) return false;
  // References to a vCPU, its LAPIC or timer land on the target's; other objects are copied.
  const seen = new Map<object, unknown>([[from, target]]);
  for (let i = 0; i < n; i++) {
    const a = from.vcpus[i], b = target.vcpus[i];
    seen.set(a, b);
    seen.set(a.apic, b.apic);
    seen.set(a.apic.timer, b.apic.timer);
    seen.set(a.apic.regs, b.apic.regs);
  }
  for (let i = 0; i < n; i++) {
    const a = from.vcpus[i], b = target.vcpus[i];
    b.apic.regs.set(a.apic.regs);
    assignFields(b, a, seen);
    assignFields(b.apic, a.apic, seen);
    assignFields(b.apic.timer, a.apic.timer, seen);
  }
  assignFields(target, from, seen);
  return true;
}

/** Set each field of `dst` to `src`'s (objects copied, or mapped by `seen`). */
function assignFields<T extends object>(dst: T, src: T, seen: Map<object, unknown>): void {
  const d = dst as Record<string, unknown>;
  const s = src as Record<string, unknown>;
  for (const k in s) {
    const v = s[k];
    if (typeof v !== 'object' || v === null) {
      if (d[k] !== v && Object.hasOwn(s, k)) d[k] = v;
    } else if (Object.hasOwn(s, k)) d[k] = copy(v, seen);
  }
}
