/**
 * Parse and validate an apic-scenario/1 document (scenario-format.md) with zod, turning every
 * problem into one line that names the step and the field, e.g.
 * `step 3 (wrmsr): value 0x1_0000_0000_0000_0000 does not fit in 64 bits`.
 */
import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { KVM_MAX_VCPUS } from '../core/vm';
import { releaseNumber, OLDEST_RELEASE } from '../core/profile';
import { fits, parseNumber } from './numbers';

// zod/mini: the same parser and messages as zod's classic API at a fifteenth of the bundled size (the
// page weight and the headless runner's start), with the English messages installed explicitly.
// No code generation: the app's Content-Security-Policy forbids eval, and zod would probe it.
z.config({ ...en(), jitless: true });

export class ScenarioInputError extends Error {}

/** Limits that keep the page and the runner alive on hostile input. */
export const MAX_STEPS = 200_000;
export const MAX_DOCUMENT_CHARS = 64 * 1024 * 1024;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The path of the first key that could reach an object's prototype, or of the first value nested
 * more than 64 levels deep; null if there is none. The walk visits every value of the document,
 * so the path is spelled out only for a hit, on the way back up.
 */
function forbiddenKey(doc: unknown): string | null {
  const hit = findForbidden(doc, 0);
  if (!hit) return null;
  let path = '';
  for (let i = hit.keys.length - 1; i >= 0; i--) {
    const { key, inArray } = hit.keys[i];
    path = inArray ? `${path}[${key}]` : path ? `${path}.${key}` : key;
  }
  return hit.tooDeep ? `${path} (nested more than 64 levels)` : path;
}

/** A forbidden key or too deep a value, with the keys that lead there, innermost first. */
interface ForbiddenHit {
  keys: { key: string; inArray: boolean }[];
  tooDeep: boolean;
}

/** A plain value inside one at `depth` that is not too deep holds nothing to find: no call for it. */
const plainBelowLimit = (x: unknown, depth: number) => depth < 64 && (typeof x !== 'object' || x === null);

function findForbidden(v: unknown, depth: number): ForbiddenHit | null {
  if (depth > 64) return { keys: [], tooDeep: true };
  if (typeof v !== 'object' || v === null) return null;
  if (Array.isArray(v)) {
    // A JSON array has only its elements: no key string made for each of 100,000 steps.
    for (let i = 0; i < v.length; i++) {
      const hit = plainBelowLimit(v[i], depth) ? null : findForbidden(v[i], depth + 1);
      if (hit) {
        hit.keys.push({ key: String(i), inArray: true });
        return hit;
      }
    }
    return null;
  }
  // for...in: a JSON object's own keys (it inherits none), without an array of them per object.
  for (const key in v) {
    if (FORBIDDEN_KEYS.has(key)) return { keys: [{ key, inArray: false }], tooDeep: false };
    const x = (v as Record<string, unknown>)[key];
    const hit = plainBelowLimit(x, depth) ? null : findForbidden(x, depth + 1);
    if (hit) {
      hit.keys.push({ key, inArray: false });
      return hit;
    }
  }
  return null;
}

/** A scenario number that must fit in `bits` bits, as a bigint. */
function num(bits: number) {
  return z.pipe(z.unknown(), z.transform((raw, ctx) => checkedNumber(raw, bits, ctx)));
}

/** `raw` as a number that fits in `bits` bits, or z.NEVER with the issue on the payload. */
function checkedNumber(raw: unknown, bits: number, ctx: z.core.ParsePayload): bigint {
  if (raw === undefined) return fail(ctx, raw, 'is missing');
  const v = parseNumber(raw);
  if (typeof v === 'string') return fail(ctx, raw, v);
  if (!fits(v, bits)) return fail(ctx, raw, `${typeof raw === 'string' ? raw : String(raw)} does not fit in ${bits} bits`);
  return v;
}

/**
 * A transform's issue. zod/mini's transform context has no addIssue: the issue goes on the payload
 * as it would. (A function of its own, not a closure made for each of a replay's 400,000 numbers.)
 */
function fail(ctx: z.core.ParsePayload, input: unknown, message: string): never {
  ctx.issues.push({ code: 'custom', message, input });
  return z.NEVER;
}

