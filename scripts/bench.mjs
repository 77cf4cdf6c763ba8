#!/usr/bin/env node
// `npm run bench`: the core rows (src/bench/core.ts, bundled like the runner) and the replay rows
// (the headless runner in a new process), each beside its lean reference loop measured in the same
// run; prints the table with targets, ratios and the machine's load, writes bench/results/core.json.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundled } from './bundle.mjs';

/** Other processes using the CPU (ps's share over each one's life), this bench and its npm excluded. */
function busyProcesses() {
  const ps = spawnSync('ps', ['-eo', 'pid=,pcpu=,comm=', '--sort=-pcpu'], { encoding: 'utf8' });
  if (ps.status !== 0) return [];
  const ours = new Set([process.pid, process.ppid]);
  return ps.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, cpu]) => pid && !ours.has(Number(pid)) && Number(cpu) >= 5)
    .slice(0, 6)
    .map(([, cpu, ...comm]) => `${comm.join(' ')} ${cpu}%`);
}

const loadStart = loadavg();
const busy = busyProcesses();
const core = await import(pathToFileURL(resolve(await bundled('src/bench/core.ts', 'bench-core'))).href);
const rows = core.coreRows();

// The replay rows: runner and lean replay in new processes, alternately, five of each (three left a median at the mercy of one slow minute).
// Each prints into a file, as `npm run scenario -- file.json > result.json` does: read through a
// pipe, the runner's 56 MB would also time this process decoding it (about 0.1 s on 2 CPUs).
const dir = mkdtempSync(join(tmpdir(), 'lapic-bench-'));
const out = join(dir, 'out.json');
const run = (args) => {
  const fd = openSync(out, 'w');
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t;
  closeSync(fd);
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  if (args[1] !== '--help' && statSync(out).size === 0) throw new Error(`${args.join(' ')} printed nothing`);
  return ms;
};
for (const c of core.replayCases()) {
  const file = join(dir, 'replay.json');
  writeFileSync(file, JSON.stringify(c.doc));
  run(['scripts/scenario.mjs', '--help']); // the runner's bundle exists before the first timed start
  const t = { core: [], lean: [] };
  for (let i = 0; i < 5; i++) {
    const runner = () => t.core.push(run(['scripts/scenario.mjs', file]));
    const lean = () => t.lean.push(run(['src/bench/leanReplay.mjs', file]));
    if (i % 2) (runner(), lean());
    else (lean(), runner());
  }
  rows.push(core.row(c.name, 's', `start node, parse the file, apply the steps to typed arrays, print a compact result (${c.mix})`, t, { text: '<= 0.8 s', pass: (s) => s <= 0.8 }, (ms) => ms / 1000));
}
rmSync(dir, { recursive: true, force: true });

const env = { node: process.version, cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}`, loadStart, loadEnd: loadavg(), busy };
console.log('\n' + core.formatReport(rows, env));
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/core.json', JSON.stringify({ title: 'Core benchmarks', date: new Date().toISOString(), env, rows }, null, 2) + '\n');
console.log('\nwritten to bench/results/core.json');
