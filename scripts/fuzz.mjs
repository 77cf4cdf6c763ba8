#!/usr/bin/env node
// `npm run fuzz -- --seconds N --seed S`: the fuzzer (src/fuzz/cli.ts), bundled like the runner.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { bundled } from './bundle.mjs';

const out = await bundled('src/fuzz/cli.ts', 'fuzz');
await import(pathToFileURL(resolve(out)).href);
