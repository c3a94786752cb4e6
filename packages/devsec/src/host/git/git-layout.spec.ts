import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorktreeError } from '../../sandbox/errors';
import { readGitLayout } from './git-layout';
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