/** A vCPU id: a plain number below 2^32 (one transform, not num(32) piped into another: every step has one). */
const vcpuId = z.pipe(z.unknown(), z.transform((raw, ctx) => {
  const v = checkedNumber(raw, 32, ctx);
  return typeof v === 'bigint' ? Number(v) : v;
}));
const bool = z.boolean({ error: 'must be true or false' });

const regsImage = z.record(z.string(), num(32)).check(z.superRefine((regs, ctx) => {
  for (const k of Object.keys(regs)) {
    const off = /^0x[0-9a-f]{3}$/i.test(k) ? parseInt(k, 16) : NaN;
    if (!(off <= 0x3f0 && off % 16 === 0)) {
      ctx.addIssue({ code: 'custom', path: [k], message: `slot "${k}" is not one of "0x000".."0x3f0" (16-byte aligned)` });
    }
  }
}));

/** The LVT sources a `local_irq` step can raise (the timer fires through `advance`). */
export const LOCAL_SOURCES = ['LINT0', 'LINT1', 'PERF', 'CMCI'] as const;

/** The longest `advance`: an hour of guest time (longer is surely a unit mistake). */
export const MAX_ADVANCE_NS = 3_600_000_000_000n;

const mpStateName = z.enum(
  ['RUNNABLE', 'UNINITIALIZED', 'INIT_RECEIVED', 'HALTED', 'SIPI_RECEIVED', 'STOPPED', 'CHECK_STOP', 'OPERATING', 'LOAD', 'AP_RESET_HOLD', 'SUSPENDED'],
  { error: 'is not a KVM_MP_STATE name (RUNNABLE, UNINITIALIZED, INIT_RECEIVED, HALTED, SIPI_RECEIVED, ...)' },
);

/**
 * Fields every step may carry (extensions): a note; a tour's narration and the panels it is about
 * (`focus`: panel titles); fixture and tour expectations (`expectBefore`: under the tour's
 * release before the change).
 */
const common = {
  note: z.optional(z.string()),
  narration: z.optional(z.string()),
  focus: z.optional(z.array(z.string())),
  expect: z.optional(z.record(z.string(), z.unknown())),
  expectBefore: z.optional(z.record(z.string(), z.unknown())),
};

