/** The tours' ids in the order the app lists them (index.ts bundles the documents in this order). */
export const TOUR_IDS = ['beginner', 'apic-timer', 'x2apic-icr', 'aliased-ids', 'avic-x2apic', 'init-sipi', 'apic-base'] as const;
