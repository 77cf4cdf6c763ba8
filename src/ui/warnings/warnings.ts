/**
 * Where KVM surprises: a pure function from the snapshot, the last step's result and the alias
 * conflicts to a short list of warnings (the VM bar shows them). Each comes from a decision the
 * core recorded (the last delivery's route, the last map rebuild's findings) or from the
 * snapshot's registers, says what happened in words made by src/explain, and names its vCPUs;
 * `detail` carries the longer why.
 */
import type { MapDecision } from '../../core/decisions';
import { explain, type Now } from '../../explain/explain';
import {
  findingsLike, ipiAliasWarning, ipiDroppedWarning, logicalAliasArchitecture, logicalIpiWarning, physicalAliasArchitecture,
  relocatedBaseWarning, routeWords, truncatedWarning,
} from '../../explain/panels';
import { field, type FinalState, type StepResult } from '../../scenario/result';
import { physicalIdOf, type ConflictReport } from '../conflicts/aliases';

export interface Warning {
  level: 'warn' | 'info';
  text: string;
  /** The whole explanation, standing alone (the tooltip): the text's words, then the why. */
  detail: string;
  vcpus: number[];
  /** The KVM function that decided, when a decision did. */
  kvm?: string;
  /** Stable key for lists. */
  key: string;
}

const DEFAULT_APIC_BASE = 0xfee00000n;
const MSR_IA32_APICBASE_ENABLE = 1n << 11n;
const BASE_MASK = ~0xfffn;

/** Map findings worth a warning, and how loud; findings of one kind beyond MAX_PER_CODE fold into one. */
const MAP_LEVELS: Partial<Record<MapDecision['code'], Warning['level']>> = {
  VCPU_NOT_ONLINE: 'warn',
  PHYS_ID_ALIASED: 'warn',
  HOTPLUG_FIRST_WINS: 'warn',
  LOGICAL_ID_ALIASED: 'warn',
  LOGICAL_SLOT_OVERWRITTEN: 'warn',
  XAPIC_ID_MISMATCH: 'info',
  LOGICAL_MODES_MIXED: 'info',
  LOGICAL_ID_MULTI_BIT: 'info',
};
const MAX_PER_CODE = 3;

/** Explanations one a line (each already in src/explain's words). */
const sentences = (...parts: string[]) => parts.join('\n');

/**
 * Is the vCPU's APIC enabled at a moved base? Kept per vCPU record: a step keeps the records of
 * the vCPUs it did not change, and parsing 4096 APICBASE values on every click cost 0.4 ms.
 */
const relocatedMemo = new WeakMap<FinalState['vcpus'][number], boolean>();
function isRelocated(v: FinalState['vcpus'][number]): boolean {
  let r = relocatedMemo.get(v);
  if (r === undefined) {
    const base = BigInt(v.apicBase);
    relocatedMemo.set(v, (r = (base & MSR_IA32_APICBASE_ENABLE) !== 0n && (base & BASE_MASK) !== DEFAULT_APIC_BASE));
  }
  return r;
}

const longWords = (decisions: readonly (MapDecision | undefined)[], now: Now) =>
  decisions.flatMap((d) => (d ? [explain(d, 'long', now)] : []));

