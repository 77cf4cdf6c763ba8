/**
 * The external programs a capture runs (trace-cmd, hexdump, od): whether they are installed, their
 * versions for the manifest, and running them with their stdout saved to a file. Node only.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** Program -> the Debian package that has it, for the "how to install" line. */
export const TOOLS = { 'trace-cmd': 'trace-cmd', hexdump: 'bsdextrautils', od: 'coreutils' } as const;
export type Tool = keyof typeof TOOLS;

/** The first missing tool's install hint, or null when all are there. */
export function missingTool(): string | null {
  for (const [tool, pkg] of Object.entries(TOOLS)) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) return `${tool} is not installed; install it with: apt-get install -y ${pkg}`;
  }
  return null;
}

/** "trace-cmd version 3.1.6 (...)", "hexdump from util-linux 2.38.1", "od (GNU coreutils) 9.1". */
export function toolVersion(tool: Tool): string {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  // trace-cmd prints a blank line first and exits 255 on --version; take the first non-empty line.
  return `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).find(Boolean) ?? 'unknown';
}

/** A tool exited with an error: the command and its stderr's first line. */
export class ToolFailed extends Error {}

/** Run `tool args`; its stdout goes to `outFile` when given. */
export function run(tool: Tool, args: string[], outFile?: string): void {
  let stdout: Buffer;
  try {
    stdout = execFileSync(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? '').split('\n').find((l) => l.trim()) ?? (e as Error).message;
    throw new ToolFailed(`\`${[tool, ...args].join(' ')}\` failed: ${why.trim()}`);
  }
  if (outFile) writeFileSync(outFile, stdout);
}
