/**
 * What each panel shows, for a learner: the KVM concept behind it in plain words first, then the
 * KVM functions to read. The "?" of each panel renders one of these.
 */
import type { KvmFunction } from '../core/decisions';

export interface PanelHelp {
  /** One line: what the panel is. */
  summary: string;
  /** A few short paragraphs, plain words first. */
  body: string[];
  /** How to read the panel's pictures, if it has any. */
  legend?: string[];
  /** Where to read the code. */
  read: (KvmFunction | string)[];
}

export const PANEL_HELP: Record<string, PanelHelp> = {
  vCPUs: {
    summary: 'Every virtual CPU of the VM and the state of its local APIC.',
    body: [
      'Each vCPU has a local APIC: the part of the CPU that receives interrupts. Its mode comes from the IA32_APIC_BASE MSR: disabled, xAPIC (registers in a 4 KiB page of memory) or x2APIC (registers as MSRs).',
      'The xAPIC ID is 8 bits, so vCPUs 256 and up answer to their id & 0xff in xAPIC mode; the x2APIC ID is the full 32-bit vcpu_id. The LDR is the logical ID used by logical destinations.',
      'EN and x2 write IA32_APIC_BASE as the guest would (WRMSR); an illegal change is refused with a #GP, and the rule that fired is shown.',
    ],
    read: ['kvm_apic_set_base', 'kvm_lapic_reset', 'kvm_apic_accept_events'],
  },
  'Optimized APIC map': {
    summary: "KVM's lookup table from APIC IDs to vCPUs, which lets it deliver an interrupt without asking every vCPU.",
    body: [
      'To deliver an interrupt KVM must find the vCPUs whose APIC matches the destination. Asking every vCPU (the slow path) costs time in big VMs, so KVM keeps a map: phys_map[APIC ID] points at the vCPU with that ID, and logical tables do the same for logical IDs (the fast path).',
      'Physical destinations name one APIC ID; logical destinations name a bit mask (xAPIC flat: 8 bits; cluster: a cluster number and 4 bits; x2APIC: a 16-bit cluster and 16 bits).',
      'KVM rebuilds the map whenever an ID, an LDR, the DFR, the software enable or the APIC mode changes. When two vCPUs claim the same physical ID (without 32-bit IDs) there is no map at all; when logical IDs clash the logical part is disabled. Either way interrupts take the slow path.',
    ],
    legend: [
      'Slots: one box per physical APIC ID up to max_apic_id, labelled with the vCPU it points at; empty boxes are IDs no vCPU has. The last interrupt\'s route is drawn on them.',
      'Density view (big VMs): each cell is one APIC ID; coloured cells hold a vCPU, highlighted ones are on the last route.',
    ],
    read: ['kvm_recalculate_apic_map', 'kvm_recalculate_phys_map', 'kvm_recalculate_logical_map', 'kvm_apic_map_get_dest_lapic', 'kvm_irq_delivery_to_apic'],
  },
  ICR: {
    summary: 'The Interrupt Command Register: how a vCPU sends an interrupt (an IPI) to others.',
    body: [
      'A guest sends an IPI by writing the ICR: a vector, a delivery mode (Fixed, NMI, INIT, StartUp...), a destination mode (physical or logical), a shorthand (self, all, all but self) and a destination ID.',
      'In xAPIC mode the destination is in ICR2 (bits 31:24) and writing the low half sends; in x2APIC mode the ICR is one 64-bit MSR with the destination in bits 63:32.',
      'An MSI is the same kind of message sent by a device (here: KVM_SIGNAL_MSI). After sending, the panel shows the path KVM took, the vCPUs it reached, and why any dropped it.',
      'Send PV IPI makes the hypercall a Linux guest on KVM uses for most IPIs (KVM_HC_SEND_IPI): a bitmap of APIC IDs instead of an ICR write per target, here just the destination. KVM looks the IDs up in the optimized map only: without the map the IPI is lost (-EOPNOTSUPP).',
    ],
    read: ['kvm_apic_send_ipi', 'kvm_x2apic_icr_write', 'kvm_irq_delivery_to_apic', '__apic_accept_irq', 'kvm_set_msi_irq', 'kvm_pv_send_ipi'],
  },
  'Register page': {
    summary: 'The selected vCPU\'s local APIC registers, as KVM keeps them (what KVM_GET_LAPIC returns).',
    body: [
      'IRR holds interrupts that arrived and wait; ISR those the CPU is handling now; TMR marks level-triggered ones. Each is 256 bits, one per vector.',
      'TPR is the priority the guest set; PPR, the processor priority, is the higher of TPR and the priority class of the highest in-service vector. A waiting vector is taken only if its class (vector / 16) is above PPR\'s.',
      'Click a value to write it as the guest would (an MMIO store in xAPIC mode, WRMSR in x2APIC mode). Each row says what a guest access does in the current mode: RW, RO, WO or a #GP.',
      'The APIC timer lane: each local APIC has a timer. In one-shot and periodic mode it counts down from the initial count (TMICT) at the bus clock divided by TDCR; in TSC-deadline mode it fires when the guest\'s time-stamp counter reaches the value written to MSR 0x6E0. The lab\'s guest clock stands still until you let time pass with the lane\'s buttons, so you can watch the current count (TMCCT) fall.',
      'When the timer expires, KVM only marks the expiry pending: the interrupt reaches the IRR when the vCPU next enters the guest (run vCPU, or any guest access here). A periodic timer whose expiry is still pending loses the later ones, and KVM never lets its period be shorter than 200 µs. With LVTT masked the timer still expires, but nothing is delivered.',
      'Local sources: besides the timer, the LVT entries route the LINT0 and LINT1 pins, performance-counter overflows (PERF) and corrected machine checks (CMCI) into this APIC; the NMI watchdog ticks through LVT0.',
    ],
    legend: [
      'Vector grids: 16 rows by 16 columns; the vector is row x 16 + column (row 3, column 0 is vector 0x30 = 48).',
      'Timer lane: the bar is the time left until the next expiry, out of one period; "expiry pending" is an expiry that waits for the vCPU to run.',
    ],
    read: ['kvm_lapic_reg_write', 'kvm_lapic_reg_read', 'apic_update_ppr', 'kvm_apic_get_state', 'apic_timer_expired', 'kvm_inject_apic_timer_irqs', 'kvm_apic_local_deliver'],
  },
  'Event log': {
    summary: 'Every action taken, as a step of a scenario, with its result and the KVM trace it left.',
    body: [
      'Each line is one step: what was done, and what KVM answered (ok, a #GP, an errno, the vCPUs an interrupt reached).',
      'Click a step to see the state right after it (time travel); undo and redo move one step. Acting in the past keeps the undone steps aside, so nothing is lost.',
      'The trace lines use the kernel\'s own tracepoint formats (trace-cmd report), so a copied trace can be imported back.',
    ],
    read: ['kvm_lapic_reg_write', 'kvm_apic_send_ipi'],
  },
  'Alias conflicts': {
    summary: 'APIC IDs that more than one vCPU answers to, and what KVM does about each.',
    body: [
      'Architecturally, an interrupt to a shared ID goes to every APIC with that ID. KVM\'s map has one slot per ID, so it must choose: without 32-bit IDs it drops the map (everything takes the slow path); with 32-bit IDs (the "hotplug hack", for VMs above 255 vCPUs) the first vCPU keeps the slot.',
      'Each row shows who shares the ID, who a Fixed IPI to it reaches now, and why.',
    ],
    read: ['kvm_recalculate_phys_map', 'kvm_apic_match_physical_addr', 'kvm_apic_map_get_dest_lapic'],
  },
  'APICv inhibits': {
    summary: 'Why hardware APIC virtualization (Intel APICv, AMD AVIC) is on or off.',
    body: [
      'With APICv or AVIC the CPU itself handles many APIC accesses and interrupts without leaving the guest. Some situations it cannot handle (aliased IDs, a relocated APIC base, nested guests on AMD), so KVM sets an inhibit reason and turns it off for the whole VM until every reason clears. Sticky reasons never clear.',
      'The APIC-access page is the memory page at 0xfee00000 that lets the CPU virtualize xAPIC MMIO. With AVIC but no x2AVIC, KVM deletes it for good once a vCPU enters x2APIC mode.',
    ],
    read: ['kvm_set_or_clear_apicv_inhibit', 'kvm_recalculate_apic_map', 'kvm_lapic_set_base', 'kvm_inhibit_apic_access_page'],
  },
};
