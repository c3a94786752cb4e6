/**
 * A line diff (Myers' O(ND) algorithm) and its unified hunks, written here rather than taken
 * from a dependency: the host's review tool should not run code the workspace could swap.
 * Past `maxEdits` differing lines the middle of the file is shown as replaced whole: still a
 * correct diff, only not the shortest, and bounded in time and memory.
 */

export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
  /** The file's last line, without a newline after it. */
  noNewline?: boolean;
}

export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: DiffLine[];
}

export const DEFAULT_MAX_EDITS = 2000;

interface Line {
  text: string;
  noNewline: boolean;
}

/** Lines of a text; the last one remembers whether a newline ended it. */
export function splitLines(text: string): Line[] {
  if (text === '') return [];
  const parts = text.split('\n');
  const endsWithNewline = parts[parts.length - 1] === '';
  if (endsWithNewline) parts.pop();
  return parts.map((part, i) => ({ text: part, noNewline: !endsWithNewline && i === parts.length - 1 }));
}

const same = (a: Line, b: Line) => a.text === b.text && a.noNewline === b.noNewline;

/** The shortest edit script from a to b, or undefined when it needs more than maxEdits edits. */
function myers(a: Line[], b: Line[], maxEdits: number): DiffLine[] | undefined {
  const n = a.length;
  const m = b.length;
  const limit = Math.min(n + m, maxEdits);
  const offset = limit + 1;
  const v = new Int32Array(2 * limit + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= limit && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && same(a[x], b[y])) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) found = d;
    }
    trace.push(v.slice(offset - d, offset + d + 1));
  }
  if (found < 0) return undefined;
  const script: DiffLine[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const previous = trace[d - 1];
    const at = (k: number) => previous[k + d - 1];
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const previousK = down ? k + 1 : k - 1;
    const previousX = at(previousK);
    const previousY = previousX - previousK;
    while (x > previousX && y > previousY) {
      y--;
      script.push({ op: ' ', ...a[--x] });
    }
    if (down) script.push({ op: '+', ...b[--y] });
    else script.push({ op: '-', ...a[--x] });
  }
  while (x > 0 && y > 0) {
    y--;
    script.push({ op: ' ', ...a[--x] });
  }
  return script.reverse();
}

/** Every line of both texts, in order, marked kept, removed or added. */
export function diffLines(oldText: string, newText: string, maxEdits = DEFAULT_MAX_EDITS): DiffLine[] {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let start = 0;
  while (start < a.length && start < b.length && same(a[start], b[start])) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && same(a[endA - 1], b[endB - 1])) {
    endA--;
    endB--;
  }
  const middleA = a.slice(start, endA);
  const middleB = b.slice(start, endB);
  const middle = myers(middleA, middleB, maxEdits) ?? [
    ...middleA.map((line): DiffLine => ({ op: '-', ...line })),
    ...middleB.map((line): DiffLine => ({ op: '+', ...line })),
  ];
  const kept = (line: Line): DiffLine => ({ op: ' ', ...line });
  return [...a.slice(0, start).map(kept), ...middle, ...a.slice(endA).map(kept)];
}

/** Unified hunks with `context` kept lines around each change; none when the texts are equal. */
export function unifiedHunks(oldText: string, newText: string, context = 3, maxEdits = DEFAULT_MAX_EDITS): Hunk[] {
  const lines = diffLines(oldText, newText, maxEdits);
  const hunks: Hunk[] = [];
  let oldLine = 1;
  let newLine = 1;
  // nextChange[i]: the index of the first change at or after line i, so each kept line knows how far the next one is.
  const nextChange = new Array<number>(lines.length + 1).fill(Infinity);
  for (let i = lines.length - 1; i >= 0; i--) nextChange[i] = lines[i].op !== ' ' ? i : nextChange[i + 1];
  let current: Hunk | undefined;
  let trailing = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.op !== ' ') {
      if (!current) {
        const lead = lines.slice(Math.max(0, i - context), i);
        current = { oldStart: oldLine - lead.length, oldLines: lead.length, newStart: newLine - lead.length, newLines: lead.length, lines: [...lead] };
        hunks.push(current);
      }
      current.lines.push(line);
      if (line.op === '-') current.oldLines++;
      else current.newLines++;
      trailing = 0;
    } else if (current) {
      if (trailing < context || nextChange[i] - i <= context) {
        current.lines.push(line);
        current.oldLines++;
        current.newLines++;
        trailing++;
      } else current = undefined;
    }
    if (line.op !== '+') oldLine++;
    if (line.op !== '-') newLine++;
  }
  // An empty side starts at line 0, as diff(1) writes it.
  for (const hunk of hunks) {
    if (hunk.oldLines === 0) hunk.oldStart--;
    if (hunk.newLines === 0) hunk.newStart--;
  }
  return hunks;
}
