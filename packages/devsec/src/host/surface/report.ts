/**
 * What `devsec check` and `devsec trust` print: each change as a unified diff or a one-line
 * note. Every piece of text that came from the workspace goes through `visible`; colour codes
 * are ours, added after, and only when asked for.
 */
import { diffLines, unifiedHunks } from './diff';
import { visible } from '../../sandbox/visible';
import { HOST_EXECUTED_SURFACE, OTHER_RULE, SurfaceEntry } from './list';
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
      if (entry.binary && entry.text !== undefined) return `a file holding NUL bytes (${entry.size} bytes; shown with them as \\x00)`;
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
  const why = entry.rule === OTHER_RULE ? '' : ` ${paint(options, 'yellow', `— ${READ_BY.get(entry.rule) ?? entry.rule}`)}`;
  if (change.type === 'deleted') return [`${paint(options, 'red', 'deleted')} ${path}: was ${describe(change.before)}`];
  if (change.type === 'added') {
    const heading = `${paint(options, 'green', 'added')} ${path}: ${describe(change.after)}${why}`;
    if (change.after.kind === 'directory' && change.after.rule === 'nested-git') {
      return [`${heading}`, '  git and VS Code run in that folder with its own config and hooks: remove it unless you made it.'];
    }
    const text = textOf(change.after);
    return text === undefined ? [heading] : [heading, ...renderDiff(change.path, undefined, text, options)];
  }
  const { before, after } = change;
  const heading = `${paint(options, 'yellow', 'changed')} ${path}${why}`;
  if (before.kind !== after.kind || before.kind === 'symlink' || before.kind === 'other') {
    const lines = [heading, `  was ${describe(before)}`, `  now ${describe(after)}`];
    const text = textOf(after);
    return text === undefined ? lines : [...lines, ...renderDiff(change.path, textOf(before), text, options)];
  }
  const [oldText, newText] = [textOf(before), textOf(after)];
  if (oldText === undefined || newText === undefined) {
    const hashes = (e: SurfaceEntry) =>
      e.kind === 'file' ? `${short(e.sha256)} (${e.size} bytes${e.binary ? ', binary' : ''})` : e.kind === 'directory' ? short(e.sha256) : '';
    const reason = before.kind === 'file' && before.binary && oldText === undefined ? 'binary' : 'no text kept of the approved copy (too large)';
    const note = `  sha256 ${hashes(before)} -> ${hashes(after)}: ${after.kind === 'file' && after.binary && newText === undefined ? 'binary' : reason}, no diff`;
    return newText === undefined ? [heading, note] : [heading, note, '  the whole file now:', ...renderDiff(change.path, undefined, newText, options)];
  }
  return [heading, ...renderDiff(change.path, oldText, newText, options)];
}

/** Whether a change is of a file the host runs or trusts without asking (shown first), rather than any other. */
export function isListed(change: SurfaceChange): boolean {
  if (change.type === 'deleted') return change.before.rule !== OTHER_RULE;
  if (change.type === 'added') return change.after.rule !== OTHER_RULE;
  return change.before.rule !== OTHER_RULE || change.after.rule !== OTHER_RULE;
}

/** One line of the summary of the other changes, as `git diff --stat` has it: the path, then lines added and removed (or what it is). */
export function renderStat(change: SurfaceChange, options: RenderOptions): string {
  const path = visible(change.path);
  if (change.type === 'deleted') return `  ${paint(options, 'red', 'deleted')}  ${path}`;
  const before = change.type === 'changed' ? change.before : undefined;
  const [oldText, newText] = [before ? textOf(before) : '', textOf(change.after)];
  let what: string;
  if (oldText !== undefined && newText !== undefined) {
    const lines = diffLines(oldText, newText);
    const added = lines.filter((line) => line.op === '+').length;
    const removed = lines.filter((line) => line.op === '-').length;
    what = `${paint(options, 'green', `+${added}`)} ${paint(options, 'red', `-${removed}`)}`;
  } else what = before && before.kind !== change.after.kind ? `was ${describe(before)}, now ${describe(change.after)}` : describe(change.after);
  const verb = change.type === 'added' ? paint(options, 'green', 'added') : paint(options, 'yellow', 'changed');
  return `  ${verb}  ${path} | ${what}`;
}

/** The surface as recorded for a baseline: one line per path of the list, then how many other files. */
export function renderEntries(entries: Record<string, SurfaceEntry>): string[] {
  const paths = Object.keys(entries).sort();
  const listed = paths.filter((path) => entries[path].rule !== OTHER_RULE);
  const others = paths.length - listed.length;
  const lines = listed.map((path) => `  ${visible(path)}: ${describe(entries[path])}`);
  return others > 0 ? [...lines, `  and ${others} other file${others === 1 ? '' : 's'} the sandbox can write`] : lines;
}

/** The list as a Markdown table, for the README (whose test compares the two). */
export function surfaceTable(): string {
  const rows = HOST_EXECUTED_SURFACE.map((rule) => `| ${rule.paths} | ${rule.readBy} |`);
  return ['| shown first | executed or trusted by |', '|---|---|', ...rows].join('\n') + '\n';
}
