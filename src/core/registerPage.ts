/**
 * How a LAPIC's register page is stored. Models no KVM function: KVM gives each vCPU a 4 KiB page,
 * whose first 1 KiB (0x000-0x3ff) KVM_GET_LAPIC / KVM_SET_LAPIC copy; a register takes the first
 * word of each 16 bytes. Here a page keeps:
 * - `slots`: those 64 first words (index offset >> 4), then the high half of x2APIC's 64-bit ICR
 *   (0x304, kvm_lapic_set_reg64), cut one after the other from shared blocks;
 * - `odd`: the other words in a 1 KiB image (index offset >> 2), made only when one is set: what a
 *   KVM_SET_LAPIC image put in reserved bytes, which KVM keeps and KVM_GET_LAPIC returns.
 * A layout choice only, for speed: a broadcast reads and writes IRR and TMR of thousands of pages,
 * in creation order, which the CPU's prefetcher follows; at 260 bytes a page that is a quarter of
 * the memory it was at 1 KiB (a broadcast to 4096 vCPUs about a fifth faster).
 */
import { LAPIC_STATE_SIZE } from './apicdef';

/** Words in the 1 KiB image (KVM_GET_LAPIC's layout: index offset >> 2). */
export const IMAGE_WORDS = LAPIC_STATE_SIZE / 4;
/** Register slots in it (index offset >> 4). */
export const SLOT_COUNT = LAPIC_STATE_SIZE / 16;
/** The ICR's high half (x2APIC), kept after the slots. */
const ICR_HIGH = 0x304;
const SLOT_WORDS = SLOT_COUNT + 1;

export interface PageWords {
  slots: Uint32Array;
  odd: Uint32Array | null;
}

const PAGES_PER_BLOCK = 256;
let block = new Uint32Array(0);
let left = 0;

/**
 * A new LAPIC's zeroed page: its slots as a view of their own, and the shared block they sit in
 * with their first index there. Hot paths index the block (`block[at + i]`): its one array object
 * serves 256 pages and stays in cache, where each page's own view is one more object to fetch (a
 * broadcast to 4096 vCPUs about a quarter faster).
 */
export function newPage(): { slots: Uint32Array; block: Uint32Array; at: number } {
  if (left === 0) {
    left = PAGES_PER_BLOCK;
    block = new Uint32Array(PAGES_PER_BLOCK * SLOT_WORDS);
  }
  const at = (PAGES_PER_BLOCK - left--) * SLOT_WORDS;
  return { slots: block.subarray(at, at + SLOT_WORDS), block, at };
}

/** The page as a 1 KiB image (a new array): what KVM_GET_LAPIC copies out. */
export function pageImage(p: PageWords): Uint32Array {
  const image = p.odd ? p.odd.slice() : new Uint32Array(IMAGE_WORDS);
  for (let i = 0; i < SLOT_COUNT; i++) image[i * 4] = p.slots[i];
  image[ICR_HIGH >> 2] = p.slots[SLOT_COUNT];
  return image;
}

/** Fill the page from a 1 KiB image (KVM_SET_LAPIC's copy in); `odd` only if the image has such words. */
export function loadImage(p: PageWords, image: Uint32Array): void {
  let odd = false;
  for (let i = 0; i < IMAGE_WORDS; i++) {
    if (!(i & 3)) p.slots[i >> 2] = image[i];
    else if (i !== ICR_HIGH >> 2) odd ||= image[i] !== 0;
  }
  p.slots[SLOT_COUNT] = image[ICR_HIGH >> 2];
  p.odd = odd ? image.slice() : null;
  if (p.odd) {
    for (let i = 0; i < IMAGE_WORDS; i += 4) p.odd[i] = 0;
    p.odd[ICR_HIGH >> 2] = 0;
  }
}

/** The word at a non-16-byte-aligned `offset`. */
export function oddWord(p: PageWords, offset: number): number {
  if (offset === ICR_HIGH) return p.slots[SLOT_COUNT];
  return p.odd ? p.odd[offset >> 2] : 0;
}

/** Set the word at a non-16-byte-aligned `offset` (the odd image made on the first non-zero word). */
export function setOddWord(p: PageWords, offset: number, word: number): void {
  if (offset === ICR_HIGH) {
    p.slots[SLOT_COUNT] = word;
    return;
  }
  if (!p.odd) {
    if (word === 0) return;
    p.odd = new Uint32Array(IMAGE_WORDS);
  }
  p.odd[offset >> 2] = word;
}
