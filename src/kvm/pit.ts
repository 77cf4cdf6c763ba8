/**
 * KVM's NMI watchdog, ticked for real: an in-kernel i8254 PIT whose channel 0 fires once. Node only.
 *
 * What the kernel does on a PIT tick (arch/x86/kvm/i8254.c, pit_do_work on the VM's `kvm-pit`
 * worker thread): raise and lower IRQ0 (GSI 0: the PIC's IRQ0 and the I/O APIC's pin 2), then,
 * if any LAPIC has LVT0 in NMI mode (kvm->arch.vapics_in_nmi_mode), kvm_apic_nmi_wd_deliver() on
 * every vCPU: kvm_apic_local_deliver(APIC_LVT0). That last part is the model's `nmi_watchdog`.
 *
 * How one tick is made and waited for:
 * - once: KVM_CREATE_PIT2; KVM_REINJECT_CONTROL off (with reinjection, a tick waits until the
 *   guest has acknowledged the previous IRQ0, which this guest never does); every PIC input masked
 *   (KVM_SET_IRQCHIP, IMR 0xff), so that IRQ0 never reaches a vCPU as ExtINT (the I/O APIC's pins
 *   are masked from reset);
 * - per tick: clear the PIC's IRR bit 0; KVM_SET_PIT2 with channel 0 in mode 0 (interrupt on
 *   terminal count: one tick) and count 1 (838 ns); wait until the PIC's IRR bit 0 is set (the
 *   worker has reached pit_do_work); then KVM_SET_PIT2 with channel 0 in mode 5, which KVM does
 *   not run (destroy_pit_timer: hrtimer_cancel and kthread_flush_work), so it returns only once
 *   pit_do_work, NMI watchdog included, has finished.
 */
import type { KvmVm } from './kvmIoctl';
import { hostNowNs, sleepUntil } from './hostTime';

const PIC_MASTER = 0;
/** struct kvm_irqchip: the chip union starts at 8; struct kvm_pic_state: last_irr, irr, imr, ... */
const PIC_LAST_IRR = 8;
const PIC_IRR = 9;
const PIC_IMR = 10;
/** struct kvm_pit_channel_state (24 bytes): u32 count at 0, u8 mode at 13. */
const CHANNEL0_COUNT = 0;
const CHANNEL0_MODE = 13;
/** How long a tick may take to reach the worker before the backend gives up (a very loaded host). */
const TICK_TIMEOUT_NS = 2_000_000_000n;

export class InKernelPit {
  private constructor(private readonly vm: KvmVm) {}

  /** The VM's PIT, set up for single ticks; or why there can be none. */
  static create(vm: KvmVm): InKernelPit | string {
    const err = vm.createPit2();
    if (err) return `KVM_CREATE_PIT2 fails with ${err}, so there is no in-kernel PIT to tick the NMI watchdog`;
    const off = vm.setPitReinject(false);
    if (off) return `KVM_REINJECT_CONTROL fails with ${off}: the PIT would hold back every tick after the first (the guest never acknowledges IRQ0)`;
    const pic = vm.getIrqchip(PIC_MASTER);
    pic[PIC_IMR] = 0xff;
    const masked = vm.setIrqchip(pic);
    if (masked) return `KVM_SET_IRQCHIP fails with ${masked}, so the PIT's IRQ0 could reach a vCPU as ExtINT`;
    return new InKernelPit(vm);
  }

  private setChannel0(mode: number, count: number): void {
    const state = this.vm.getPit2();
    const dv = new DataView(state.buffer, state.byteOffset, state.byteLength);
    dv.setUint32(CHANNEL0_COUNT, count, true);
    state[CHANNEL0_MODE] = mode;
    const err = this.vm.setPit2(state);
    if (err) throw new Error(`KVM_SET_PIT2 failed: ${err}`);
  }

  private picIrr0(): boolean {
    return (this.vm.getIrqchip(PIC_MASTER)[PIC_IRR] & 1) !== 0;
  }

  /** One PIT tick, returning once the kernel has run its NMI watchdog for it. */
  tick(): void {
    const pic = this.vm.getIrqchip(PIC_MASTER);
    pic[PIC_IRR] &= ~1;
    pic[PIC_LAST_IRR] &= ~1;
    const err = this.vm.setIrqchip(pic);
    if (err) throw new Error(`KVM_SET_IRQCHIP failed: ${err}`);
    this.setChannel0(0, 1);
    const start = hostNowNs();
    while (!this.picIrr0()) {
      if (hostNowNs() - start > TICK_TIMEOUT_NS) throw new Error('the PIT tick did not reach the PIC within 2 s');
      sleepUntil(hostNowNs() + 50_000n);
    }
    this.setChannel0(5, 1); // flushes the worker: pit_do_work has returned
  }
}