export const STEP_SCHEMAS = {
  wrmsr: z.object({ op: z.literal('wrmsr'), vcpu: vcpuId, msr: num(32), value: num(64), host: z.optional(bool), ...common }),
  rdmsr: z.object({ op: z.literal('rdmsr'), vcpu: vcpuId, msr: num(32), host: z.optional(bool), ...common }),
  mmio_write: z.object({ op: z.literal('mmio_write'), vcpu: vcpuId, offset: z.optional(num(32)), gpa: z.optional(num(64)), value: num(32), ...common }),
  mmio_read: z.object({ op: z.literal('mmio_read'), vcpu: vcpuId, offset: z.optional(num(32)), gpa: z.optional(num(64)), ...common }),
  get_lapic: z.object({ op: z.literal('get_lapic'), vcpu: vcpuId, ...common }),
  set_lapic: z.object({ op: z.literal('set_lapic'), vcpu: vcpuId, regs: regsImage, merge: z.optional(bool), ...common }),
  enable_cap: z.object({ op: z.literal('enable_cap'), cap: z.literal('X2APIC_API', { error: 'must be "X2APIC_API"' }), flags: num(64), ...common }),
  create_vcpu: z.object({ op: z.literal('create_vcpu'), vcpu: vcpuId, ...common }),
  ack: z.object({ op: z.literal('ack'), vcpu: vcpuId, ...common }),
  run: z.object({ op: z.literal('run'), vcpu: vcpuId, ...common }),
  get_mp_state: z.object({ op: z.literal('get_mp_state'), vcpu: vcpuId, ...common }),
  set_mp_state: z.object({ op: z.literal('set_mp_state'), vcpu: vcpuId, state: mpStateName, ...common }),
  msi: z.object({ op: z.literal('msi'), addressLo: num(32), addressHi: z.optional(num(32)), data: num(32), ...common }),
  vmxon: z.object({ op: z.literal('vmxon'), vcpu: vcpuId, ...common }),
  vmxoff: z.object({ op: z.literal('vmxoff'), vcpu: vcpuId, ...common }),
  enter_guest: z.object({
    op: z.literal('enter_guest'), vcpu: vcpuId,
    activity: z.optional(z.enum(['active', 'wait-for-sipi'], { error: 'must be "active" or "wait-for-sipi"' })),
    interceptInit: z.optional(bool), ...common,
  }),
  leave_guest: z.object({ op: z.literal('leave_guest'), vcpu: vcpuId, ...common }),
  enter_smm: z.object({ op: z.literal('enter_smm'), vcpu: vcpuId, ...common }),
  rsm: z.object({ op: z.literal('rsm'), vcpu: vcpuId, ...common }),
  clgi: z.object({ op: z.literal('clgi'), vcpu: vcpuId, ...common }),
  stgi: z.object({ op: z.literal('stgi'), vcpu: vcpuId, ...common }),
  advance: z
    .object({
      op: z.literal('advance'),
      ns: z.optional(num(64).check(z.refine((n) => n <= MAX_ADVANCE_NS, { message: `must be at most ${MAX_ADVANCE_NS} (one hour of guest time)` }))),
      until: z.optional(z.literal('next-timer-expiry', { error: 'must be "next-timer-expiry"' })),
      ...common,
    })
    .check(z.refine((s) => (s.ns === undefined) !== (s.until === undefined), { message: 'needs either ns or until, not both' })),
  local_irq: z.object({
    op: z.literal('local_irq'), vcpu: vcpuId,
    lvt: z.enum(LOCAL_SOURCES, { error: `must be one of ${LOCAL_SOURCES.join(', ')} (KVM raises no error or thermal interrupt; the timer fires by itself)` }),
    ...common,
  }),
  nmi_watchdog: z.object({ op: z.literal('nmi_watchdog'), ...common }),
  pv_send_ipi: z.object({
    op: z.literal('pv_send_ipi'), vcpu: vcpuId,
    bitmapLow: num(64), bitmapHigh: z.optional(num(64)), min: num(64), icr: num(64), op64: z.optional(bool),
    ...common,
  }),
} as const;


export type OpName = keyof typeof STEP_SCHEMAS;
/** Where parseScenario() finds an op's step schema: STEP_SCHEMAS, or a copy that behaves the same (the CLI's compiled ones). */
export type StepSchemaOf = (op: OpName) => (typeof STEP_SCHEMAS)[OpName];
const stepSchema: StepSchemaOf = (op) => STEP_SCHEMAS[op];
export type Step = { [K in OpName]: z.output<(typeof STEP_SCHEMAS)[K]> }[OpName];
export const OP_NAMES = Object.keys(STEP_SCHEMAS) as OpName[];

const release = z.string().check(z.refine((r) => r === 'current' || (releaseNumber(r) ?? 0) >= releaseNumber(OLDEST_RELEASE)!, {
  message: `must be "current" or a release "X.Y" from ${OLDEST_RELEASE} on`,
}));

const TSC_KHZ = 'must be the guest TSC rate in kHz, an integer from 1000 (1 MHz) to 10000000 (10 GHz)';
const VCPUS = `must be a count from 1 to ${KVM_MAX_VCPUS} or an array of 1 to ${KVM_MAX_VCPUS} vCPU ids`;

export const vmSchema = z.object({
  vcpus: z.optional(z.union([
    z.number({ error: VCPUS }).check(z.int({ error: VCPUS }), z.minimum(1, { error: VCPUS }), z.maximum(KVM_MAX_VCPUS, { error: VCPUS })),
    z.array(vcpuId, { error: VCPUS }).check(z.minLength(1, { error: VCPUS }), z.maxLength(KVM_MAX_VCPUS, { error: VCPUS })),
  ], { error: VCPUS })),
  vendor: z.optional(z.enum(['intel', 'amd'], { error: 'must be "intel" or "amd"' })),
  apicv: z.optional(bool),
  ipiv: z.optional(bool),
  x2avic: z.optional(bool),
  x2avicExt: z.optional(bool),
  x2apicCpuid: z.optional(bool),
  tscDeadline: z.optional(bool),
  tscKhz: z.optional(z.number({ error: TSC_KHZ }).check(z.int({ error: TSC_KHZ }), z.minimum(1000, { error: TSC_KHZ }), z.maximum(10_000_000, { error: TSC_KHZ }))),
  cmci: z.optional(bool),
  vectorHashing: z.optional(bool),
  smm: z.optional(bool),
  maxPhyAddr: z.optional(z.number().check(z.int(), z.minimum(32), z.maximum(52, { error: 'must be an integer from 32 to 52' }))),
  bspVcpuId: z.optional(vcpuId),
  kvm: z.optional(release),
  quirks: z.optional(z.object({ lint0Reenabled: z.optional(bool), lapicMmioHole: z.optional(bool) })),
});

