/**
 * Where to read a KVM function: the identifier search of a Linux source browser (Elixir) at the
 * modelled release's tag, so a decision links to the code that made it as that release has it.
 */
import type { KvmFunction } from '../core/decisions';

/** The Linux tag a modelled release reads from: "current" is the newest tag. */
export function linuxTag(release: string): string {
  return release === 'current' ? 'latest' : `v${release}`;
}

/** The URL of `fn` at `release` ("current" or "X.Y"). */
export function kvmSourceUrl(fn: KvmFunction | string, release = 'current'): string {
  return `https://elixir.bootlin.com/linux/${linuxTag(release)}/A/ident/${encodeURIComponent(fn)}`;
}
