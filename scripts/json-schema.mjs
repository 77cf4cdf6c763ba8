#!/usr/bin/env node
// `npm run schema`: regenerate what docs/ derives from the code (bundled like the runner):
// - docs/apic-scenario.schema.json, the JSON Schema of the apic-scenario/1 input document, from
//   the zod schema (src/scenario/jsonSchema.ts);
// - the decision-code tables in docs/scenario-format.md, from src/core/decisions.ts
//   (src/scenario/decisionCodesDoc.ts).
// src/scenario/jsonSchema.test.ts fails when either differs from what this would write.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundled } from './bundle.mjs';

const load = async (entry, name) => import(pathToFileURL(resolve(await bundled(entry, name))).href);

/** Write `text` to `file` when it differs; say which. */
function update(file, text) {
  let old = null;
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    // a new file
  }
  if (old !== text) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  console.log(`${file}: ${old === text ? 'unchanged' : 'written'}`);
}

const { JSON_SCHEMA_PATH, scenarioJsonSchemaText } = await load('src/scenario/jsonSchema.ts', 'json-schema');
update(JSON_SCHEMA_PATH, scenarioJsonSchemaText());

const { withDecisionTable } = await load('src/scenario/decisionCodesDoc.ts', 'decision-codes-doc');
const FORMAT_DOC = 'docs/scenario-format.md';
update(FORMAT_DOC, withDecisionTable(readFileSync(FORMAT_DOC, 'utf8'), readFileSync('src/core/decisions.ts', 'utf8')));
