/**
 * The JSON Schema of the apic-scenario/1 *input* document, generated from the zod schema in
 * ./schema.ts with zod 4's `z.toJSONSchema` (io: 'input'). `npm run schema` writes it to
 * docs/apic-scenario.schema.json; jsonSchema.test.ts fails when that file has drifted.
 *
 * What zod cannot say by itself is added here, each from the same source of truth:
 * - scenario numbers (`num(bits)` in schema.ts, an `unknown` piped into a parsing transform):
 *   a safe non-negative JSON integer or a hex / decimal string; the width is found by probing the
 *   zod schema itself (the largest all-ones value it accepts);
 * - `steps`: schema.ts checks steps one by one against STEP_SCHEMAS after the head; here they are
 *   one `oneOf` discriminated by `op`, with the MAX_STEPS limit;
 * - the rules parseScenario() checks in code: exactly one of `offset` / `gpa` for MMIO steps,
 *   no vCPU id twice in `vm.vcpus`, the `regs` slot names, the `vm.kvm` release syntax.
 *
 * Extra properties are allowed everywhere (zod strips unknown keys on input, and the contract
 * welcomes extra fields). Keys named __proto__, constructor or prototype are refused by
 * parseScenario() at any depth; the schema does not repeat that.
 */
import * as z from 'zod/mini';
import { OLDEST_RELEASE } from '../core/profile';
import { MAX_STEPS, OP_NAMES, STEP_SCHEMAS, scenarioHead } from './schema';

/** Where `npm run schema` writes the schema, relative to the repository root. */
export const JSON_SCHEMA_PATH = 'docs/apic-scenario.schema.json';

/** A scenario number as a string: hex with 0x (underscores between digits) or decimal, surrounding blanks allowed. */
export const NUMBER_STRING_PATTERN = '^\\s*(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|[0-9](_?[0-9])*)\\s*$';

type Json = Record<string, unknown>;
type AnySchema = z.ZodMiniType;

/** The innermost input schema of a chain of pipes. */
function pipeSource(s: AnySchema): AnySchema {
  let cur = s;
  while ((cur._zod.def as { type: string }).type === 'pipe') cur = (cur._zod.def as unknown as { in: AnySchema }).in;
  return cur;
}

/** The width in bits of a scenario number schema: the largest n such that 2^n - 1 parses. */
function probeBits(s: AnySchema): number | null {
  const ok = (v: bigint) => s.safeParse('0x' + v.toString(16)).success;
  let bits: number | null = null;
  for (let n = 1; n <= 128; n++) {
    if (ok((1n << BigInt(n)) - 1n)) bits = n;
    else break;
  }
  return bits !== null && bits < 128 ? bits : null;
}

function numberSchema(bits: number): Json {
  const max = (1n << BigInt(bits)) - 1n;
  return {
    description: `a ${bits}-bit unsigned number: a JSON integer (a safe integer) or a string, hex "0x..." (underscores allowed between digits) or decimal; it must fit in ${bits} bits`,
    anyOf: [
      { type: 'integer', minimum: 0, maximum: max > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(max) },
      { type: 'string', pattern: NUMBER_STRING_PATTERN },
    ],
  };
}

function replaceWith(target: Json, source: Json): void {
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, source);
}

const prop = (schema: Json, ...path: string[]): Json => {
  let cur = schema;
  for (const p of path) {
    const next = (cur.properties as Record<string, Json> | undefined)?.[p];
    if (!next) throw new Error(`jsonSchema: no property ${path.join('.')} in the generated schema (schema.ts changed?)`);
    cur = next;
  }
  return cur;
};

/** The JSON Schema (draft 2020-12) of an apic-scenario/1 input document. */
export function scenarioJsonSchema(): Json {
  const stepSchemas = OP_NAMES.map((op) => STEP_SCHEMAS[op]);
  const doc = z.extend(scenarioHead, {
    steps: z.array(z.discriminatedUnion('op', stepSchemas as unknown as [z.ZodMiniObject, ...z.ZodMiniObject[]])).check(z.maxLength(MAX_STEPS)),
  });
  const generated = z.toJSONSchema(doc, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const s = ctx.zodSchema as unknown as AnySchema;
      if ((s._zod.def as { type: string }).type !== 'pipe') return;
      if ((pipeSource(s)._zod.def as { type: string }).type !== 'unknown') return;
      const bits = probeBits(s);
      if (bits === null) throw new Error('jsonSchema: a piped unknown that is not a scenario number');
      replaceWith(ctx.jsonSchema as Json, numberSchema(bits));
    },
  }) as Json;

  const schema: Json = {
    $schema: generated.$schema,
    title: 'apic-scenario/1',
    description:
      'An apic-scenario/1 input document (docs/scenario-format.md). Generated from src/scenario/schema.ts by `npm run schema`; do not edit by hand.',
    ...Object.fromEntries(Object.entries(generated).filter(([k]) => k !== '$schema')),
  };

  // vm: ids listed once; the release syntax (the refine in schema.ts).
  const vcpus = prop(schema, 'vm', 'vcpus');
  for (const alt of vcpus.anyOf as Json[]) if (alt.type === 'array') alt.uniqueItems = true;
  Object.assign(prop(schema, 'vm', 'kvm'), {
    pattern: '^(current|[0-9]+\\.[0-9]+)$',
    description: `"current" or an upstream release "X.Y" from ${OLDEST_RELEASE} on`,
  });

  // steps: per-op rules checked in code by parseScenario().
  for (const step of (prop(schema, 'steps').items as Json).oneOf as Json[]) {
    const op = (prop(step, 'op') as { const: string }).const;
    if (op === 'mmio_read' || op === 'mmio_write') step.oneOf = [{ required: ['offset'] }, { required: ['gpa'] }];
    if (op === 'set_lapic') {
      prop(step, 'regs').propertyNames = { type: 'string', pattern: '^0x[0-3][0-9a-fA-F]0$', description: 'a KVM_GET_LAPIC slot "0x000".."0x3f0", 16-byte aligned' };
    }
  }
  return schema;
}

/** The file docs/apic-scenario.schema.json as `npm run schema` writes it. */
export function scenarioJsonSchemaText(): string {
  return JSON.stringify(scenarioJsonSchema(), null, 2) + '\n';
}
