import { mkdtempSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SurfaceEntry } from './list';
import { readSurfaceFile } from './read';
import { loadStatCache, saveStatCache, StatCache } from './stat-cache';

describe('the stat cache', () => {
  let dir: string;
  let file: string;
  const LATER = Date.now() + 60_000;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-stat-cache-')));
    file = join(dir, 'a.txt');
    writeFileSync(file, 'approved\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const approvedOf = (): Record<string, SurfaceEntry> => ({ 'a.txt': { kind: 'file', rule: 'other', ...readSurfaceFile(file)! } });
  /** One walk's worth: look up, read on a miss, remember; the cache for the next walk. */
  const walk = (previous: StatCache, approved: Record<string, SurfaceEntry>, startedAt = LATER) => {
    const cache = new StatCache(dir, approved, previous.toJSON().entries, startedAt);
    const hit = cache.lookup('a.txt', file);
    if (!hit) cache.remember('a.txt', readSurfaceFile(file)!);
    return { cache, hit };
  };

  it('vouches for an unchanged file with the approved entry, text included', () => {
    const approved = approvedOf();
    const first = walk(new StatCache(dir, approved, {}, LATER), approved);
    expect(first.hit).toBeUndefined();
    expect(walk(first.cache, approved).hit).toEqual({
      kind: 'file',
      sha256: approved['a.txt'].kind === 'file' && approved['a.txt'].sha256,
      size: 9,
      binary: false,
      text: 'approved\n',
    });
  });

  it('misses a file rewritten to the same size with its mtime set back (ctime cannot be), and one whose hash is not the approved one', () => {
    const approved = approvedOf();
    const first = walk(new StatCache(dir, approved, {}, LATER), approved);
    const { atime, mtime } = statSync(file);
    writeFileSync(file, 'planted!\n');
    utimesSync(file, atime, mtime);
    expect(walk(first.cache, approved).hit).toBeUndefined();
    const other = { 'a.txt': { ...approved['a.txt'], sha256: '0'.repeat(64) } } as Record<string, SurfaceEntry>;
    expect(walk(walk(first.cache, approved).cache, other).hit).toBeUndefined();
  });

  it('keeps nothing of a file written just before the walk (the same clock tick could hide a second write)', () => {
    const approved = approvedOf();
    const first = walk(new StatCache(dir, approved, {}), approved, Date.now());
    expect(first.cache.toJSON().entries).toEqual({});
  });

  it('is read back only for the worktree that wrote it', () => {
    const approved = approvedOf();
    const first = walk(new StatCache(dir, approved, {}, LATER), approved);
    const path = join(dir, 'cache.json');
    saveStatCache(path, first.cache);
    expect(Object.keys(loadStatCache(path, dir, approved).toJSON().entries)).toEqual([]); // nothing looked up yet
    const same = loadStatCache(path, dir, approved);
    expect(same.lookup('a.txt', file)).toBeUndefined(); // racy against now: written a moment ago
    expect(Object.keys((loadStatCache(path, '/elsewhere', approved) as unknown as { previous: object }).previous)).toEqual([]);
    expect(Object.keys((same as unknown as { previous: object }).previous)).toEqual(['a.txt']);
  });
});
