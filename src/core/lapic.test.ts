import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeVm, mmioR, mmioW, toX2apic, vcpu } from './testVm';
import { SLOT_OFFSETS } from './apicdef';
import { slotReadable, slotWritable } from './lapic';

describe('xAPIC register writes (kvm_lapic_reg_write)', () => {
  it('ID keeps only bits 31:24 and is writable (KVM honours xAPIC ID writes)', () => {
    const vm = makeVm();
    mmioW(vm, 1, 0x20, 0x12345678);
    expect(mmioR(vm, 1, 0x20)).toBe(0x12000000);
    expect(vcpu(vm, 1).apic.xapicId).toBe(0x12);
  });

  it('TPR keeps 8 bits and PPR follows TPR when nothing is in service', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0x80, 0xffffffff);
    expect(mmioR(vm, 0, 0x80)).toBe(0xff);
    expect(mmioR(vm, 0, 0xa0)).toBe(0xff);
  });

  it('PPR is the ISR class when it is above the TPR class (__apic_update_ppr)', () => {
    const vm = makeVm();
    const a = vcpu(vm, 0).apic;
    a.setIsr(0x61);
    mmioW(vm, 0, 0x80, 0x25);
    expect(mmioR(vm, 0, 0xa0)).toBe(0x60);
    mmioW(vm, 0, 0x80, 0x75);
    expect(mmioR(vm, 0, 0xa0)).toBe(0x75);
  });

  it('LDR keeps bits 31:24; DFR forces bits 27:0 to one', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0xd0, 0x12345678);
    expect(mmioR(vm, 0, 0xd0)).toBe(0x12000000);
    mmioW(vm, 0, 0xe0, 0);
    expect(mmioR(vm, 0, 0xe0)).toBe(0x0fffffff);
  });

  it('SPIV keeps bits 9:0 (no directed EOI with the in-kernel IOAPIC) and toggles sw_enabled', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0xf0, 0xffffffff);
    expect(mmioR(vm, 0, 0xf0)).toBe(0x3ff);
    expect(vcpu(vm, 0).apic.swEnabled).toBe(true);
  });

  it('LVT writes are forced masked while software-disabled, and masked by type', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0x370, 0xffffffff);
    expect(mmioR(vm, 0, 0x370)).toBe(0x110ff);
    mmioW(vm, 0, 0xf0, 0x1ff);
    mmioW(vm, 0, 0x370, 0x000000ef);
    expect(mmioR(vm, 0, 0x370)).toBe(0xef);
    mmioW(vm, 0, 0x350, 0xffffffff);
    expect(mmioR(vm, 0, 0x350)).toBe(0x1f7ff);
    mmioW(vm, 0, 0x330, 0xffffffff);
    expect(mmioR(vm, 0, 0x330)).toBe(0x117ff);
    mmioW(vm, 0, 0x320, 0xffffffff);
    expect(mmioR(vm, 0, 0x320)).toBe(0x710ff); // TSC-deadline in CPUID: mode bits 18:17
  });

  it('LVT timer mode is bit 17 only without TSC-deadline in CPUID', () => {
    const vm = makeVm([0], { tscDeadline: false });
    mmioW(vm, 0, 0xf0, 0x1ff);
    mmioW(vm, 0, 0x320, 0xffffffff);
    expect(mmioR(vm, 0, 0x320)).toBe(0x310ff);
  });

  it('software disable masks every LVT', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0xf0, 0x1ff);
    mmioW(vm, 0, 0x370, 0x30);
    mmioW(vm, 0, 0xf0, 0x0ff);
    expect(mmioR(vm, 0, 0x370)).toBe(0x10030);
    expect(mmioR(vm, 0, 0x350)).toBe(0x10700);
  });

  it('entering TSC-deadline mode zeroes TMICT, and TMICT writes are then ignored (apic_update_lvtt)', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0xf0, 0x1ff);
    mmioW(vm, 0, 0x380, 1000);
    expect(mmioR(vm, 0, 0x380)).toBe(1000);
    mmioW(vm, 0, 0x320, 0x40000);
    expect(mmioR(vm, 0, 0x380)).toBe(0);
    mmioW(vm, 0, 0x380, 1000);
    expect(mmioR(vm, 0, 0x380)).toBe(0);
  });

  it('TDCR keeps bits 3,1,0; ESR always reads 0; ARBPRI reads 0', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0x3e0, 0xffffffff);
    expect(mmioR(vm, 0, 0x3e0)).toBe(0xb);
    mmioW(vm, 0, 0x280, 0xffffffff);
    expect(mmioR(vm, 0, 0x280)).toBe(0);
    expect(mmioR(vm, 0, 0x90)).toBe(0);
  });

  it('ICR2 keeps bits 31:24 and the ICR busy bit is always clear', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0x310, 0xffffffff);
    expect(mmioR(vm, 0, 0x310)).toBe(0xff000000);
    mmioW(vm, 0, 0x300, 0x000010ff);
    expect(mmioR(vm, 0, 0x300)).toBe(0xff);
  });

  it('EOI clears the highest ISR bit', () => {
    const vm = makeVm();
    const a = vcpu(vm, 0).apic;
    a.setIsr(0x40);
    a.setIsr(0x80);
    mmioW(vm, 0, 0xb0, 0);
    expect(a.vectors(0x100)).toEqual([0x40]);
  });

  it('read-only, write-only and reserved slots: writes ignored, reads give no data (KVM writes none)', () => {
    const vm = makeVm();
    mmioW(vm, 0, 0x30, 0);
    expect(mmioR(vm, 0, 0x30)).toBe(0x50014);
    const v = vcpu(vm, 0);
    const at = (off: number) => vm.mmioRead(v, BigInt(v.apic.baseAddress) + BigInt(off));
    expect(at(0xb0)).toEqual({ unreadable: true }); // EOI is write-only
    expect(at(0x3f0)).toEqual({ unreadable: true }); // SELF_IPI is not an xAPIC register
    expect(at(0x40)).toEqual({ unreadable: true });
  });
});

