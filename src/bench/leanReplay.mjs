#!/usr/bin/env node
// Lean reference for the replay rows of `npm run bench` (plain JavaScript, started like the runner
// is: a new node process): read and parse the same scenario file, apply every step to typed
// arrays (one LAPIC page per vCPU), with no validation, no decision records and no trace, and print
// one compact result per step. Knows only the ops and registers the bench's scenarios use.
import { readFileSync } from 'node:fs';

const doc = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const n = doc.vm.vcpus;
const regs = new Uint32Array(n * 256); // word index: vCPU * 256 + (offset >> 2)
const x2apic = new Uint8Array(n);
const TPR = 0x80 >> 2, PPR = 0xa0 >> 2, SPIV = 0xf0 >> 2, ISR = 0x100 >> 2, IRR = 0x200 >> 2;

/** Highest vector set in the 8-word bitmap at `base` (words 4 apart, as in the page), or -1. */
function highest(v, base) {
  for (let w = 7; w >= 0; w--) {
    const x = regs[v * 256 + base + w * 4];
    if (x) return w * 32 + 31 - Math.clz32(x);
  }
  return -1;
}
const setBit = (v, base, vec, on) => {
  const k = v * 256 + base + (vec >>> 5) * 4;
  regs[k] = on ? regs[k] | (1 << (vec & 31)) : regs[k] & ~(1 << (vec & 31));
};
const ppr = (v) => {
  const isr = Math.max(highest(v, ISR), 0), tpr = regs[v * 256 + TPR];
  return (tpr & 0xf0) >= (isr & 0xf0) ? tpr & 0xff : isr & 0xf0;
};
function deliver(v, vec, out) {
  if (v >= n || !(regs[v * 256 + SPIV] & 0x100)) return;
  setBit(v, IRR, vec, true);
  out.push(v);
}

const results = doc.steps.map((s, i) => {
  const r = { i, op: s.op, ok: true };
  const v = s.vcpu;
  if (s.op === 'wrmsr') {
    const msr = Number(s.msr), value = BigInt(s.value);
    if (msr === 0x1b) x2apic[v] = Number((value >> 10n) & 1n);
    else if (msr === 0x830) {
      const low = Number(value & 0xffffffffn), dest = Number(value >> 32n), vec = low & 0xff, delivered = [];
      if (low & 0x800) for (let b = 0; b < 16; b++) dest & (1 << b) && deliver((dest >>> 16) * 16 + b, vec, delivered);
      else deliver(dest, vec, delivered);
      r.delivered = delivered;
    } else if (msr === 0x80b) {
      const isr = highest(v, ISR);
      if (isr >= 0) setBit(v, ISR, isr, false);
    } else regs[v * 256 + ((msr - 0x800) << 2)] = Number(value);
  } else if (s.op === 'rdmsr') {
    const msr = Number(s.msr);
    r.value = '0x' + (msr === 0x80a ? ppr(v) : regs[v * 256 + ((msr - 0x800) << 2)]).toString(16);
  } else if (s.op === 'ack') {
    const irr = highest(v, IRR);
    r.vector = irr >= 0 && (irr & 0xf0) > ppr(v) ? irr : null;
    if (r.vector !== null) {
      setBit(v, IRR, irr, false);
      setBit(v, ISR, irr, true);
      regs[v * 256 + PPR] = ppr(v);
    }
  }
  return r;
});
process.stdout.write(JSON.stringify({ steps: results }) + '\n');