export function computeWarnings(s: FinalState, last: StepResult | null, report: ConflictReport): Warning[] {
  const now: Now = { x2apicFormat: s.caps.x2apicFormat };
  const mapWhy = s.map.why ?? [];
  const out: Warning[] = [];

  // The last IPI or MSI, as the core routed it: fewer vCPUs than hardware would reach, or an empty slot.
  const route = last ? field(last, 'route') : undefined;
  if (route?.path === 'fast') {
    const selected = new Set(route.vcpus);
    const empty = new Set(route.emptySlots);
    for (const id of route.physSlots ?? []) {
      if (empty.has(id)) {
        const owners = s.vcpus.filter((v) => (v.mode === 'xapic' || v.mode === 'x2apic') && physicalIdOf(v) === id).map((v) => v.vcpu);
        if (!owners.length) continue;
        const ownerSet = new Set(owners);
        const notOnline = mapWhy.filter((d) => d.code === 'VCPU_NOT_ONLINE' && d.vcpus.some((v) => ownerSet.has(v)));
        const text = ipiDroppedWarning(id, owners);
        out.push({ level: 'warn', key: `ipi-dropped-${id}`, text, detail: sentences(text, routeWords(route, 'long'), ...longWords(notOnline, now)), vcpus: owners, kvm: route.kvm });
        continue;
      }
      const conflict = report.physical.find((c) => c.apicId === id);
      if (!conflict) continue;
      const sharing = conflict.members.map((m) => m.vcpu);
      const got = sharing.filter((v) => selected.has(v));
      if (got.length === sharing.length) continue;
      const text = ipiAliasWarning(id, got, sharing);
      const detail = sentences(text, routeWords(route, 'long'), ...longWords(conflict.why, now), physicalAliasArchitecture(id, sharing));
      out.push({ level: 'warn', key: `ipi-alias-${id}`, text, detail, vcpus: sharing, kvm: route.kvm });
    }
    const slots = new Set(route.logicalSlots);
    for (const c of report.logical) {
      if (route.logicalMode !== c.mode || !slots.has(c.bit) || (c.cluster !== null && c.cluster !== route.cluster)) continue;
      const got = c.vcpus.filter((v) => selected.has(v));
      if (got.length === c.vcpus.length) continue;
      const text = logicalIpiWarning(c.logicalId, got, c.vcpus);
      const detail = sentences(text, routeWords(route, 'long'), ...longWords(c.why, now), logicalAliasArchitecture(c.cluster, c.bit, c.vcpus));
      out.push({ level: 'warn', key: `ipi-logical-${c.mode}-${c.cluster}-${c.bit}`, text, detail, vcpus: c.vcpus, kvm: route.kvm });
    }
  }

  // What the last map rebuild found (and the vCPUs it could not see), in explain's words.
  const byCode = new Map<MapDecision['code'], MapDecision[]>();
  for (const d of mapWhy) if (MAP_LEVELS[d.code]) byCode.set(d.code, [...(byCode.get(d.code) ?? []), d]);
  for (const [code, decisions] of byCode) {
    const level = MAP_LEVELS[code]!;
    const shown = decisions.length > MAX_PER_CODE ? [decisions[0]] : decisions;
    shown.forEach((d, i) => {
      const folded = decisions.length > MAX_PER_CODE;
      out.push({
        level,
        key: code === 'VCPU_NOT_ONLINE' && !i ? 'missing-from-map' : `map-${code}-${i}`,
        text: folded ? findingsLike(decisions.length, explain(d, 'short', now)) : explain(d, 'short', now),
        detail: folded ? sentences(...decisions.slice(0, 8).map((x) => explain(x, 'short', now))) : explain(d, 'long', now),
        vcpus: folded ? [...new Set(decisions.flatMap((x) => x.vcpus))] : d.vcpus,
        kvm: d.kvm,
      });
    });
  }

  const relocated = s.vcpus.filter(isRelocated);
  if (relocated.length) {
    const ids = relocated.map((r) => r.vcpu);
    const w = relocatedBaseWarning(ids, BigInt(relocated[0].apicBase) & BASE_MASK);
    out.push({ level: 'warn', key: 'apic-base', text: w.text, detail: sentences(w.text, w.detail), vcpus: ids, kvm: s.inhibitWhy.APIC_BASE_MODIFIED?.kvm });
  }

  if (report.truncated.length) {
    const w = truncatedWarning(report.truncated);
    const hack = report.reachedBy32BitId;
    out.push({ level: 'info', key: 'truncated', text: w.text, detail: sentences(w.text, w.detail, ...longWords([hack ?? undefined], now)), vcpus: report.truncated.map((x) => x.vcpu), kvm: hack?.kvm });
  }

  return out.sort((a, b) => (a.level === b.level ? 0 : a.level === 'warn' ? -1 : 1));
}