describe('xAPIC MMIO mechanics (apic_mmio_read / apic_mmio_write)', () => {
  it('byte and word reads return the register bytes; crossing 4 bytes returns nothing', () => {
    const vm = makeVm();
    const v = vcpu(vm, 1);
    const base = BigInt(v.apic.baseAddress);
    expect(vm.mmioRead(v, base + 0x23n, 1)).toEqual({ value: 1 });
    expect(vm.mmioRead(v, base + 0x32n, 2)).toEqual({ value: 5 });
    expect(vm.mmioRead(v, base + 0x33n, 2)).toEqual({ unreadable: true });
  });

  it('non-4-byte or unaligned writes are dropped', () => {
    const vm = makeVm();
    const v = vcpu(vm, 0);
    const base = BigInt(v.apic.baseAddress);
    vm.mmioWrite(v, base + 0x80n, 0x55, 2);
    vm.mmioWrite(v, base + 0x84n, 0x55, 4);
    expect(mmioR(vm, 0, 0x80)).toBe(0);
  });

  it('x2APIC mode leaves an all-ones hole (KVM_X86_QUIRK_LAPIC_MMIO_HOLE)', () => {
    const vm = makeVm();
    toX2apic(vm, 0);
    expect(mmioR(vm, 0, 0x30)).toBe(0xffffffff);
  });

  it('without the quirk the window is not claimed', () => {
    const vm = makeVm([0], { quirks: { lint0Reenabled: true, lapicMmioHole: false } });
    toX2apic(vm, 0);
    expect(mmioR(vm, 0, 0x30)).toBe('unclaimed');
  });

  it('addresses outside the window are not claimed', () => {
    const vm = makeVm();
    expect(mmioR(vm, 0, 0x1000)).toBe('unclaimed');
  });
});

