export interface ScriptSize {
  /** Relative to the dist folder, e.g. "assets/index-abc123.js". */
  file: string;
  gzipKb: number;
}

/** The JavaScript the built app's first load fetches, gzipped (scripts/firstLoadJs.mjs). */
export function firstLoadJs(dist?: string): {
  /** index.html's scripts and the chunks they load before running, in kB (1000 bytes). */
  firstLoadGzipKb: number;
  /** Every script under dist/assets, the chunks loaded on demand included. */
  totalGzipKb: number;
  /** The scripts of the first load, in load order. */
  files: ScriptSize[];
  /** Every script under dist/assets, largest first. */
  all: ScriptSize[];
};
