/**
 * The panels that have a "?" help. The help texts themselves (help.ts) are loaded when a "?" is
 * first opened (Panel.tsx); help.test.ts checks that this list names exactly the panels they cover.
 */
export const HELP_TITLES: readonly string[] = ['vCPUs', 'Optimized APIC map', 'ICR', 'Register page', 'Event log', 'Alias conflicts', 'APICv inhibits'];
