/**
 * What `devsec check` and `devsec trust` print: each change as a unified diff or a one-line
 * note. Every piece of text that came from the workspace goes through `visible`; colour codes
 * are ours, added after, and only when asked for.
 */
import { unifiedHunks } from './diff';
import { visible } from '../../sandbox/visible';
import { HOST_EXECUTED_SURFACE, SurfaceEntry } from './list';
import { SurfaceChange } from './snapshot';

export interface RenderOptions {
  colour: boolean;
  /** Diff lines shown per file; the rest is counted, not hidden silently. */
  maxDiffLines?: number;
}

export const DEFAULT_MAX_DIFF_LINES = 2000;

const CODES = { bold: '1', red: '31', green: '32', yellow: '33', cyan: '36' } as const;
type Style = keyof typeof CODES;

const READ_BY = new Map(HOST_EXECUTED_SURFACE.map((rule) => [rule.id, rule.readBy]));

export function paint(options: RenderOptions, style: Style, text: string): string {
  return options.colour ? `\x1b[${CODES[style]}m${text}\x1b[0m` : text;
}

function describe(entry: SurfaceEntry): string {
  switch (entry.kind) {
    case 'file':
      return entry.binary ? `a binary file (${entry.size} bytes)` : entry.text === undefined ? `a file of ${entry.size} bytes` : 'a file';
    case 'symlink':
      return `a symlink -> ${visible(entry.target)}`;
    case 'directory':
      return entry.rule === 'nested-git' ? 'a git folder' : 'a node_modules folder';
    case 'other':
      return `a ${entry.type}`;
  }
}

const textOf = (entry: SurfaceEntry | undefined) => (entry && (entry.kind === 'file' || entry.kind === 'directory') ? entry.text : undefined);
const short = (hash: string) => hash.slice(0, 12);

/** The unified diff of two texts, with `--- a/path`, `+++ b/path` headers, its lines made visible and capped. */
export function renderDiff(path: string, before: string | undefined, after: string | undefined, options: RenderOptions): string[] {
  const max = options.maxDiffLines ?? DEFAULT_MAX_DIFF_LINES;
  const shownPath = visible(path);
  const out = [paint(options, 'bold', `--- ${before === undefined ? '/dev/null' : `approved/${shownPath}`}`)];
  out.push(paint(options, 'bold', `+++ ${after === undefined ? '/dev/null' : `now/${shownPath}`}`));
  let shown = 0;
  let hidden = 0;
  for (const hunk of unifiedHunks(before ?? '', after ?? '')) {
    const lines = [
      paint(options, 'cyan', `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`),
      ...hunk.lines.flatMap((line) => {
        const text = `${line.op}${visible(line.text, { keepTabs: true })}`;
        const coloured = line.op === '-' ? paint(options, 'red', text) : line.op === '+' ? paint(options, 'green', text) : text;
        return line.noNewline ? [coloured, '\\ No newline at end of file'] : [coloured];
      }),
    ];
    for (const line of lines) {
      if (shown < max) out.push(line);
      else hidden++;
      shown++;
    }
  }
  if (hidden > 0) out.push(paint(options, 'yellow', `… ${hidden} more diff lines of ${shownPath} not shown: open the file and read it whole.`));
  return out;
}

/** One change: a heading line, then a diff when there is text on either side. */
export function renderChange(change: SurfaceChange, options: RenderOptions): string[] {
  const path = visible(change.path);
  const entry = change.type === 'deleted' ? change.before : change.after;
  const why = paint(options, 'yellow', `— ${READ_BY.get(entry.rule) ?? entry.rule}`);
  if (change.type === 'deleted') return [`${paint(options, 'red', 'deleted')} ${path}: was ${describe(change.before)}`];
  if (change.type === 'added') {
    const heading = `${paint(options, 'green', 'added')} ${path}: ${describe(change.after)} ${why}`;
    if (change.after.kind === 'directory' && change.after.rule === 'nested-git') {
      return [`${heading}`, '  git and VS Code run in that folder with its own config and hooks: remove it unless you made it.'];
    }
    const text = textOf(change.after);
    return text === undefined ? [heading] : [heading, ...renderDiff(change.path, undefined, text, options)];
  }
  const { before, after } = change;
  const heading = `${paint(options, 'yellow', 'changed')} ${path} ${why}`;
  if (before.kind !== after.kind || before.kind === 'symlink' || before.kind === 'other') {
    const lines = [heading, `  was ${describe(before)}`, `  now ${describe(after)}`];
    const text = textOf(after);
    return text === undefined ? lines : [...lines, ...renderDiff(change.path, textOf(before), text, options)];
  }
  const [oldText, newText] = [textOf(before), textOf(after)];
  if (oldText === undefined || newText === undefined) {
    const hashes = (e: SurfaceEntry) =>
      e.kind === 'file' ? `${short(e.sha256)} (${e.size} bytes${e.binary ? ', binary' : ''})` : e.kind === 'directory' ? short(e.sha256) : '';
    const reason = before.kind === 'file' && before.binary ? 'binary' : 'no text kept of the approved copy (too large)';
    const note = `  sha256 ${hashes(before)} -> ${hashes(after)}: ${after.kind === 'file' && after.binary ? 'binary' : reason}, no diff`;
    return newText === undefined ? [heading, note] : [heading, note, '  the whole file now:', ...renderDiff(change.path, undefined, newText, options)];
  }
  return [heading, ...renderDiff(change.path, oldText, newText, options)];
}

/** The surface as recorded for a baseline: one line per path. */
export function renderEntries(entries: Record<string, SurfaceEntry>): string[] {
  return Object.keys(entries)
    .sort()
    .map((path) => `  ${visible(path)}: ${describe(entries[path])}`);
}

/** The list as a Markdown table, for the README (whose test compares the two). */
export function surfaceTable(): string {
  const rows = HOST_EXECUTED_SURFACE.map((rule) => `| ${rule.paths} | ${rule.readBy} |`);
  return ['| on the surface | executed or trusted by |', '|---|---|', ...rows].join('\n') + '\n';
}
