import { diffLines, unifiedHunks } from './diff';

const lines = (count: number, change: Record<number, string> = {}) =>
  Array.from({ length: count }, (_, i) => change[i + 1] ?? `line ${i + 1}`)
    .map((line) => `${line}\n`)
    .join('');

/** Both sides rebuilt from a diff: kept and removed lines are the old text, kept and added lines the new one. */
function rebuild(oldText: string, newText: string, maxEdits?: number): [string, string] {
  const script = diffLines(oldText, newText, maxEdits);
  const side = (ops: string) =>
    script
      .filter((line) => ops.includes(line.op))
      .map((line) => (line.noNewline ? line.text : `${line.text}\n`))
      .join('');
  return [side(' -'), side(' +')];
}

describe('the line diff', () => {
  it('finds no hunk in equal texts', () => {
    expect(unifiedHunks('a\nb\n', 'a\nb\n')).toEqual([]);
  });

  it('gives one change three lines of context on each side', () => {
    const [hunk, ...rest] = unifiedHunks(lines(20), lines(20, { 10: 'changed' }));
    expect(rest).toEqual([]);
    expect(hunk).toMatchObject({ oldStart: 7, oldLines: 7, newStart: 7, newLines: 7 });
    expect(hunk.lines.map((line) => `${line.op}${line.text}`)).toEqual([
      ' line 7',
      ' line 8',
      ' line 9',
      '-line 10',
      '+changed',
      ' line 11',
      ' line 12',
      ' line 13',
    ]);
  });

  it('joins changes at most six kept lines apart into one hunk, as diff -U3 does, and keeps farther ones apart', () => {
    expect(unifiedHunks(lines(30), lines(30, { 5: 'x', 12: 'y' }))).toHaveLength(1);
    expect(unifiedHunks(lines(30), lines(30, { 5: 'x', 13: 'y' }))).toHaveLength(2);
  });

  it('writes an empty side as line 0, as diff does', () => {
    expect(unifiedHunks('', 'a\nb\n')[0]).toMatchObject({ oldStart: 0, oldLines: 0, newStart: 1, newLines: 2 });
    expect(unifiedHunks('a\n', '')[0]).toMatchObject({ oldStart: 1, oldLines: 1, newStart: 0, newLines: 0 });
  });

  it('tells a missing final newline apart', () => {
    const [hunk] = unifiedHunks('a\nb\n', 'a\nb');
    expect(hunk.lines.filter((line) => line.op !== ' ')).toEqual([
      { op: '-', text: 'b', noNewline: false },
      { op: '+', text: 'b', noNewline: true },
    ]);
  });

  it('rebuilds both texts from the diff, the shortest one and the capped one', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const text = () => Array.from({ length: Math.floor(random() * 40) }, () => 'abcde'[Math.floor(random() * 5)]).join('\n');
    for (let i = 0; i < 300; i++) {
      const [a, b] = [text(), text()];
      expect(rebuild(a, b)).toEqual([a, b]);
      expect(rebuild(a, b, 2)).toEqual([a, b]);
    }
  });

  it('finds the shortest script: one inserted line is one edit', () => {
    const script = diffLines(lines(1000), lines(1000).replace('line 500\n', 'line 500\nnew\n'));
    expect(script.filter((line) => line.op !== ' ')).toEqual([{ op: '+', text: 'new', noNewline: false }]);
  });
});
