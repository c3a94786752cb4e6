import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SurfaceEntry } from './list';
import { compareSurface, loadSnapshot, makeSnapshot, saveSnapshot, snapshotFile } from './snapshot';

const file = (text: string | undefined, sha256 = `hash-of-${text}`): SurfaceEntry => ({
  kind: 'file',
  rule: 'package-json',
  sha256,
  size: text?.length ?? 0,
  binary: false,
  text,
});
const layout = { gitDir: '/repo/.git', commonDir: '/repo/.git', notes: [] };

describe('the approved snapshot', () => {
  let state: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'devsec-snapshot-'));
    env = { XDG_STATE_HOME: state, HOME: state };
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  it('lives in the state directory, one folder per repository key, 0600', () => {
    const path = snapshotFile('repo-abc', env);
    expect(path).toBe(join(state, 'devsec', 'trust', 'repo-abc', 'snapshot.json'));
    expect(loadSnapshot(path)).toBeUndefined();
    const snapshot = makeSnapshot({ entries: { 'package.json': file('{}') }, notes: [], incomplete: [] }, layout, '/repo', new Date(0));
    saveSnapshot(path, snapshot);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadSnapshot(path)).toEqual({
      format: 1,
      repository: '/repo/.git',
      approvedAt: '1970-01-01T00:00:00.000Z',
      approvedFrom: '/repo',
      entries: snapshot.entries,
    });
  });

  it('refuses a snapshot it cannot read, naming the file and the fix', () => {
    const path = snapshotFile('repo-abc', env);
    for (const content of [
      'not json',
      '{"format":1}',
      JSON.stringify({ format: 1, repository: '/r', approvedAt: 'x', approvedFrom: '/r', entries: { a: { kind: 'file' } } }),
    ]) {
      writeFileSync(path, content);
      expect(() => loadSnapshot(path)).toThrow(`${path} is not a snapshot @org/devsec can read. Delete it, then run \`devsec check\``);
    }
  });

  it('keeps a path named __proto__ as a path', () => {
    const path = snapshotFile('repo-abc', env);
    const entries = JSON.parse('{"__proto__": {"kind": "symlink", "rule": "symlink", "target": "/etc"}}');
    saveSnapshot(path, makeSnapshot({ entries, notes: [], incomplete: [] }, layout, '/repo'));
    expect(readFileSync(path, 'utf-8')).toContain('"__proto__":{"kind":"symlink"');
    expect(Object.keys(loadSnapshot(path)?.entries ?? {})).toEqual(['__proto__']);
  });
});

describe('comparing the surface with the snapshot', () => {
  it('finds added, deleted and changed paths, in path order', () => {
    const approved = { 'a.json': file('a'), 'b.json': file('b'), 'c.json': file('c') };
    const current = { 'a.json': file('a'), 'b.json': file('B'), 'd.json': file('d') };
    expect(compareSurface(approved, current).map(({ path, type }) => `${type} ${path}`)).toEqual(['changed b.json', 'deleted c.json', 'added d.json']);
  });

  it('decides by hash for files, by target text for symlinks, and by kind', () => {
    const link = (target: string): SurfaceEntry => ({ kind: 'symlink', rule: 'symlink', target });
    const git: SurfaceEntry = { kind: 'directory', rule: 'nested-git', sha256: 'x' };
    expect(compareSurface({ a: file('a', 'h') }, { a: file(undefined, 'h') })).toEqual([]);
    expect(compareSurface({ a: link('/x') }, { a: link('/y') })).toHaveLength(1);
    expect(compareSurface({ a: link('/x') }, { a: link('/x') })).toEqual([]);
    expect(compareSurface({ '.git': file('gitdir: /x') }, { '.git': git })).toEqual([
      { path: '.git', type: 'changed', before: file('gitdir: /x'), after: git },
    ]);
  });
});
