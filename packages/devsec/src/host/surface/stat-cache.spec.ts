import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approveSurface, reviewSurface } from './review';
import { loadStatCache } from './stat-cache';

describe('the stat cache', () => {
  let dir: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  const trustDir = () => {
    const [key] = readdirSync(join(dir, 'state/devsec/trust'));
    return join(dir, 'state/devsec/trust', key);
  };
  const cacheFile = () =>
    join(
      trustDir(),
      readdirSync(trustDir()).find((name) => name.startsWith('stat-cache-'))!,
    );
  /** Sets a file's times back, out of the racy window (a file written in the 2 s before a walk is never vouched for). */
  const age = (rel: string) => utimesSync(join(root, rel), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 2100));

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-stat-cache-')));
    root = join(dir, 'ws');
    mkdirSync(join(root, 'src'), { recursive: true });
    execFileSync('git', ['init', '-q'], { cwd: root, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
    writeFileSync(join(root, 'nx.json'), '{}\n');
    writeFileSync(join(root, 'src/a.ts'), 'approved\n');
    writeFileSync(join(root, 'src/tab\tand\nnewline.ts'), 'odd name\n');
    env = { XDG_STATE_HOME: join(dir, 'state'), HOME: dir };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing changed without reading the snapshot, once the files are older than the racy window', async () => {
    await settle();
    approveSurface(reviewSurface(root, { env }));
    const again = reviewSurface(root, { env });
    expect(again.changes).toEqual([]);
    // The fast path: only the snapshot's header, from the cache; its entries (and texts) were not read.
    expect(again.approved && Object.keys(again.approved.entries)).toEqual([]);
    expect(again.approved?.approvedFrom).toBe(root);
    // The odd name round-trips through the cache's lines.
    expect(readFileSync(cacheFile(), 'utf-8')).toContain('"tab\\tand\\nnewline.ts"\t');
  });

  it('shows a file rewritten to the same size with its mtime set back (ctime cannot be set)', async () => {
    age('src/a.ts');
    await settle();
    approveSurface(reviewSurface(root, { env }));
    expect(reviewSurface(root, { env }).changes).toEqual([]);
    const { atime, mtime } = statSync(join(root, 'src/a.ts'));
    writeFileSync(join(root, 'src/a.ts'), 'planted!\n');
    utimesSync(join(root, 'src/a.ts'), atime, mtime);
    const review = reviewSurface(root, { env });
    expect(review.changes.map((change) => `${change.type} ${change.path}`)).toEqual(['changed src/a.ts']);
    expect(review.changes[0].type === 'changed' && review.changes[0].before.kind === 'file' && review.changes[0].before.text).toBe('approved\n');
  });

  it('never vouches for a file written in the racy window: a second write in the same clock tick still shows', () => {
    // Approved right after writing: every stat is racy, so nothing is vouched for and the next walk reads every file.
    approveSurface(reviewSurface(root, { env }));
    expect(readFileSync(cacheFile(), 'utf-8')).toMatch(/\na\.ts\t\t[0-9a-f]{64}\tf\n/);
    writeFileSync(join(root, 'src/a.ts'), 'planted!\n');
    expect(reviewSurface(root, { env }).changes.map((change) => change.path)).toEqual(['src/a.ts']);
  });

  it('is of one snapshot and one worktree: a snapshot approved again, or another root, is not served from it', async () => {
    await settle();
    const first = reviewSurface(root, { env });
    approveSurface(first);
    const file = cacheFile();
    expect(loadStatCache(file, root, first.file).snapshot).toBeDefined();
    expect(loadStatCache(file, '/elsewhere', first.file).snapshot).toBeUndefined();
    // Approved again (from another worktree, say): a new snapshot file, and this cache is not of it.
    writeFileSync(join(root, 'src/b.ts'), 'new\n');
    const stale = readFileSync(file, 'utf-8');
    approveSurface(reviewSurface(root, { env }));
    writeFileSync(file, stale);
    expect(loadStatCache(file, root, first.file).snapshot).toBeUndefined();
    expect(reviewSurface(root, { env }).changes).toEqual([]);
  });

  it('shows an added, a deleted and a changed file the cache vouched for the others of', async () => {
    await settle();
    approveSurface(reviewSurface(root, { env }));
    writeFileSync(join(root, 'src/b.ts'), 'added\n');
    rmSync(join(root, 'nx.json'));
    writeFileSync(join(root, 'nx.json'), '{"plugins":["./evil"]}\n');
    rmSync(join(root, 'src/tab\tand\nnewline.ts'));
    const review = reviewSurface(root, { env });
    expect(review.changes.map((change) => `${change.type} ${change.path}`)).toEqual(['changed nx.json', 'added src/b.ts', 'deleted src/tab\tand\nnewline.ts']);
  });
});
