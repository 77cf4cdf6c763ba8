/**
 * What docs/ derives from the code (`npm run schema`) must not drift from it:
 * docs/apic-scenario.schema.json from the zod schema (and it must describe the input format the
 * way schema.ts reads it), and the decision-code tables of docs/scenario-format.md from
 * src/core/decisions.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODES } from '../core/decisions';
import { DECISION_TABLE_END, DECISION_TABLE_START, withDecisionTable } from './decisionCodesDoc';
import { parseNumber } from './numbers';
import { JSON_SCHEMA_PATH, NUMBER_STRING_PATTERN, scenarioJsonSchemaText } from './jsonSchema';
import { MAX_STEPS, OP_NAMES } from './schema';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string): string => {
  try {
    return readFileSync(join(root, path), 'utf8');
  } catch {
    return '';
  }
};

interface Node {
  type?: string;
  const?: unknown;
  required?: string[];
  properties?: Record<string, Node>;
  items?: Node;
  oneOf?: Node[];
  anyOf?: Node[];
  maxItems?: number;
  pattern?: string;
  maximum?: number;
  description?: string;
}

describe('docs/apic-scenario.schema.json', () => {
  const generated = scenarioJsonSchemaText();
  const schema = JSON.parse(generated) as Node & { $schema: string };
  const steps = schema.properties!.steps;
  const stepSchemas = steps.items!.oneOf!;
  const opOf = (s: Node) => s.properties!.op.const as string;
  const step = (op: string) => stepSchemas.find((s) => opOf(s) === op)!;

  it('is up to date with src/scenario/schema.ts', () => {
    const onDisk = read(JSON_SCHEMA_PATH);
    expect(onDisk === generated, `${JSON_SCHEMA_PATH} is out of date with src/scenario/schema.ts: run \`npm run schema\``).toBe(true);
  });

  it('is a draft 2020-12 schema of the apic-scenario/1 document', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.type).toBe('object');
    expect(schema.properties!.format).toEqual({ type: 'string', const: 'apic-scenario/1' });
    expect(schema.required).toEqual(['format', 'steps']);
    expect(Object.keys(schema.properties!)).toEqual(expect.arrayContaining(['title', 'description', 'vm', 'expectFinal']));
    expect(steps.type).toBe('array');
    expect(steps.maxItems).toBe(MAX_STEPS);
  });

  it('lists every op of schema.ts, once, in its order', () => {
    expect(stepSchemas.map(opOf)).toEqual(OP_NAMES);
  });

  it('describes numbers as input: JSON integers or hex / decimal strings, of the right width', () => {
    const wrmsr = step('wrmsr');
    expect(wrmsr.required).toEqual(['op', 'vcpu', 'msr', 'value']);
    expect(wrmsr.properties!.value.description).toMatch(/^a 64-bit unsigned number/);
    expect(wrmsr.properties!.value.anyOf).toEqual([
      { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      { type: 'string', pattern: NUMBER_STRING_PATTERN },
    ]);
    expect(wrmsr.properties!.msr.anyOf![0].maximum).toBe(2 ** 32 - 1);
    expect(step('mmio_write').properties!.gpa.description).toMatch(/^a 64-bit/);
    expect(step('mmio_write').oneOf).toEqual([{ required: ['offset'] }, { required: ['gpa'] }]);
    expect(schema.properties!.vm.properties!.bspVcpuId.description).toMatch(/^a 32-bit/);
  });

  it('its number pattern accepts exactly the strings parseNumber() reads', () => {
    const re = new RegExp(NUMBER_STRING_PATTERN, 'u');
    const samples = ['0xfee00900', '0xFEE0_0900', '0X1b', '4276094976', '1_000', ' 0x10 ', '0x', '0x_1', '1__0', 'apicbase', '-1', '0x1g', '', '1.5'];
    for (const s of samples) expect(re.test(s), s).toBe(typeof parseNumber(s) === 'bigint');
    fc.assert(
      fc.property(fc.stringMatching(/^ ?(0[xX][0-9a-fA-F_]{0,6}|[0-9_]{0,6}|[0-9a-z_.-]{0,4}) ?$/), (s) => re.test(s) === (typeof parseNumber(s) === 'bigint')),
      { numRuns: 500, seed: 13 },
    );
  });
});

describe('docs/scenario-format.md', () => {
  const doc = read('docs/scenario-format.md');

  it('keeps the contract and marks the extensions', () => {
    expect(doc.startsWith('# Scenario format `apic-scenario/1` and the headless runner\n')).toBe(true);
    expect(doc).toContain('\n# Extensions in this project\n');
    expect(doc).toContain('\n## Decisions (why)\n');
  });

  it('lists every decision code of src/core/decisions.ts', () => {
    const source = read('src/core/decisions.ts');
    expect(doc).toContain(DECISION_TABLE_START);
    expect(
      withDecisionTable(doc, source) === doc,
      'the decision codes in docs/scenario-format.md are out of date with src/core/decisions.ts: run `npm run schema`',
    ).toBe(true);
    const table = doc.slice(doc.indexOf(DECISION_TABLE_START), doc.indexOf(DECISION_TABLE_END));
    for (const [kind, codes] of Object.entries(CODES)) for (const code of codes) expect(table, `${kind} ${code}`).toContain(`| \`${code}\` |`);
  });
});
