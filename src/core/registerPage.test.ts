import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IMAGE_WORDS, loadImage, newPage, oddWord, pageImage, setOddWord, type PageWords } from './registerPage';
import { Vm } from './vm';

const page = (): PageWords => ({ slots: newPage().slots, odd: null });
const image = fc.uint32Array({ minLength: IMAGE_WORDS, maxLength: IMAGE_WORDS });

describe('the compact register page keeps every word of a 1 KiB image', () => {
  it('loadImage then pageImage gives the image back, reserved words included (KVM_SET_LAPIC then KVM_GET_LAPIC)', () => {
    fc.assert(
      fc.property(image, fc.boolean(), (img, sparse) => {
        // Half the runs keep only register words (and the ICR's high half): then no odd image is made.
        if (sparse) for (let i = 0; i < IMAGE_WORDS; i++) if (i & 3 && i !== 0x304 >> 2) img[i] = 0;
        const p = page();
        loadImage(p, img);
        expect([...pageImage(p)]).toEqual([...img]);
        // The ICR's high half (0x304) has a slot of its own: only reserved words make the odd image.
        expect(p.odd === null).toBe(img.every((w, i) => (i & 3) === 0 || i === 0x304 >> 2 || w === 0));
      }),
      { numRuns: 200, seed: 17 },
    );
  });

  it('the odd image is made only when a reserved word is set to non-zero; the ICR high half never needs it', () => {
    const p = page();
    setOddWord(p, 0x24, 0);
    expect(p.odd).toBeNull();
    expect(oddWord(p, 0x24)).toBe(0);
    setOddWord(p, 0x304, 0x12345678); // x2APIC's ICR high half, written on every x2APIC IPI
    expect(p.odd).toBeNull();
    expect(oddWord(p, 0x304)).toBe(0x12345678);
    setOddWord(p, 0x24, 0xdeadbeef);
    expect(oddWord(p, 0x24)).toBe(0xdeadbeef);
    expect(pageImage(p)[0x24 >> 2]).toBe(0xdeadbeef);
    expect(pageImage(p)[0x304 >> 2]).toBe(0x12345678);
  });

  it("a LAPIC's 64-bit ICR keeps its high half at 0x304, and its ID, LDR and DFR copies follow a loaded image", () => {
    const vm = new Vm({ maxVcpus: 2 });
    vm.createVcpu(0);
    const apic = vm.vcpus[0].apic;
    apic.setReg64(0x300, 0x12345678_9abcdef0n);
    expect(apic.getReg(0x300)).toBe(0x9abcdef0);
    expect(apic.getReg(0x304)).toBe(0x12345678);
    expect(apic.getReg64(0x300)).toBe(0x12345678_9abcdef0n);
    const img = apic.image();
    img[0x20 >> 2] = 0x05000000;
    img[0xd0 >> 2] = 0x01000000;
    img[0xe0 >> 2] = 0x0fffffff;
    apic.loadImage(img);
    expect([apic.xapicId, apic.ldrWord, apic.dfrWord]).toEqual([5, 0x01000000, 0x0fffffff]);
  });
});

describe("a page's block and its own view are the same words", () => {
  it('newPage: block[at + i] is slots[i]; pages cut from one block (and across blocks) do not overlap', () => {
    const pages = Array.from({ length: 600 }, () => newPage()); // more than two blocks of 256
    pages.forEach((p, n) => p.slots.fill(n + 1));
    pages.forEach((p, n) => {
      expect(p.slots.length).toBe(65);
      expect([...p.block.subarray(p.at, p.at + p.slots.length)]).toEqual([...p.slots]);
      expect(p.slots.every((w) => w === n + 1)).toBe(true);
    });
    pages[3].block[pages[3].at + 2] = 0xdead;
    expect(pages[3].slots[2]).toBe(0xdead);
  });

  it("a LAPIC's setReg, setVector and getReg go through the block, and the snapshot's view sees them", () => {
    const vm = new Vm({ maxVcpus: 2 });
    vm.createVcpu(0);
    vm.createVcpu(1);
    const [a, b] = vm.vcpus.map((v) => v.apic);
    a.setReg(0x80, 0x42);
    a.setVector(0x200, 0x61, true);
    expect(a.slots[0x80 >> 4]).toBe(0x42);
    expect(a.slots[(0x200 >> 4) + 3]).toBe(1 << 1);
    expect(a.getReg(0x230)).toBe(1 << 1);
    expect(b.getReg(0x80)).toBe(0);
    expect(b.getReg(0x230)).toBe(0);
  });
});
