/**
 * The table of decision codes in docs/scenario-format.md ("Decisions (why)"), generated from
 * src/core/decisions.ts: the codes from its closed lists (CODES, at run time) and the meaning
 * from the comment each code carries in the source. `npm run schema` writes it between the
 * markers below; jsonSchema.test.ts fails when the doc and decisions.ts disagree.
 */
import { ACCEPT_CODES, CODES, ROUTE_CODES, type Decision } from '../core/decisions';

export const DECISION_TABLE_START = '<!-- decision codes: generated from src/core/decisions.ts by `npm run schema` -->';
export const DECISION_TABLE_END = '<!-- /decision codes -->';
/** The line the doc carries where no table has been generated yet. */
export const DECISION_TABLE_PLACEHOLDER = '<!-- decision codes: generated -->';

const LIST_NAMES: Record<Decision['kind'], string> = {
  route: 'ROUTE_CODES',
  accept: 'ACCEPT_CODES',
  event: 'EVENT_CODES',
  refusal: 'REFUSAL_CODES',
  map: 'MAP_CODES',
  inhibit: 'INHIBIT_CODES',
};

/** The source lines of `export const NAME = ...` up to the end of its literal. */
function listBlock(source: string, name: string): string[] {
  const lines = source.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`export const ${name} `));
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && /^[\]}] as const;/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Each code's comment (the /** *\/ block right above it) and group (the last `// ...` line above it). */
function comments(block: string[]): Map<string, { text: string; group: string }> {
  const out = new Map<string, { text: string; group: string }>();
  let doc: string[] = [];
  let inDoc = false;
  let group = '';
  for (const raw of block) {
    const l = raw.trim();
    if (inDoc || l.startsWith('/**')) {
      inDoc = !l.endsWith('*/');
      doc.push(l.replace(/^\/\*\*|\*\/$|^\*/g, '').trim());
      continue;
    }
    if (l.startsWith('//')) {
      group = l.slice(2).trim();
      doc = [];
      continue;
    }
    const m = /^'?([A-Z0-9_]+)'?\s*[:,]/.exec(l);
    if (m) out.set(m[1], { text: doc.filter(Boolean).join(' '), group });
    doc = [];
  }
  return out;
}

const cell = (s: string) => s.replaceAll('|', '\\|');

/** The generated section: one table per kind, codes in list order. */
export function decisionCodesMarkdown(decisionsSource: string): string {
  const parts: string[] = [DECISION_TABLE_START, ''];
  for (const kind of Object.keys(CODES) as Decision['kind'][]) {
    const notes = comments(listBlock(decisionsSource, LIST_NAMES[kind] ?? ''));
    const extra = kind === 'route' ? ' path |' : kind === 'accept' ? ' accepted |' : '';
    // A list whose codes carry no comment of their own (refusals) is described by its groups.
    const last = [...notes.values()].some((n) => n.text) ? 'meaning' : 'checked in';
    parts.push(`**${kind}** (\`${LIST_NAMES[kind]}\`)`, '', `| code |${extra} ${last} |`, `|---|${extra ? '---|' : ''}---|`);
    for (const code of CODES[kind]) {
      const n = notes.get(code);
      const meaning = n ? n.text || n.group : '';
      const col =
        kind === 'route' ? ` ${(ROUTE_CODES as Record<string, string>)[code]} |` : kind === 'accept' ? ` ${(ACCEPT_CODES as Record<string, boolean>)[code] ? 'yes' : 'no'} |` : '';
      parts.push(`| \`${code}\` |${col} ${cell(meaning)} |`);
    }
    parts.push('');
  }
  parts.push(DECISION_TABLE_END);
  return parts.join('\n');
}

/** The doc with its decision table (or the placeholder) replaced by a freshly generated one. */
export function withDecisionTable(doc: string, decisionsSource: string): string {
  const table = decisionCodesMarkdown(decisionsSource);
  const start = doc.indexOf(DECISION_TABLE_START);
  if (start >= 0) {
    const end = doc.indexOf(DECISION_TABLE_END, start);
    if (end < 0) throw new Error(`docs/scenario-format.md: "${DECISION_TABLE_START}" without "${DECISION_TABLE_END}"`);
    return doc.slice(0, start) + table + doc.slice(end + DECISION_TABLE_END.length);
  }
  const at = doc.indexOf(DECISION_TABLE_PLACEHOLDER);
  if (at < 0) throw new Error(`docs/scenario-format.md: no "${DECISION_TABLE_PLACEHOLDER}" line to put the decision codes at`);
  return doc.slice(0, at) + table + doc.slice(at + DECISION_TABLE_PLACEHOLDER.length);
}
