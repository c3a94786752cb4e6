import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hooksPathInWorkspace, readGitConfig, readRepository, repositoryKey } from './repository';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    encoding: 'utf-8',
    stdio: 'pipe',
  });

describe('the repository of a workspace, read without git', () => {
  let dir: string;
  let main: string;
  let linked: string;
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-layout-')));
    main = join(dir, 'main');
    linked = join(dir, 'linked');
    mkdirSync(main);
    git(main, 'init', '-q');
    git(main, 'commit', '-q', '--allow-empty', '-m', 'first');
    git(main, 'worktree', 'add', '-q', linked);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives every worktree of one repository the same common dir and key', () => {
    const fromMain = readRepository(main);
    const fromLinked = readRepository(linked);
    expect(fromMain.commonDir).toBe(join(main, '.git'));
    expect(fromLinked.commonDir).toBe(join(main, '.git'));
    expect(fromLinked.gitDir).toBe(join(main, '.git', 'worktrees', 'linked'));
    expect(repositoryKey(fromLinked)).toBe(repositoryKey(fromMain));
    expect(repositoryKey(fromMain)).toMatch(/^repo-[0-9a-f]{40}$/);
  });

  it('gives another repository another key', () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    git(other, 'init', '-q');
    expect(repositoryKey(readRepository(other))).not.toBe(repositoryKey(readRepository(main)));
  });

  describe('refuses a .git that is not what git wrote', () => {
    let root: string;
    beforeEach(() => {
      root = join(dir, 'forged');
      mkdirSync(root);
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('no .git at all, or a .git file without "gitdir:"', () => {
      expect(() => readRepository(root)).toThrow(/is not inside a git repository/);
      writeFileSync(join(root, '.git'), 'hello\n');
      expect(() => readRepository(root)).toThrow(/\.git does not hold "gitdir: <path>"/);
    });

    it('a .git file pointing inside the workspace, where the agent could have made a git dir', () => {
      mkdirSync(join(root, 'fake', 'objects'), { recursive: true });
      mkdirSync(join(root, 'fake', 'refs'));
      writeFileSync(join(root, 'fake', 'HEAD'), 'ref: refs/heads/main\n');
      writeFileSync(join(root, '.git'), 'gitdir: fake\n');
      expect(() => readRepository(root)).toThrow(/points inside the workspace/);
    });

    it("another worktree's git dir: its gitdir file does not name this one back", () => {
      writeFileSync(join(root, '.git'), `gitdir: ${join(main, '.git', 'worktrees', 'linked')}\n`);
      expect(() => readRepository(root)).toThrow(/gitdir points to .*, not to this worktree's \.git/);
    });

    it('a git dir made inside a writable part of another one (a fresh key: a silent new baseline)', () => {
      const fake = join(main, '.git', 'objects', 'fake');
      mkdirSync(join(fake, 'objects'), { recursive: true });
      mkdirSync(join(fake, 'refs'));
      writeFileSync(join(fake, 'HEAD'), 'ref: refs/heads/main\n');
      writeFileSync(join(fake, 'commondir'), '.\n');
      writeFileSync(join(fake, 'gitdir'), `${join(root, '.git')}\n`);
      writeFileSync(join(root, '.git'), `gitdir: ${fake}\n`);
      try {
        expect(() => readRepository(root)).toThrow(/lies inside the git directory/);
      } finally {
        rmSync(fake, { recursive: true, force: true });
      }
    });

    it("a pointer to another worktree's own .git directory", () => {
      writeFileSync(join(root, '.git'), `gitdir: ${join(main, '.git')}\n`);
      expect(() => readRepository(root)).toThrow(/the \.git directory of another worktree/);
    });
  });

  it('reads core.hooksPath from the repository config, the worktree config winning', () => {
    git(main, 'config', 'core.hooksPath', '.githooks');
    try {
      expect(readRepository(main).hooksPath).toBe('.githooks');
      expect(readRepository(linked).hooksPath).toBe('.githooks');
      git(main, 'config', 'extensions.worktreeConfig', 'true');
      git(linked, 'config', '--worktree', 'core.hooksPath', 'tools/hooks');
      expect(readRepository(linked).hooksPath).toBe('tools/hooks');
      expect(readRepository(main).hooksPath).toBe('.githooks');
    } finally {
      git(main, 'config', '--unset', 'core.hooksPath');
      git(linked, 'config', '--worktree', '--unset', 'core.hooksPath');
      git(main, 'config', '--unset', 'extensions.worktreeConfig');
    }
  });
});

describe('git config, as far as hooks go', () => {
  it('reads core.hooksPath in any case, quoted, with a comment after it', () => {
    expect(readGitConfig('[core]\n\tbare = false\n[CORE]\n\thooksPATH = "my hooks" # why\n').hooksPath).toBe('my hooks');
    expect(readGitConfig('[core "x"]\n\thooksPath = no\n[other]\nhooksPath = no\n').hooksPath).toBeUndefined();
  });

  it.each([
    ['on the section header line', '[core] hooksPath = /x\n', '/x'],
    ['continued with a backslash', '[core]\n\thooksPath = /ws/ev\\\nil\n', '/ws/evil'],
    ['right after the header, no space', '[core]bare=false\n[core]hooksPath=/x\n', '/x'],
    ['set twice: the last wins', '[core]\n\thooksPath = a\n[core]\n\thooksPath = /x ; a comment\n', '/x'],
  ])('reads core.hooksPath %s as git does', (_, text, hooksPath) => {
    expect(readGitConfig(text).hooksPath).toBe(hooksPath);
  });

  it('says when git refuses the text', () => {
    expect(readGitConfig('[core\n\thooksPath = /x\n')).toEqual(expect.objectContaining({ unreadable: expect.stringMatching(/bad config/) }));
  });

  it('notices includes, whose files it does not read', () => {
    expect(readGitConfig('[include]\n\tpath = more.conf\n').includes).toBe(true);
    expect(readGitConfig('[includeIf "gitdir:~/x/"]\n\tpath = more.conf\n').includes).toBe(true);
    expect(readGitConfig('[core]\n').includes).toBe(false);
  });

  it('places a hooks path relative to the worktree, or outside it', () => {
    expect(hooksPathInWorkspace('/ws', '.githooks', {})).toEqual({ relative: '.githooks', absolute: '/ws/.githooks' });
    expect(hooksPathInWorkspace('/ws', '~/hooks', { HOME: '/home/u' })).toEqual({ absolute: '/home/u/hooks' });
    expect(hooksPathInWorkspace('/ws', '../elsewhere', {})).toEqual({ absolute: '/elsewhere' });
  });
});
