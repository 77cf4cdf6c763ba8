#!/usr/bin/env node
// `npm run bench`: the core benchmarks (bench/core.bench.ts), bundled like the runner.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { bundled } from './bundle.mjs';

const out = await bundled('bench/core.bench.ts', 'bench');
await import(pathToFileURL(resolve(out)).href);
