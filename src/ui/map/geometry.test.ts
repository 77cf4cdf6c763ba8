import { describe, expect, it } from 'vitest';
import { cardGeometry } from './slotNodes';
import { gridLayout, slotAt } from './densityCanvas';

describe('cardGeometry', () => {
  it('fits four cards in a 416 px panel and widens the slot box for long IDs', () => {
    const g = cardGeometry(416, 3);
    expect(g.cols).toBe(4);
    expect(g.w * 4 + 3 * 6).toBeLessThanOrEqual(414);
    expect(g.vcpuW).toBeGreaterThanOrEqual(60);
    expect(cardGeometry(416, 4095).slotW).toBeGreaterThan(g.slotW);
    expect(cardGeometry(50, 0).cols).toBe(1);
  });
});

describe('density grid', () => {
  it('picks columns by size and maps a point to a slot in O(1)', () => {
    const l = gridLayout(300, 430);
    expect(l.cols).toBe(32);
    expect(l.rows).toBe(10);
    expect(slotAt(l.left + 0.5, 0.5, 300, l)).toBe(0);
    expect(slotAt(l.left + l.cell * 13.5, l.cell * 1.5, 300, l)).toBe(45);
    expect(slotAt(l.left - 1, 0.5, 300, l)).toBeNull();
    expect(slotAt(l.left + l.cell * 20.5, l.cell * 9.5, 300, l)).toBeNull(); // 308 > 299
    expect(gridLayout(4096, 430).cols).toBe(64);
    expect(gridLayout(100, 430).cols).toBe(16);
  });
});
