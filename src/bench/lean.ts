/**
 * Lean reference loops for `npm run bench`: the work of the core's hot paths written as plain
 * typed-array code, with no trace, no decision records and no checks beyond what the work itself
 * needs. `npm run bench` measures each beside its core row in the same run and prints the ratio:
 * a busy machine slows both, so the ratio says more than a figure taken on a shared machine.
 *
 * Each loop does what the core does for the row, on the same sizes:
 * - map rebuild: find max_apic_id, allocate phys_map and the xAPIC logical tables, place every
 *   enabled APIC by its ID (stopping at an aliased ID), set or disable the logical mode, fill the
 *   xAPIC flat/cluster slot of each software-enabled APIC;
 * - unicast: decode a 64-bit x2APIC ICR, look the destination up in phys_map, set the vector in
 *   the target's IRR (clear TMR) if its APIC is enabled;
 * - broadcast: match every hardware-enabled APIC against the broadcast ID of its mode, and set
 *   the vector in the IRR of each enabled one;
 * - time travel: rebuild 16 register pages from RESET and replay k TPR writes (with PPR).
 */

/** vCPU flags, one byte each. */
export const HW_ENABLED = 1, SW_ENABLED = 2, X2APIC_MODE = 4;
/** Registers as word indexes into a 1 KiB LAPIC page (offset >> 2). */
const ID = 0x20 >> 2, TPR = 0x80 >> 2, PPR = 0xa0 >> 2, LDR = 0xd0 >> 2, DFR = 0xe0 >> 2, SPIV = 0xf0 >> 2;
const LOGICAL_NONE = 0, LOGICAL_FLAT = 1, LOGICAL_CLUSTER = 2, LOGICAL_X2APIC = 3, LOGICAL_DISABLED = 4;

/** N vCPUs as flat typed arrays: the fields the map rebuild and delivery read. */
export interface LeanVcpus {
  n: number;
  flags: Uint8Array;
  /** vcpu_id, which is the x2APIC ID. */
  id: Uint32Array;
  /** The APIC_ID, LDR and DFR registers. */
  apicId: Uint32Array;
  ldr: Uint32Array;
  dfr: Uint32Array;
  /** IRR and TMR: 8 words per vCPU, side by side. */
  irr: Uint32Array;
  tmr: Uint32Array;
}

/** `n` vCPUs in x2APIC mode, software-enabled, LDR from the ID: the bench's big VM. */
export function leanX2apicVcpus(n: number): LeanVcpus {
  const c: LeanVcpus = {
    n, flags: new Uint8Array(n), id: new Uint32Array(n), apicId: new Uint32Array(n), ldr: new Uint32Array(n), dfr: new Uint32Array(n),
    irr: new Uint32Array(n * 8), tmr: new Uint32Array(n * 8),
  };
  for (let i = 0; i < n; i++) {
    c.flags[i] = HW_ENABLED | SW_ENABLED | X2APIC_MODE;
    c.id[i] = c.apicId[i] = i;
    c.ldr[i] = (((i >>> 4) << 16) | (1 << (i & 15))) >>> 0;
    c.dfr[i] = 0xffffffff;
  }
  return c;
}

/** A rebuilt map: phys_map holds vCPU index + 1 (0 = empty); null when physical IDs alias. */
export interface LeanMap {
  maxApicId: number;
  phys: Int32Array;
  flat: Int32Array;
  cluster: Int32Array;
  logicalMode: number;
}