export const scenarioHead = z.object({
  format: z.literal('apic-scenario/1', { error: 'must be "apic-scenario/1"' }),
  title: z.optional(z.string()),
  description: z.optional(z.string()),
  vm: z.optional(vmSchema),
  steps: z.array(z.unknown(), { error: 'must be an array of steps' }),
  expectFinal: z.optional(z.record(z.string(), z.unknown())),
});

export type VmInput = z.output<typeof vmSchema>;
export interface Scenario {
  title?: string;
  description?: string;
  vm: VmInput;
  steps: Step[];
  expectFinal?: Record<string, unknown>;
  /** The document as given, for fields this module does not know (narration, source...). */
  raw: Record<string, unknown>;
}

function describeIssue(issue: z.core.$ZodIssue, prefix: string): string {
  const field = issue.path.map(String).join('.');
  const msg = issue.code === 'invalid_type' && issue.input === undefined ? 'is missing' : issue.message;
  return `${prefix}${field ? field + ' ' : ''}${msg}`;
}

/** Validate a parsed JSON value as a scenario; throws ScenarioInputError with one clear line. */
export function parseScenario(doc: unknown, schemaOf: StepSchemaOf = stepSchema): Scenario {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ScenarioInputError('scenario: the document must be a JSON object');
  const bad = forbiddenKey(doc);
  if (bad) throw new ScenarioInputError(`scenario: ${bad}: keys named __proto__, constructor or prototype are not allowed`);
  const n = (doc as { steps?: unknown }).steps;
  if (Array.isArray(n) && n.length > MAX_STEPS) throw new ScenarioInputError(`scenario: steps: ${n.length} steps is more than the ${MAX_STEPS} allowed`);
  const head = scenarioHead.safeParse(doc);
  if (!head.success) throw new ScenarioInputError(describeIssue(head.error.issues[0], 'scenario: '));
  const steps: Step[] = head.data.steps.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ScenarioInputError(`step ${i}: must be an object with an "op"`);
    const op = (raw as { op?: unknown }).op;
    if (typeof op !== 'string' || !(op in STEP_SCHEMAS)) {
      throw new ScenarioInputError(`step ${i}: unknown op ${JSON.stringify(op)} (known: ${OP_NAMES.join(', ')})`);
    }
    const r = schemaOf(op as OpName).safeParse(raw);
    if (!r.success) throw new ScenarioInputError(describeIssue(r.error.issues[0], `step ${i} (${op}): `));
    const step = r.data as Step;
    if ((step.op === 'mmio_read' || step.op === 'mmio_write') && (step.offset === undefined) === (step.gpa === undefined)) {
      throw new ScenarioInputError(`step ${i} (${op}): give exactly one of "offset" and "gpa"`);
    }
    return step;
  });
  const vm = head.data.vm ?? {};
  if (Array.isArray(vm.vcpus) && new Set(vm.vcpus).size !== vm.vcpus.length) {
    throw new ScenarioInputError('scenario: vm.vcpus lists a vCPU id twice');
  }
  return { title: head.data.title, description: head.data.description, vm, steps, expectFinal: head.data.expectFinal, raw: doc as Record<string, unknown> };
}

/** Parse JSON text and validate it. */
export function parseScenarioText(text: string, schemaOf: StepSchemaOf = stepSchema): Scenario {
  if (text.length > MAX_DOCUMENT_CHARS) throw new ScenarioInputError(`scenario: ${text.length} characters is more than the ${MAX_DOCUMENT_CHARS} allowed`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ScenarioInputError(`scenario: not valid JSON (${(e as Error).message})`);
  }
  return parseScenario(doc, schemaOf);
}
