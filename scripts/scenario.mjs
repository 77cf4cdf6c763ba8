#!/usr/bin/env node
// `npm run scenario`: the headless runner (src/cli/scenario.ts), bundled on first use.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { bundled } from './bundle.mjs';

const out = await bundled('src/cli/scenario.ts', 'scenario');
await import(pathToFileURL(resolve(out)).href);
