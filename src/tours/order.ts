/** The tours' ids in the order the app lists them (index.ts bundles the documents in this order). */
export const TOUR_IDS = ['beginner', 'apic-timer', 'x2apic-icr', 'aliased-ids', 'avic-x2apic', 'init-sipi', 'apic-base'] as const;

/**
 * The Tours menu: each tour's id and title (its document's `title`), in TOUR_IDS order. The
 * documents themselves are loaded when a tour starts (src/ui/tour/lazy.tsx); tours.test.ts checks
 * that these titles are theirs.
 */
export const TOUR_MENU: readonly { id: (typeof TOUR_IDS)[number]; title: string }[] = [
  { id: 'beginner', title: 'First steps: a local APIC sends and takes an interrupt' },
  { id: 'apic-timer', title: 'The APIC timer: one-shot, periodic and TSC-deadline' },
  { id: 'x2apic-icr', title: 'The x2APIC ICR is one 64-bit register' },
  { id: 'aliased-ids', title: 'Aliased 8-bit APIC IDs: the hotplug hack only with 32-bit IDs' },
  { id: 'avic-x2apic', title: 'AVIC without x2AVIC: the APIC-access page must go' },
  { id: 'init-sipi', title: 'INIT and SIPI: AP bring-up, VMX root, and a nested guest waiting for SIPI' },
  { id: 'apic-base', title: 'Relocating the APIC base: software follows, hardware does not' },
];
