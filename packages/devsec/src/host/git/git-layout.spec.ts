import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorktreeError } from '../../sandbox/errors';
import { readGitLayout } from './git-layout';
import { gitMounts, PRIVATE_GIT_DIR_INSIDE } from './git-mounts';
import { findNestedGit } from './nested-git';

describe('git layout, read without running git (real repositories)', () => {
  let base: string;
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', '-c', 'protocol.file.allow=always', ...args], {
      cwd,
      encoding: 'utf-8',
    });
  beforeAll(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-layout-')));
    mkdirSync(join(base, 'main'));
    git(join(base, 'main'), 'init', '-q');
    git(join(base, 'main'), 'commit', '-q', '--allow-empty', '-m', 'first');
    git(join(base, 'main'), 'worktree', 'add', '-q', '-b', 'two', join(base, 'linked'));
    mkdirSync(join(base, 'separate-wt'));
    git(join(base, 'separate-wt'), 'init', '-q', `--separate-git-dir=${join(base, 'separate.git')}`);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('reads a main worktree, a linked worktree and a --separate-git-dir one', () => {
    expect(readGitLayout(join(base, 'main'))).toEqual({
      workspaceRoot: join(base, 'main'),
      kind: 'main',
      dotGitIsDirectory: true,
      gitDir: join(base, 'main/.git'),
      commonDir: join(base, 'main/.git'),
      branch: 'main',
    });
    expect(readGitLayout(join(base, 'linked'))).toEqual({
      workspaceRoot: join(base, 'linked'),
      kind: 'linked',
      dotGitIsDirectory: false,
      gitDir: join(base, 'main/.git/worktrees/linked'),
      commonDir: join(base, 'main/.git'),
      worktreeId: 'linked',
      branch: 'two',
    });
    expect(readGitLayout(join(base, 'separate-wt'))).toMatchObject({
      kind: 'main',
      dotGitIsDirectory: false,
      gitDir: join(base, 'separate.git'),
      commonDir: join(base, 'separate.git'),
    });
  });

  it('refuses a commondir planted in the main git dir, naming it', () => {
    const repo = join(base, 'planted');
    mkdirSync(repo);
    git(repo, 'init', '-q');
    writeFileSync(join(repo, '.git/commondir'), '/tmp/evil\n');
    expect(() => readGitLayout(repo)).toThrow(WorktreeError);
    expect(() => readGitLayout(repo)).toThrow(/\.git\/commondir exists in the main git dir/);
  });

  it('refuses a linked worktree whose pointers disagree (a .git file pointed elsewhere, a commondir moved)', () => {
    const wt = join(base, 'moved');
    git(join(base, 'main'), 'worktree', 'add', '-q', '-b', 'moved', wt);
    const evil = join(base, 'evil/worktrees/x');
    mkdirSync(join(base, 'evil/objects'), { recursive: true });
    mkdirSync(join(base, 'evil/refs'), { recursive: true });
    mkdirSync(evil, { recursive: true });
    writeFileSync(join(evil, 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(evil, 'commondir'), '../..\n');
    writeFileSync(join(evil, 'gitdir'), '/elsewhere/.git\n');
    writeFileSync(join(wt, '.git'), `gitdir: ${evil}\n`);
    expect(() => readGitLayout(wt)).toThrow(/gitdir points to \/elsewhere\/\.git, not to this worktree's \.git/);
  });

  it('refuses a .git that is a symlink', () => {
    const wt = join(base, 'linkroot');
    mkdirSync(wt);
    symlinkSync(join(base, 'main/.git'), join(wt, '.git'));
    expect(() => readGitLayout(wt)).toThrow(/\.git is a symlink/);
  });

  it('explains what to do where there is no .git', () => {
    const plain = join(base, 'plain');
    mkdirSync(plain);
    expect(() => readGitLayout(plain)).toThrow(/not inside a git repository.*git init/);
  });

  it('mounts a linked worktree: a private git dir inside, seeded from its own HEAD and index; objects and refs shared, replace refs and objects/info read-only', () => {
    const layout = readGitLayout(join(base, 'linked'));
    const privateDir = join(base, 'state/linked-git');
    const common = join(base, 'main/.git');
    expect(gitMounts(layout, privateDir)).toEqual([
      { source: `${privateDir}.gitfile`, target: join(base, 'linked/.git'), readOnly: true },
      { source: privateDir, target: PRIVATE_GIT_DIR_INSIDE, readOnly: false },
      { source: join(common, 'objects'), target: `${PRIVATE_GIT_DIR_INSIDE}/objects`, readOnly: false },
      { source: join(common, 'refs'), target: `${PRIVATE_GIT_DIR_INSIDE}/refs`, readOnly: false },
      { source: join(common, 'refs/replace'), target: `${PRIVATE_GIT_DIR_INSIDE}/refs/replace`, readOnly: true },
      { source: join(common, 'objects/info'), target: `${PRIVATE_GIT_DIR_INSIDE}/objects/info`, readOnly: true },
      { source: join(common, 'hooks'), target: `${PRIVATE_GIT_DIR_INSIDE}/hooks`, readOnly: true },
      { source: join(common, 'info'), target: `${PRIVATE_GIT_DIR_INSIDE}/info`, readOnly: true },
    ]);
    expect(readFileSync(`${privateDir}.gitfile`, 'utf-8')).toBe(`gitdir: ${PRIVATE_GIT_DIR_INSIDE}\n`);
    expect(readFileSync(join(privateDir, 'HEAD'), 'utf-8')).toBe('ref: refs/heads/two\n');
    // A standalone git dir: no commondir to follow, no other worktree to clash with.
    expect(existsSync(join(privateDir, 'commondir'))).toBe(false);
  });

  it('gives a main worktree its private git dir at .git itself', () => {
    const layout = readGitLayout(join(base, 'main'));
    const privateDir = join(base, 'state/main-git');
    const mounts = gitMounts(layout, privateDir);
    const dotGit = join(base, 'main/.git');
    expect(mounts).toEqual([
      { source: privateDir, target: dotGit, readOnly: false },
      ...['objects', 'refs'].map((folder) => ({ source: join(dotGit, folder), target: join(dotGit, folder), readOnly: false })),
      ...['refs/replace', 'objects/info'].map((folder) => ({ source: join(dotGit, folder), target: join(dotGit, folder), readOnly: true })),
      { source: join(dotGit, 'hooks'), target: join(dotGit, 'hooks'), readOnly: true },
      { source: join(dotGit, 'info'), target: join(dotGit, 'info'), readOnly: true },
    ]);
    expect(readFileSync(join(privateDir, 'HEAD'), 'utf-8')).toBe('ref: refs/heads/main\n');
    expect(readFileSync(join(privateDir, 'index'))).toEqual(readFileSync(join(dotGit, 'index')));
  });

  it("keeps the agent's staging across starts, and packed-refs following the repository", () => {
    const layout = readGitLayout(join(base, 'main'));
    const privateDir = join(base, 'state/kept-git');
    gitMounts(layout, privateDir);
    writeFileSync(join(privateDir, 'index'), 'the agent staged something');
    writeFileSync(join(base, 'main/.git/packed-refs'), '# pack-refs with: peeled fully-peeled sorted\n');
    gitMounts(layout, privateDir);
    expect(readFileSync(join(privateDir, 'index'), 'utf-8')).toBe('the agent staged something');
    expect(readFileSync(join(privateDir, 'packed-refs'), 'utf-8')).toContain('pack-refs');
    rmSync(join(base, 'main/.git/packed-refs'));
  });

  it('never writes through what the agent left in the private git dir: a symlinked packed-refs, a symlinked mount point', () => {
    const layout = readGitLayout(join(base, 'main'));
    const privateDir = join(base, 'state/planted-git');
    gitMounts(layout, privateDir);
    const victim = join(base, 'victim-bashrc');
    writeFileSync(victim, "the user's own file\n");
    writeFileSync(join(base, 'main/.git/packed-refs'), '# pack-refs with: peeled fully-peeled sorted\n');
    rmSync(join(privateDir, 'packed-refs'), { force: true });
    symlinkSync(victim, join(privateDir, 'packed-refs'));
    rmSync(join(privateDir, 'hooks'), { recursive: true, force: true });
    symlinkSync(join(base, 'elsewhere'), join(privateDir, 'hooks'));
    gitMounts(layout, privateDir);
    expect(readFileSync(victim, 'utf-8')).toBe("the user's own file\n");
    expect(lstatSync(join(privateDir, 'packed-refs')).isFile()).toBe(true);
    expect(readFileSync(join(privateDir, 'packed-refs'), 'utf-8')).toContain('pack-refs');
    expect(lstatSync(join(privateDir, 'hooks')).isDirectory()).toBe(true);
    expect(existsSync(join(base, 'elsewhere'))).toBe(false);
    // A replace-refs folder swapped for a symlink to a folder of the user's: never the mount source.
    const secrets = join(base, 'user-secrets');
    mkdirSync(secrets);
    rmSync(join(base, 'main/.git/refs/replace'), { recursive: true, force: true });
    symlinkSync(secrets, join(base, 'main/.git/refs/replace'));
    const replace = gitMounts(layout, privateDir).find((mount) => mount.target.endsWith('refs/replace'));
    expect(lstatSync(replace!.source).isDirectory()).toBe(true);
    expect(realpathSync(replace!.source)).toBe(realpathSync(join(base, 'main/.git/refs/replace')));
    expect(existsSync(secrets)).toBe(true);
    rmSync(join(base, 'main/.git/packed-refs'));
  });

  it('gives a --separate-git-dir worktree a gitfile of its own naming the private git dir', () => {
    const mounts = gitMounts(readGitLayout(join(base, 'separate-wt')), join(base, 'state/sep-git'));
    expect(mounts.slice(0, 2)).toEqual([
      { source: join(base, 'state/sep-git.gitfile'), target: join(base, 'separate-wt/.git'), readOnly: true },
      { source: join(base, 'state/sep-git'), target: PRIVATE_GIT_DIR_INSIDE, readOnly: false },
    ]);
  });

  it('tells registered submodules from any other .git below the root', () => {
    const superproject = join(base, 'super');
    const library = join(base, 'library');
    mkdirSync(superproject);
    mkdirSync(library);
    git(library, 'init', '-q');
    git(library, 'commit', '-q', '--allow-empty', '-m', 'lib');
    git(superproject, 'init', '-q');
    git(superproject, 'submodule', 'add', '-q', library, 'libs/lib');
    mkdirSync(join(superproject, 'apps/app/nested'), { recursive: true });
    git(join(superproject, 'apps/app/nested'), 'init', '-q');
    writeFileSync(join(superproject, 'apps/app/.git'), `gitdir: ${join(base, 'evil')}\n`);
    mkdirSync(join(superproject, 'node_modules/pkg/.git'), { recursive: true });
    expect(findNestedGit(readGitLayout(superproject))).toEqual({
      submodules: [join(superproject, 'libs/lib/.git')],
      strays: ['apps/app/.git', 'apps/app/nested/.git'],
    });
  });
});
