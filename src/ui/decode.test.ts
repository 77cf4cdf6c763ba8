import { describe, expect, it } from 'vitest';
import { decodeSlot } from './decode';

describe('decodeSlot', () => {
  it('names the fields of common registers', () => {
    expect(decodeSlot(0x20, 0x01000000, false)).toBe('xAPIC ID 1');
    expect(decodeSlot(0x20, 256, true)).toBe('x2APIC ID 256');
    expect(decodeSlot(0x30, 0x50014, false)).toBe('version 0x14, max LVT 5');
    expect(decodeSlot(0xf0, 0x1ff, false)).toBe('vector 0xff, software-enabled');
    expect(decodeSlot(0x350, 0x700, false)).toBe('vector 0x0, ExtINT, unmasked');
    expect(decodeSlot(0x320, 0x50000, false)).toBe('vector 0x0, TSC-deadline, masked');
    expect(decodeSlot(0x3e0, 0xb, false)).toBe('divide by 1');
    expect(decodeSlot(0xd0, 0x00121000, true)).toBe('cluster 18, mask 0x1000');
  });
});