/** kvm_recalculate_apic_map(), lean. */
export function leanMapRebuild(c: LeanVcpus): LeanMap | null {
  const { n, flags, id, apicId, ldr, dfr } = c;
  let maxApicId = 255;
  for (let i = 0; i < n; i++) if (flags[i] & HW_ENABLED && id[i] > maxApicId) maxApicId = id[i];
  const phys = new Int32Array(maxApicId + 1);
  const flat = new Int32Array(8);
  const cluster = new Int32Array(16 * 4);
  let logicalMode = LOGICAL_NONE;
  for (let i = 0; i < n; i++) {
    const f = flags[i];
    if (!(f & HW_ENABLED)) continue;
    const physId = f & X2APIC_MODE ? id[i] : apicId[i] >>> 24;
    if (phys[physId]) return null;
    phys[physId] = i + 1;
    if (!(f & SW_ENABLED) || !ldr[i] || logicalMode === LOGICAL_DISABLED) continue;
    const mode = f & X2APIC_MODE ? LOGICAL_X2APIC : dfr[i] === 0xffffffff ? LOGICAL_FLAT : LOGICAL_CLUSTER;
    if (logicalMode === LOGICAL_NONE) logicalMode = mode;
    else if (logicalMode !== mode) {
      logicalMode = LOGICAL_DISABLED;
      continue;
    }
    if (mode === LOGICAL_X2APIC) continue; // served from phys_map
    const id8 = ldr[i] >>> 24;
    const mask = mode === LOGICAL_FLAT ? id8 : id8 & 0xf;
    if (!mask) continue;
    const table = mode === LOGICAL_FLAT ? flat : cluster;
    const slot = (mode === LOGICAL_FLAT ? 0 : (id8 >>> 4) * 4) + (31 - Math.clz32(mask & -mask));
    if (mask & (mask - 1) || table[slot]) logicalMode = LOGICAL_DISABLED;
    else table[slot] = i + 1;
  }
  return { maxApicId, phys, flat, cluster, logicalMode };
}

/** Set `vector` in vCPU i's IRR (edge: clear TMR) if its APIC is enabled; true if it took it. */
function leanAccept(c: LeanVcpus, i: number, vector: number): boolean {
  if ((c.flags[i] & (HW_ENABLED | SW_ENABLED)) !== (HW_ENABLED | SW_ENABLED)) return false;
  const w = i * 8 + (vector >>> 5), bit = 1 << (vector & 31);
  c.tmr[w] &= ~bit;
  c.irr[w] |= bit;
  return true;
}

/** A Fixed physical x2APIC IPI through phys_map: the vCPU index that took it, or -1. */
export function leanUnicast(c: LeanVcpus, map: LeanMap, icr: bigint): number {
  const low = Number(icr & 0xffffffffn);
  const dest = Number(icr >> 32n);
  if (dest > map.maxApicId) return -1;
  const i = map.phys[dest] - 1;
  return i >= 0 && leanAccept(c, i, low & 0xff) ? i : -1;
}

/** Clear `vector` from vCPU i's IRR (the bench loops do, so that every IPI sets it again). */
export function leanClearIrr(c: LeanVcpus, i: number, vector: number): void {
  c.irr[i * 8 + (vector >>> 5)] &= ~(1 << (vector & 31));
}

/** A physical broadcast (slow path): every hardware-enabled APIC matched by its mode's broadcast ID. */
export function leanBroadcast(c: LeanVcpus, dest: number, vector: number): number {
  let count = 0;
  for (let i = 0; i < c.n; i++) {
    const f = c.flags[i];
    if (!(f & HW_ENABLED)) continue;
    if (dest !== (f & X2APIC_MODE ? 0xffffffff : 0xff)) continue;
    if (leanAccept(c, i, vector)) count++;
  }
  return count;
}

/** The state after `k` TPR writes round-robin over 16 vCPUs, rebuilt from RESET (what time travel replays). */
export function leanTimeTravel(k: number, tprOf: (step: number) => number): Uint32Array {
  const pages = new Uint32Array(16 * 256);
  for (let v = 0; v < 16; v++) {
    pages[v * 256 + ID] = v << 24;
    pages[v * 256 + DFR] = 0xffffffff;
    pages[v * 256 + SPIV] = 0xff;
    pages[v * 256 + LDR] = 0;
  }
  for (let s = 0; s < k; s++) {
    const base = (s % 16) * 256;
    const tpr = tprOf(s) & 0xff;
    pages[base + TPR] = tpr;
    pages[base + PPR] = tpr; // no interrupt in service: PPR follows TPR
  }
  return pages;
}
