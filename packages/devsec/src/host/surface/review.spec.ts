import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approveSurface, changedSinceReview, reviewSurface } from './review';

describe('a review of the surface', () => {
  let dir: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-review-')));
    root = join(dir, 'ws');
    mkdirSync(root);
    execFileSync('git', ['init', '-q'], { cwd: root, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
    writeFileSync(join(root, 'nx.json'), '{}\n');
    writeFileSync(join(root, 'package.json'), '{}\n');
    env = { XDG_STATE_HOME: join(dir, 'state'), HOME: dir };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('counts every file before the first approval, nothing after it, then each change; writing no snapshot itself', () => {
    expect(changedSinceReview(root, env)).toEqual({ count: 2, command: 'devsec check' });
    expect(reviewSurface(root, { env }).approved).toBeUndefined();
    approveSurface(reviewSurface(root, { env }));
    expect(changedSinceReview(root, env)).toBeUndefined();
    writeFileSync(join(root, 'package.json'), '{"scripts":{"x":"y"}}\n');
    writeFileSync(join(root, '.envrc'), 'x\n');
    expect(changedSinceReview(root, env)).toEqual({ count: 2, command: 'devsec check' });
    expect(readdirSync(join(dir, 'state/devsec/trust'))).toHaveLength(1);
  });

  it('approves exactly what it showed, not a later state of the workspace', () => {
    const review = reviewSurface(root, { env });
    writeFileSync(join(root, 'package.json'), '{"scripts":{"postinstall":"evil"}}\n');
    approveSurface(review);
    expect(reviewSurface(root, { env }).changes.map((change) => `${change.type} ${change.path}`)).toEqual(['changed package.json']);
  });

  it('throws what devsec check would print when .git is not git’s', () => {
    rmSync(join(root, '.git'), { recursive: true });
    writeFileSync(join(root, '.git'), 'nonsense\n');
    expect(() => changedSinceReview(root, env)).toThrow(/\.git does not hold "gitdir: <path>"/);
  });
});
