#!/usr/bin/env node
// `npm run capture`: record a scenario's KVM trace on the real kernel (src/capture/capture.ts),
// bundled on first use like the scenario runner.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { bundled } from './bundle.mjs';

const out = await bundled('src/capture/capture.ts', 'capture');
await import(pathToFileURL(resolve(out)).href);