describe('x2APIC MSRs (kvm_x2apic_msr_read / _write)', () => {
  it('MSR access #GPs outside x2APIC mode', () => {
    const vm = makeVm();
    expect(vm.rdmsr(vcpu(vm, 0), 0x802, false).ok).toBe(false);
    expect(vm.wrmsr(vcpu(vm, 0), 0x808, 0n, false)).toMatchObject({ ok: false, fault: '#GP' });
  });

  it('the x2APIC ID is the vcpu_id and LDR is derived from it', () => {
    const vm = makeVm([0, 1, 17, 300]);
    for (const id of [17, 300]) toX2apic(vm, id);
    expect(vm.rdmsr(vcpu(vm, 300), 0x802, false).value).toBe(300n);
    expect(vm.rdmsr(vcpu(vm, 17), 0x80d, false).value).toBe(0x10002n);
    expect(vm.rdmsr(vcpu(vm, 300), 0x80d, false).value).toBe(0x00121000n) // cluster 18, bit 12;
  });

  it('read-only registers #GP on write; DFR, ICR2 and ARBPRI do not exist', () => {
    const vm = makeVm();
    toX2apic(vm, 0);
    const v = vcpu(vm, 0);
    for (const msr of [0x802, 0x803, 0x80a, 0x80d, 0x839]) expect(vm.wrmsr(v, msr, 0n, false).ok, `wrmsr ${msr.toString(16)}`).toBe(false);
    for (const msr of [0x809, 0x80e, 0x831]) expect(vm.rdmsr(v, msr, false).ok, `rdmsr ${msr.toString(16)}`).toBe(false);
    expect(vm.rdmsr(v, 0x83f, false).ok).toBe(false);
    expect(vm.rdmsr(v, 0x80b, false).ok).toBe(false);
  });

  it('bits 63:32 #GP on every register but the ICR (since 6.3)', () => {
    const vm = makeVm();
    toX2apic(vm, 0);
    expect(vm.wrmsr(vcpu(vm, 0), 0x808, 1n << 32n, false).ok).toBe(false);
    const old = makeVm([0], { kvm: '6.2' });
    toX2apic(old, 0);
    expect(old.wrmsr(vcpu(old, 0), 0x808, (1n << 32n) | 0x20n, false).ok).toBe(true);
    expect(old.rdmsr(vcpu(old, 0), 0x808, false).value).toBe(0x20n);
  });

  it('ESR accepts only 0; SELF_IPI rejects bits 31:8; EOI takes any value', () => {
    const vm = makeVm();
    toX2apic(vm, 0);
    const v = vcpu(vm, 0);
    expect(vm.wrmsr(v, 0x828, 0n, false).ok).toBe(true);
    expect(vm.wrmsr(v, 0x828, 1n, false).ok).toBe(false);
    expect(vm.wrmsr(v, 0x83f, 0x100n, false).ok).toBe(false);
    expect(vm.wrmsr(v, 0x80b, 0x1234n, false).ok).toBe(true);
  });

  it('the ICR is one 64-bit register; reserved bits #GP (6.12); busy is cleared', () => {
    const vm = makeVm();
    toX2apic(vm, 0);
    const v = vcpu(vm, 0);
    expect(vm.wrmsr(v, 0x830, 0x0000000500001030n, false).ok).toBe(true);
    expect(vm.rdmsr(v, 0x830, false).value).toBe(0x0000000500000030n);
    for (const bit of [13, 16, 17, 20, 31]) expect(vm.wrmsr(v, 0x830, 1n << BigInt(bit), false).ok, `bit ${bit}`).toBe(false);
  });

  it('<= 5.17: the x2APIC ICR high half lives in ICR2 and SELF_IPI overwrites the ICR', () => {
    const vm = makeVm([0], { kvm: '5.17' });
    toX2apic(vm, 0);
    const v = vcpu(vm, 0);
    vm.wrmsr(v, 0x830, 0x0000000500000030n, false);
    expect(v.apic.getReg(0x310)).toBe(5);
    vm.wrmsr(v, 0x83f, 0x31n, false);
    expect(vm.rdmsr(v, 0x830, false).value).toBe(0x0000000500040031n);
  });

  it('AMD (6.12+) keeps the ICR halves split at 0x300 / 0x310', () => {
    const vm = makeVm([0], { vendor: 'amd' });
    toX2apic(vm, 0);
    const v = vcpu(vm, 0);
    vm.wrmsr(v, 0x830, 0x0000000700000040n, false);
    expect(v.apic.getReg(0x310)).toBe(7);
    expect(v.apic.getReg(0x304)).toBe(0);
    expect(vm.rdmsr(v, 0x830, false).value).toBe(0x0000000700000040n);
  });

  it('any xAPIC register value written through MMIO reads back the same through the readable mask', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (val) => {
        const vm = makeVm([0]);
        mmioW(vm, 0, 0x80, val);
        return mmioR(vm, 0, 0x80) === (val & 0xff);
      }),
    );
  });
});

describe('ack (kvm_apic_has_interrupt + kvm_apic_ack_interrupt)', () => {
  it('takes the highest IRR vector whose class is above PPR and raises PPR', () => {
    const vm = makeVm();
    const a = vcpu(vm, 0).apic;
    a.setVector(0x200, 0x31, true);
    a.setVector(0x200, 0x52, true);
    mmioW(vm, 0, 0x80, 0x40);
    expect(a.hasInterrupt()).toBe(0x52);
    a.ackInterrupt(0x52);
    expect(a.vectors(0x100)).toEqual([0x52]);
    expect(a.hasInterrupt()).toBe(-1);
  });
});

describe('the register access tables (slotReadable, slotWritable) describe what the handlers do', () => {
  it('x2APIC: RDMSR and WRMSR of 0 fault exactly where the tables say', () => {
    for (const off of SLOT_OFFSETS) {
      const vm = makeVm([0, 1]);
      toX2apic(vm, 1);
      const v = vcpu(vm, 1);
      const msr = 0x800 + (off >> 4);
      expect(vm.rdmsr(v, msr, false).ok, `rdmsr ${msr.toString(16)}`).toBe(off === 0x300 || slotReadable(off, true, 6));
      expect(vm.wrmsr(v, msr, 0n, false).ok, `wrmsr ${msr.toString(16)}`).toBe(slotWritable(off, true, 6));
    }
  });

  it('xAPIC: a write changes a register only where the table says it is writable', () => {
    for (const off of SLOT_OFFSETS) {
      if (!slotReadable(off, false, 6) || off === 0xa0 || off === 0x390) continue; // PPR and TMCCT are computed
      const vm = makeVm([0, 1]);
      mmioW(vm, 1, 0xf0, 0x1ff);
      const before = mmioR(vm, 1, off);
      mmioW(vm, 1, off, 0x5a5a5a5a);
      const changed = mmioR(vm, 1, off) !== before;
      if (changed) expect(slotWritable(off, false, 6), `offset ${off.toString(16)}`).toBe(true);
      if (!slotWritable(off, false, 6)) expect(changed, `offset ${off.toString(16)}`).toBe(false);
    }
  });
});
