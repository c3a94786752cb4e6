import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGitLayout } from './git-layout';
import { gitMounts, hostSideDir, PRIVATE_GIT_DIR_INSIDE, REPOSITORY_OBJECTS_INSIDE } from './git-mounts';
import { isValidRefName, parsePackedRefs } from './sandbox-refs';

describe("the sandbox's repository of its own (real repositories)", () => {
  let base: string;
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf-8' }).trim();
  const main = () => join(base, 'main');
  const common = () => join(base, 'main/.git');
  /** git in the sandbox's repository as the dev container sees it: its alternates name the repository's objects. */
  const sandboxGit = (privateDir: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '--git-dir', privateDir, ...args], {
      encoding: 'utf-8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(common(), 'objects'), GIT_CONFIG_NOSYSTEM: '1', HOME: base },
    }).trim();
  const refsOf = (privateDir: string) => parsePackedRefs(readFileSync(join(privateDir, 'packed-refs'), 'utf-8'));
  const say = () => {
    const lines: string[] = [];
    return { lines, say: (line: string) => void lines.push(line) };
  };

  beforeAll(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-objects-')));
    mkdirSync(main());
    git(main(), 'init', '-q');
    git(main(), 'commit', '-q', '--allow-empty', '-m', 'first');
    git(main(), 'tag', '-a', '-m', 'one', 'v1');
    git(main(), 'branch', 'packed-one');
    git(main(), 'pack-refs', '--all');
    git(main(), 'branch', 'loose-one');
    git(main(), 'worktree', 'add', '-q', '-b', 'two', join(base, 'linked'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('mounts a linked worktree: its own git dir at /devsec/git, config and alternates host-written and read-only, the objects read-only; nothing of the repository writable', () => {
    const privateDir = join(base, 'state/linked-git');
    const host = hostSideDir(privateDir);
    const mounts = gitMounts(readGitLayout(join(base, 'linked')), privateDir);
    expect(mounts).toEqual([
      { source: `${privateDir}.gitfile`, target: join(base, 'linked/.git'), readOnly: true },
      { source: privateDir, target: PRIVATE_GIT_DIR_INSIDE, readOnly: false },
      { source: join(privateDir, 'objects'), target: `${PRIVATE_GIT_DIR_INSIDE}/objects`, readOnly: false },
      { source: join(privateDir, 'refs'), target: `${PRIVATE_GIT_DIR_INSIDE}/refs`, readOnly: false },
      { source: join(host, 'config'), target: `${PRIVATE_GIT_DIR_INSIDE}/config`, readOnly: true },
      { source: join(host, 'objects-info'), target: `${PRIVATE_GIT_DIR_INSIDE}/objects/info`, readOnly: true },
      { source: join(host, 'empty'), target: `${PRIVATE_GIT_DIR_INSIDE}/refs/replace`, readOnly: true },
      { source: join(common(), 'hooks'), target: `${PRIVATE_GIT_DIR_INSIDE}/hooks`, readOnly: true },
      { source: join(common(), 'info'), target: `${PRIVATE_GIT_DIR_INSIDE}/info`, readOnly: true },
      { source: join(common(), 'objects'), target: REPOSITORY_OBJECTS_INSIDE, readOnly: true },
    ]);
    // Writable: the private git dir, and two folders of it pinned as mount points of their own.
    expect(mounts.filter((mount) => !mount.readOnly).map((mount) => mount.source)).toEqual([privateDir, join(privateDir, 'objects'), join(privateDir, 'refs')]);
    expect(readFileSync(`${privateDir}.gitfile`, 'utf-8')).toBe(`gitdir: ${PRIVATE_GIT_DIR_INSIDE}\n`);
    expect(readFileSync(join(host, 'objects-info/alternates'), 'utf-8')).toBe('/devsec/repository-objects\n');
    expect(readFileSync(join(privateDir, 'objects/info/alternates'), 'utf-8')).toBe('/devsec/repository-objects\n');
    expect(readFileSync(join(privateDir, 'HEAD'), 'utf-8')).toBe('ref: refs/heads/two\n');
    // A standalone git dir: no commondir to follow, no other worktree to clash with.
    expect(existsSync(join(privateDir, 'commondir'))).toBe(false);
    // The same config inside (the mount) and on the host's side of the mount point; none of the repository's remotes.
    const config = readFileSync(join(host, 'config'), 'utf-8');
    expect(readFileSync(join(privateDir, 'config'), 'utf-8')).toBe(config);
    expect(config).toMatch(/\[core\]\n(\t.*\n)*\tbare = false\n/);
    expect(config).toContain('\twritecommitgraph = false');
    expect(config).not.toMatch(/remote|url/);
  });

  it('gives a main worktree its repository at .git itself; git there reads the history through the alternates', () => {
    const privateDir = join(base, 'state/main-git');
    const mounts = gitMounts(readGitLayout(main()), privateDir);
    expect(mounts[0]).toEqual({ source: privateDir, target: common(), readOnly: false });
    expect(mounts.slice(1).map((mount) => [mount.target, mount.readOnly])).toEqual([
      [join(common(), 'objects'), false],
      [join(common(), 'refs'), false],
      [join(common(), 'config'), true],
      [join(common(), 'objects/info'), true],
      [join(common(), 'refs/replace'), true],
      [join(common(), 'hooks'), true],
      [join(common(), 'info'), true],
      [REPOSITORY_OBJECTS_INSIDE, true],
    ]);
    expect(readFileSync(join(privateDir, 'index'))).toEqual(readFileSync(join(common(), 'index')));
    // The repository's branches (loose and packed), tags and HEAD, as git itself reads them.
    expect(sandboxGit(privateDir, 'for-each-ref', '--format=%(refname) %(objectname)')).toBe(git(main(), 'for-each-ref', '--format=%(refname) %(objectname)'));
    expect(sandboxGit(privateDir, 'log', '--format=%s', 'HEAD')).toBe('first');
    expect(sandboxGit(privateDir, 'rev-parse', 'v1^{commit}')).toBe(git(main(), 'rev-parse', 'HEAD'));
  });

  it("follows the host's branches where the sandbox has not moved them, and keeps what the agent did", () => {
    const privateDir = join(base, 'state/follow-git');
    const layout = readGitLayout(main());
    gitMounts(layout, privateDir);
    const first = git(main(), 'rev-parse', 'HEAD');
    // The agent: a commit on a branch of its own, on one of the host's (loose, as git writes it), another of the host's packed elsewhere, one deleted.
    const agent = sandboxGit(privateDir, 'commit-tree', `${first}^{tree}`, '-p', first, '-m', 'agent');
    writeFileSync(join(privateDir, 'refs/heads/loose-one'), `${agent}\n`);
    writeFileSync(
      join(privateDir, 'packed-refs'),
      readFileSync(join(privateDir, 'packed-refs'), 'utf-8').replace(`${first} refs/heads/packed-one`, `${agent} refs/heads/packed-one`) +
        `${agent} refs/heads/agent/own\n`,
    );
    writeFileSync(join(privateDir, 'index'), 'the agent staged something');
    // The host: a commit on main, a branch deleted, one made.
    git(main(), 'commit', '-q', '--allow-empty', '-m', 'second');
    const second = git(main(), 'rev-parse', 'HEAD');
    git(main(), 'branch', '-q', 'new-on-host');
    git(main(), 'tag', 'later');
    const said = say();
    gitMounts(layout, privateDir, { say: said.say });
    expect(said.lines).toEqual([]);
    const refs = refsOf(privateDir);
    expect(refs.get('refs/heads/main')).toBe(second);
    expect(refs.get('refs/heads/new-on-host')).toBe(second);
    expect(refs.get('refs/tags/later')).toBe(second);
    expect(refs.get('refs/heads/packed-one')).toBe(agent);
    expect(refs.get('refs/heads/agent/own')).toBe(agent);
    expect(readFileSync(join(privateDir, 'refs/heads/loose-one'), 'utf-8')).toBe(`${agent}\n`);
    // main moved under HEAD: the index follows the host's (the staging was of a commit no longer checked out).
    expect(readFileSync(join(privateDir, 'index'))).toEqual(readFileSync(join(common(), 'index')));
    // The agent switches branch and deletes one of the host's; the host deletes new-on-host: the switch is kept, the deleted one comes back.
    writeFileSync(join(privateDir, 'HEAD'), 'ref: refs/heads/agent/own\n');
    writeFileSync(join(privateDir, 'index'), 'the agent staged something');
    writeFileSync(join(privateDir, 'packed-refs'), readFileSync(join(privateDir, 'packed-refs'), 'utf-8').replace(`${second} refs/tags/later\n`, ''));
    git(main(), 'branch', '-q', '-D', 'new-on-host');
    gitMounts(layout, privateDir);
    expect(readFileSync(join(privateDir, 'HEAD'), 'utf-8')).toBe('ref: refs/heads/agent/own\n');
    expect(readFileSync(join(privateDir, 'index'), 'utf-8')).toBe('the agent staged something');
    expect(refsOf(privateDir).get('refs/tags/later')).toBe(second);
    expect(refsOf(privateDir).has('refs/heads/new-on-host')).toBe(false);
    expect(sandboxGit(privateDir, 'log', '--format=%s', 'agent/own')).toBe('agent\nfirst');
    git(main(), 'tag', '-d', 'later');
  });

  it('removes a loose ref that still holds the seeded value, so the branch follows the host; never through a symlinked folder', () => {
    const privateDir = join(base, 'state/loose-git');
    const layout = readGitLayout(main());
    gitMounts(layout, privateDir);
    const before = git(main(), 'rev-parse', 'main');
    // The agent committed on main and reset back: git leaves a loose ref with the seeded value.
    writeFileSync(join(privateDir, 'refs/heads/main'), `${before}\n`);
    // And a branch of the host's under a folder swapped for a symlink to a folder of the user's.
    const user = join(base, 'user-folder');
    mkdirSync(join(user, 'feature'), { recursive: true });
    writeFileSync(join(user, 'feature/x'), `${before}\n`);
    git(main(), 'branch', '-q', 'feature/x');
    gitMounts(layout, privateDir);
    rmSync(join(privateDir, 'refs/heads/feature'), { recursive: true, force: true });
    symlinkSync(join(user, 'feature'), join(privateDir, 'refs/heads/feature'));
    git(main(), 'commit', '-q', '--allow-empty', '-m', 'third');
    git(main(), 'branch', '-q', '-f', 'feature/x', 'main');
    gitMounts(layout, privateDir);
    const after = git(main(), 'rev-parse', 'main');
    expect(existsSync(join(privateDir, 'refs/heads/main'))).toBe(false);
    expect(refsOf(privateDir).get('refs/heads/main')).toBe(after);
    expect(readFileSync(join(user, 'feature/x'), 'utf-8')).toBe(`${before}\n`);
    git(main(), 'branch', '-q', '-D', 'feature/x');
  });

  it('moves a private git dir of the old layout (objects and refs were the repository’s) at the next start, saying so once', () => {
    const privateDir = join(base, 'state/old-git');
    // As an earlier version left it: HEAD, index, a config the agent could write, a copy of packed-refs, empty mount points.
    mkdirSync(join(privateDir, 'objects'), { recursive: true });
    mkdirSync(join(privateDir, 'refs'));
    writeFileSync(join(privateDir, 'HEAD'), 'ref: refs/heads/loose-one\n');
    writeFileSync(join(privateDir, 'index'), 'the agent staged something');
    writeFileSync(join(privateDir, 'config'), '[core]\n\tfsmonitor = "touch /tmp/planted"\n');
    writeFileSync(join(privateDir, 'packed-refs'), `# pack-refs with: peeled fully-peeled sorted \n${'0'.repeat(40)} refs/heads/main\n`);
    const first = say();
    gitMounts(readGitLayout(main()), privateDir, { say: first.say });
    expect(first.lines).toHaveLength(1);
    expect(first.lines[0]).toMatch(/a repository of its own.*devsec fetch.*nothing is lost/);
    expect(readFileSync(join(privateDir, 'config'), 'utf-8')).not.toContain('fsmonitor');
    expect(refsOf(privateDir).get('refs/heads/main')).toBe(git(main(), 'rev-parse', 'main'));
    // The agent's HEAD and staging stay.
    expect(readFileSync(join(privateDir, 'HEAD'), 'utf-8')).toBe('ref: refs/heads/loose-one\n');
    expect(readFileSync(join(privateDir, 'index'), 'utf-8')).toBe('the agent staged something');
    const second = say();
    gitMounts(readGitLayout(main()), privateDir, { say: second.say });
    expect(second.lines).toEqual([]);
  });

  it('never writes through what the agent left in its git dir: a symlinked packed-refs, config, HEAD, a symlinked mount point', () => {
    const privateDir = join(base, 'state/planted-git');
    const layout = readGitLayout(main());
    gitMounts(layout, privateDir);
    const victim = join(base, 'victim-bashrc');
    writeFileSync(victim, "the user's own file\n");
    for (const file of ['packed-refs', 'config', 'HEAD']) {
      rmSync(join(privateDir, file), { force: true });
      symlinkSync(victim, join(privateDir, file));
    }
    for (const folder of ['hooks', 'objects/info', 'refs/replace']) {
      rmSync(join(privateDir, folder), { recursive: true, force: true });
      symlinkSync(join(base, 'elsewhere'), join(privateDir, folder));
    }
    gitMounts(layout, privateDir);
    expect(readFileSync(victim, 'utf-8')).toBe("the user's own file\n");
    for (const file of ['packed-refs', 'config', 'HEAD']) expect(lstatSync(join(privateDir, file)).isFile()).toBe(true);
    for (const folder of ['hooks', 'objects/info', 'refs/replace']) expect(lstatSync(join(privateDir, folder)).isDirectory()).toBe(true);
    expect(existsSync(join(base, 'elsewhere'))).toBe(false);
    expect(refsOf(privateDir).get('refs/heads/main')).toBe(git(main(), 'rev-parse', 'main'));
    // A HEAD that was a symlink is none of the agent's recorded values: the host's.
    expect(readFileSync(join(privateDir, 'HEAD'), 'utf-8')).toBe('ref: refs/heads/main\n');
  });

  it('never removes a tree of the agent: folders where the host writes are set aside whole, a deleted HEAD removes nothing, and it says so', () => {
    const privateDir = join(base, 'state/aside-git');
    const layout = readGitLayout(main());
    gitMounts(layout, privateDir);
    const victim = join(base, 'aside-victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep'), "the user's own file\n");
    for (const name of ['index', 'packed-refs', 'HEAD', 'objects/info/big', 'refs/replace/big']) {
      rmSync(join(privateDir, name), { force: true });
      mkdirSync(join(privateDir, name));
      writeFileSync(join(privateDir, name, 'keep'), 'the agent wrote this\n');
      symlinkSync(victim, join(privateDir, name, 'link'));
    }
    writeFileSync(join(privateDir, 'agent-file'), 'kept\n');
    const { lines, say: said } = say();
    // HEAD a folder: the start is a fresh one, and removes nothing of the private dir.
    gitMounts(layout, privateDir, { say: said });
    expect(readFileSync(join(victim, 'keep'), 'utf-8')).toBe("the user's own file\n");
    expect(readFileSync(join(privateDir, 'agent-file'), 'utf-8')).toBe('kept\n');
    for (const name of ['index', 'packed-refs', 'HEAD']) expect(lstatSync(join(privateDir, name)).isFile()).toBe(true);
    for (const name of ['objects/info/big', 'refs/replace/big']) expect(existsSync(join(privateDir, name))).toBe(false);
    const aside = readdirSync(privateDir).filter((name) => name.startsWith('.devsec-set-aside-'));
    expect(aside).toHaveLength(5);
    for (const name of aside) expect(readFileSync(join(privateDir, name, 'keep'), 'utf-8')).toBe('the agent wrote this\n');
    expect(lines.join('\n')).toMatch(/Set aside .*objects\/info\/big → \.devsec-set-aside-/);
    expect(readFileSync(join(privateDir, 'HEAD'), 'utf-8')).toBe('ref: refs/heads/main\n');
  });

  it('writes nothing in the repository', () => {
    const before = git(main(), 'status', '--porcelain=v2', '--branch', '--ignored');
    const listing = execFileSync('find', [common(), '-newer', join(common(), 'HEAD')], { encoding: 'utf-8' });
    gitMounts(readGitLayout(main()), join(base, 'state/untouched-git'));
    expect(git(main(), 'status', '--porcelain=v2', '--branch', '--ignored')).toBe(before);
    expect(execFileSync('find', [common(), '-newer', join(common(), 'HEAD')], { encoding: 'utf-8' })).toBe(listing);
  });
});

describe('ref names, as git check-ref-format has them', () => {
  it.each([
    'refs/heads/main',
    'refs/heads/agent/feature-1',
    'refs/tags/v1.0',
    'refs/heads/a..b',
    'refs/heads/.hidden',
    'refs/heads/x.lock',
    'refs/heads/a b',
    'refs/heads/a~1',
    'refs/heads/a^',
    'refs/heads/a:b',
    'refs/heads/a?',
    'refs/heads/a*',
    'refs/heads/a[b',
    'refs/heads/a\\b',
    'refs/heads/a@{1}',
    'refs/heads/@',
    'refs/heads/a@b',
    'refs/heads/a//b',
    'refs/heads/a/',
    'refs/heads/a.',
    'refs/heads/\u0001x',
    'refs/heads/ünïcode',
    'refs/heads/a/.b',
    'refs/heads/a.lock/b',
  ])('%j', (name) => {
    const byGit = spawnSync('git', ['check-ref-format', name]).status === 0;
    expect(isValidRefName(name)).toBe(byGit);
  });
});
