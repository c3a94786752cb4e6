import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGitLayout } from './git-layout';
import { scanGitlinks } from './gitlinks';
import { findNestedGit } from './nested-git';
import { gateNestedGit } from '../guard/nested-git';
import type { SandboxStack } from '../stack/sandbox-stack';

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf-8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('gitlinks that lead the host’s git into a repository the agent made', () => {
  let dir: string;
  let root: string;
  let markers: string;
  /** A repository at rel whose config runs a payload when git enters it. */
  const plantRepository = (rel: string, name: string) => {
    git(root, 'init', '-q', rel);
    git(join(root, rel), '-c', 'core.fsmonitor=false', 'commit', '-q', '--allow-empty', '-m', 'agent');
    writeFileSync(join(root, rel, '.git/config'), `[core]\n\tfsmonitor = "touch ${join(markers, name)}; echo"\n`, { flag: 'a' });
  };
  /** The sandbox's commit: its own index (the host's does not follow), the branch moves. */
  const commitFromInside = (branch: string, ...paths: string[]) => {
    const index = join(dir, 'sandbox-index');
    const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
    execFileSync('git', ['read-tree', branch], { cwd: root, env });
    execFileSync('git', ['-c', 'core.fsmonitor=false', 'add', ...paths], { cwd: root, env, stdio: 'ignore' });
    const tree = execFileSync('git', ['write-tree'], { cwd: root, env, encoding: 'utf-8' }).trim();
    const commit = execFileSync('git', ['commit-tree', tree, '-p', branch, '-m', 'from inside'], { cwd: root, env, encoding: 'utf-8' }).trim();
    git(root, 'update-ref', `refs/heads/${branch}`, commit);
    rmSync(index);
  };
  const scan = () => scanGitlinks(readGitLayout(root));

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-gitlinks-')));
    root = join(dir, 'ws');
    markers = join(dir, 'ran');
    mkdirSync(markers);
    mkdirSync(root);
    git(root, 'init', '-q', '-b', 'main');
    writeFileSync(join(root, 'README.md'), 'hello\n');
    git(root, 'add', 'README.md');
    git(root, 'commit', '-q', '-m', 'init');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names a gitlink of the branch whose folder holds the agent’s .git directory, and then of the index after git reset; nothing ran', () => {
    plantRepository('libs/util', 'fsmonitor');
    commitFromInside('main', 'libs/util');
    expect(scan()).toEqual({
      gitlinks: [{ path: 'libs/util', in: ['HEAD', 'refs/heads/main'] }],
      unsafe: [{ path: 'libs/util', in: ['HEAD', 'refs/heads/main'], dotGit: 'libs/util/.git' }],
      unreadable: [],
    });
    git(root, '-c', 'core.fsmonitor=false', 'reset', '-q');
    expect(scan().unsafe).toEqual([{ path: 'libs/util', in: ['the index', 'HEAD', 'refs/heads/main'], dotGit: 'libs/util/.git' }]);
    expect(readdirSync(markers)).toEqual([]);
    // What the scan keeps the user from: git status enters the folder and runs its fsmonitor.
    git(root, 'status', '--short');
    expect(readdirSync(markers)).toEqual(['fsmonitor']);
  });

  it('names one in a branch that is not checked out, and in a folder the surface walk skips', () => {
    git(root, 'branch', 'agent/feature');
    plantRepository('dist/tool', 'fsmonitor');
    commitFromInside('agent/feature', '-f', 'dist/tool');
    expect(scan().unsafe).toEqual([{ path: 'dist/tool', in: ['refs/heads/agent/feature'], dotGit: 'dist/tool/.git' }]);
  });

  it('reads HEAD on its own when it is detached, and each worktree by its own HEAD', () => {
    plantRepository('libs/util', 'fsmonitor');
    git(root, 'branch', 'agent/feature');
    commitFromInside('agent/feature', 'libs/util');
    // Detached at the agent's commit (the index left as it was): no branch is current, HEAD is read by itself.
    git(root, 'update-ref', '--no-deref', 'HEAD', 'agent/feature');
    expect(scan().unsafe).toEqual([{ path: 'libs/util', in: ['HEAD', 'refs/heads/agent/feature'], dotGit: 'libs/util/.git' }]);
    git(root, 'symbolic-ref', 'HEAD', 'refs/heads/main');
    expect(scan().gitlinks).toEqual([{ path: 'libs/util', in: ['refs/heads/agent/feature'] }]);
    // A linked worktree on the agent's branch: its HEAD is that branch, the main worktree's is not.
    const linked = join(dir, 'linked');
    git(root, '-c', 'core.fsmonitor=false', 'worktree', 'add', '-q', linked, 'agent/feature');
    expect(scanGitlinks(readGitLayout(linked)).gitlinks).toEqual([{ path: 'libs/util', in: ['the index', 'HEAD', 'refs/heads/agent/feature'] }]);
    expect(scan().gitlinks).toEqual([{ path: 'libs/util', in: ['refs/heads/agent/feature'] }]);
  });

  it('names a gitlink whose .git is a gitfile pointing outside the modules dir', () => {
    plantRepository('libs/util', 'fsmonitor');
    commitFromInside('main', 'libs/util');
    execFileSync('mv', [join(root, 'libs/util/.git'), join(dir, 'elsewhere')]);
    writeFileSync(join(root, 'libs/util/.git'), `gitdir: ${join(dir, 'elsewhere')}\n`);
    expect(scan().unsafe).toEqual([{ path: 'libs/util', in: ['HEAD', 'refs/heads/main'], dotGit: 'libs/util/.git' }]);
  });

  it('allows a registered submodule, and lists a gitlink with no .git in its folder without refusing it', () => {
    const upstream = join(dir, 'upstream');
    git(dir, 'init', '-q', upstream);
    git(upstream, 'commit', '-q', '--allow-empty', '-m', 'upstream');
    git(root, '-c', 'protocol.file.allow=always', 'submodule', '--quiet', 'add', upstream, 'vendor/upstream');
    git(root, 'commit', '-q', '-m', 'submodule');
    expect(existsSync(join(root, '.git/modules/vendor/upstream'))).toBe(true);
    // A gitlink to a commit nobody has, in a folder git makes empty: git status has nothing to enter.
    plantRepository('libs/empty', 'fsmonitor');
    commitFromInside('main', 'libs/empty');
    rmSync(join(root, 'libs/empty'), { recursive: true });
    mkdirSync(join(root, 'libs/empty'));
    git(root, '-c', 'core.fsmonitor=false', 'reset', '-q');
    expect(scan()).toEqual({
      gitlinks: [
        { path: 'libs/empty', in: ['the index', 'HEAD', 'refs/heads/main'] },
        { path: 'vendor/upstream', in: ['the index', 'HEAD', 'refs/heads/main'] },
      ],
      unsafe: [],
      unreadable: [],
    });
    git(root, 'status', '--short');
    expect(readdirSync(markers)).toEqual([]);
  });

  describe('a gitfile that reads as the registered module but is not where git goes (red team C and B)', () => {
    beforeEach(() => {
      const upstream = join(dir, 'upstream');
      git(dir, 'init', '-q', upstream);
      git(upstream, 'commit', '-q', '--allow-empty', '-m', 'upstream');
      git(root, '-c', 'protocol.file.allow=always', 'submodule', '--quiet', 'add', upstream, 'libs/sub');
      git(root, 'commit', '-q', '-m', 'submodule');
    });
    /** The agent's own git dir, where git lands, with a config that runs a payload and a work tree of the gitlink. */
    const plantGitDir = (at: string, worktree: string, name: string) => {
      mkdirSync(join(root, 'scratch'), { recursive: true });
      plantRepository('scratch/r', name);
      mkdirSync(at, { recursive: true });
      execFileSync('cp', ['-r', join(root, 'scratch/r/.git/.'), at]);
      writeFileSync(
        join(at, 'config'),
        `	worktree = ${worktree}
`,
        { flag: 'a' },
      );
      rmSync(join(root, 'scratch'), { recursive: true });
    };

    it("refuses a pointer that climbs back out of a symlink: ../L/../../.git/modules/libs/sub lands in the agent's folder", () => {
      // .git/refs is writable inside: the agent's git dir goes there, reached through a link in the workspace.
      mkdirSync(join(root, 'pkg/evil'), { recursive: true });
      mkdirSync(join(root, '.git/refs/zz/q'), { recursive: true });
      symlinkSync(join(root, '.git/refs/zz/q'), join(root, 'pkg/L'));
      plantGitDir(join(root, '.git/refs/.git/modules/libs/sub'), join(root, 'pkg/evil'), 'fsmonitor-lexical');
      writeFileSync(join(root, 'pkg/evil/.git'), 'gitdir: ../L/../../.git/modules/libs/sub\n');
      const sub = git(join(root, 'libs/sub'), 'rev-parse', 'HEAD').trim();
      git(root, 'update-index', '--add', '--cacheinfo', `160000,${sub},pkg/evil`);
      git(root, '-c', 'core.fsmonitor=false', 'commit', '-q', '-m', 'a submodule');
      expect(scan().unsafe).toEqual([{ path: 'pkg/evil', in: ['the index', 'HEAD', 'refs/heads/main'], dotGit: 'pkg/evil/.git' }]);
      // Where git goes is where the kernel resolves the text (the `..` after the link climbs from its target), not where it reads.
      expect(realpathSync.native(`${join(root, 'pkg/evil')}/../L/../../.git/modules/libs/sub`)).toBe(join(root, '.git/refs/.git/modules/libs/sub'));
    });

    it('refuses a pointer through a symlink the agent can re-aim once the host looked, even while it names the module', () => {
      mkdirSync(join(root, 'tools/evil'), { recursive: true });
      symlinkSync(join(root, '.git/modules/libs/sub'), join(root, 'tools/evil-link'));
      writeFileSync(join(root, 'tools/evil/.git'), 'gitdir: ../evil-link\n');
      const sub = git(join(root, 'libs/sub'), 'rev-parse', 'HEAD').trim();
      git(root, 'update-index', '--add', '--cacheinfo', `160000,${sub},tools/evil`);
      expect(scan().unsafe).toEqual([{ path: 'tools/evil', in: ['the index'], dotGit: 'tools/evil/.git' }]);
      expect(findNestedGit(readGitLayout(root)).strays).toEqual(['tools/evil/.git']);
      // The registered submodule itself is still one.
      expect(findNestedGit(readGitLayout(root)).submodules).toEqual([join(root, 'libs/sub/.git')]);
    });
  });

  it('reads a repository with no commit yet as holding no gitlinks', () => {
    const fresh = join(dir, 'fresh');
    git(dir, 'init', '-q', fresh);
    expect(scanGitlinks(readGitLayout(fresh))).toEqual({ gitlinks: [], unsafe: [], unreadable: [] });
  });

  it('finds nothing to refuse on a host without git, whose tools cannot enter a folder either', () => {
    const missing = Object.assign(new Error('spawnSync git ENOENT'), { code: 'ENOENT' });
    expect(scanGitlinks(readGitLayout(root), () => ({ status: null, stdout: '', stderr: '', error: missing }))).toEqual({
      gitlinks: [],
      unsafe: [],
      unreadable: [],
    });
    expect(scanGitlinks(readGitLayout(root), () => ({ status: 128, stdout: '', stderr: 'fatal: index file corrupt' })).unreadable).toEqual([
      'the index (git ls-files: fatal: index file corrupt)',
      'the branches (git for-each-ref: fatal: index file corrupt)',
    ]);
  });

  it('says what it could not read: a branch that names no tree', () => {
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: root, env: GIT_ENV, input: 'not a tree\n', encoding: 'utf-8' }).trim();
    writeFileSync(join(root, '.git/refs/heads/odd'), `${blob}\n`);
    expect(scan().unreadable).toEqual([expect.stringMatching(/^refs\/heads\/odd \(git ls-tree: fatal: not a tree object/)]);
  });

  it('refuses the start naming the gitlink, before any other nested .git', () => {
    plantRepository('libs/util', 'fsmonitor');
    commitFromInside('main', 'libs/util');
    const stack = {
      identity: { git: readGitLayout(root) },
      nestedGit: { submodules: [], strays: ['apps/x/.git', 'libs/util/.git'] },
    } as unknown as SandboxStack;
    const say = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
    expect(() => gateNestedGit(stack, [], say)).toThrow(
      /^Refusing to start: a gitlink .*\n {2}- libs\/util: a gitlink \(submodule entry\) in HEAD, refs\/heads\/main, whose folder holds libs\/util\/\.git, not a registered submodule's\n {2}- apps\/x\/\.git\n.*--ignore-submodules=all/s,
    );
    expect(() => gateNestedGit(stack, ['nested-git'], say)).not.toThrow();
    expect(say.warn).toHaveBeenCalledWith(expect.stringMatching(/^UNSAFE: nested-git allowed by --unsafe-allow: libs\/util: a gitlink/));
    expect(readdirSync(markers)).toEqual([]);
  });
});
