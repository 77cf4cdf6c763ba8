/**
 * Replay one scenario under two KVM releases and list what differs: per step, the result fields
 * that differ; at the end, every differing leaf of the final state. Pure; used by the UI's
 * compare mode and its tests.
 */
import { runScenario } from './runner';
import { resultFields, type ScenarioResult, type StepResult } from './result';
import type { Scenario } from './schema';

export interface StepDiff {
  i: number;
  op: string;
  a: StepResult;
  b: StepResult;
  /** Result fields whose values differ (trace excluded). */
  fields: string[];
}

export interface LeafDiff {
  path: string;
  a: unknown;
  b: unknown;
}

export interface ReleaseComparison {
  a: string;
  b: string;
  steps: StepDiff[];
  final: LeafDiff[];
  /** A release under which the scenario is invalid, with the message. */
  error?: string;
}

const IGNORED = new Set(['trace', 'i', 'op']);

/** Every leaf where `a` and `b` differ, by path (`vcpus[1].mode`). */
export function diffLeaves(a: unknown, b: unknown, path = '', out: LeafDiff[] = []): LeafDiff[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
  if (Array.isArray(a) && Array.isArray(b) && a.every((x) => !isObj(x)) && b.every((x) => !isObj(x))) {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path, a, b });
  } else if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
      diffLeaves((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], p, out);
    }
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push({ path, a, b });
  }
  return out;
}

function run(scenario: Scenario, kvm: string): ScenarioResult {
  return runScenario({ ...scenario, vm: { ...scenario.vm, kvm } });
}

export function compareReleases(scenario: Scenario, a: string, b: string): ReleaseComparison {
  let ra: ScenarioResult, rb: ScenarioResult;
  try {
    ra = run(scenario, a);
    rb = run(scenario, b);
  } catch (e) {
    return { a, b, steps: [], final: [], error: (e as Error).message };
  }
  const steps = ra.steps.map((x, n): StepDiff => {
    const y = rb.steps[n];
    const fx = resultFields(x);
    const fy = resultFields(y);
    const fields = [...new Set([...Object.keys(fx), ...Object.keys(fy)])].filter((f) => !IGNORED.has(f) && JSON.stringify(fx[f]) !== JSON.stringify(fy[f]));
    return { i: x.i, op: x.op, a: x, b: y, fields };
  });
  return { a, b, steps, final: diffLeaves(ra.final, rb.final) };
}
