import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../engine/run';
import { writeNewFile } from './fresh-file';
import { visible } from '../../sandbox/visible';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  fetchNamespace,
  fileUrl,
  hostGit,
  parseBranchList,
  privateGitSource,
  renderFetchSummary,
  SandboxSource,
  throwawayArgs,
  validRefName,
  verifiedFetch,
} from './fetch';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const source: SandboxSource = {
  image: `sha256:${'c'.repeat(64)}`,
  gitDir: '/devsec/git',
  user: '1000:1000',
  mounts: [
    { type: 'bind', source: '/state/git', target: '/devsec/git' },
    { type: 'volume', source: 'stack_workspace', target: '/devsec/repository-objects' },
  ],
};

describe('throwawayArgs', () => {
  const args = throwawayArgs(source, 'devsec-fetch-x', ['rev-list', '--count', '--branches']);
  const after = (flag: string) => args[args.indexOf(flag) + 1];

  it('runs git in a container with no network, no capabilities, no new privileges, a read-only root and bounded resources', () => {
    expect(args.slice(0, 2)).toEqual(['run', '--rm']);
    expect(after('--network')).toBe('none');
    expect(after('--cap-drop')).toBe('ALL');
    expect(after('--security-opt')).toBe('no-new-privileges');
    expect(args).toContain('--read-only');
    expect(after('--user')).toBe('1000:1000');
    expect(after('--memory')).toMatch(/^\d+m$/);
    expect(after('--pids-limit')).toMatch(/^\d+$/);
    expect(after('--pull')).toBe('never');
    expect(after('--log-driver')).toBe('none');
    expect(after('--entrypoint')).toBe('git');
    expect(args).not.toContain('--privileged');
    expect(args).not.toContain('-v');
  });

  it('mounts every source read-only, and leaves git the git dir only (no system or user config)', () => {
    const mounts = args.filter((_, i) => args[i - 1] === '--mount');
    expect(mounts).toEqual([
      'type=bind,source=/state/git,target=/devsec/git,readonly',
      'type=volume,source=stack_workspace,target=/devsec/repository-objects,readonly',
    ]);
    const env = args.filter((_, i) => args[i - 1] === '--env');
    expect(env).toEqual(expect.arrayContaining(['GIT_DIR=/devsec/git', 'GIT_CONFIG_NOSYSTEM=1', 'GIT_CONFIG_GLOBAL=/dev/null']));
    // The image, then git's own arguments.
    expect(args.slice(args.indexOf(source.image) + 1)).toEqual(['-c', 'safe.directory=*', 'rev-list', '--count', '--branches']);
    expect(throwawayArgs(source, 'n', ['x'], true)).toContain('-i');
  });

  it('refuses a mount path that would change the --mount option, and a user that is not uid:gid', () => {
    expect(() => throwawayArgs({ ...source, mounts: [{ type: 'bind', source: '/a,target=/etc', target: '/x' }] }, 'n', [])).toThrow(/comma/);
    expect(() => throwawayArgs({ ...source, user: 'root' }, 'n', [])).toThrow(/uid:gid/);
  });
});

describe('parseBranchList', () => {
  it('reads <id> refs/heads/<name> lines', () => {
    expect(parseBranchList(`${A} refs/heads/main\n${B} refs/heads/feature/x\n`)).toEqual([
      { id: A, name: 'main' },
      { id: B, name: 'feature/x' },
    ]);
    expect(parseBranchList('')).toEqual([]);
  });

  it.each([
    ['a tag', `${A} refs/tags/v1`],
    ['a short id', `abc refs/heads/main`],
    ['an upper-case id', `${A.toUpperCase()} refs/heads/main`],
    ['no name', `${A} refs/heads/`],
    ['something else', 'fatal: not a git repository'],
  ])('refuses the whole list when a line is %s', (_, line) => {
    expect(() => parseBranchList(`${B} refs/heads/ok\n${line}\n`)).toThrow(/not a branch/);
  });
});

describe('validRefName', () => {
  it.each(['refs/remotes/devsec/app/main', 'refs/remotes/devsec/@org/app/feature/x', 'refs/heads/a\u202eb'])('accepts %s', (ref) => {
    expect(validRefName(ref, runCommand)).toBe(true);
  });
  it.each([
    'refs/heads/a..b',
    'refs/heads/a\x1b[31m',
    'refs/heads/a b',
    'refs/heads/x.lock',
    'refs/heads/a~1',
    'refs/heads/a@{1}',
    'refs/heads/-x/../y',
    'refs/heads/*',
    'refs/heads/a\nrefs/heads/b',
  ])('refuses %j', (ref) => {
    expect(validRefName(ref, runCommand)).toBe(false);
  });
});

describe('renderFetchSummary', () => {
  it('says per branch what arrived, with counts and a bounded log, everything from inside made visible', () => {
    const text = renderFetchSummary('app', [
      {
        name: 'feature\x1b[2J',
        state: 'new',
        after: A,
        commits: 12,
        log: ['abc1234 add \x1b]0;title\x07 thing', ...Array.from({ length: 9 }, (_, i) => `ddd000${i} c${i}`)],
      },
      { name: 'main', state: 'updated', before: B, after: A, commits: 1, log: ['abc1234 one'] },
      { name: 'old', state: 'gone', before: B },
      { name: 'same', state: 'unchanged', before: A, after: A },
      { name: 'here', state: 'new', after: B, commits: 0 },
      { name: 'rewritten', state: 'forced', before: B, after: A, commits: 2, log: ['a x', 'b y'] },
    ]);
    expect(visible(text, { keepNewlines: true })).toBe(text);
    expect(text).toContain('From the sandbox of app into devsec/app/:');
    expect(text).toMatch(/feature\\x1b\[2J\s+new\s+aaaaaaaaaaaa\s+12 new commits/);
    expect(text).toContain('abc1234 add \\x1b]0;title\\x07 thing');
    expect(text).toContain('… and 2 more');
    expect(text).toMatch(/main\s+updated\s+bbbbbbbbbbbb\.\.aaaaaaaaaaaa\s+1 new commit$/m);
    expect(text).toMatch(/old\s+gone\s+the agent deleted it; kept at bbbbbbbbbbbb \(git update-ref -d refs\/remotes\/devsec\/app\/old drops it\)/);
    expect(text).toMatch(/same\s+unchanged\s+aaaaaaaaaaaa/);
    expect(text).toMatch(/here\s+new\s+bbbbbbbbbbbb\s+no new commit$/m);
    expect(text).toMatch(/rewritten\s+forced .*2 new commits \(history rewritten\)/);
  });

  it('says when the sandbox has no branch', () => {
    expect(renderFetchSummary('app', [])).toBe('The sandbox of app has no branch.');
    expect(fetchNamespace('app')).toBe('refs/remotes/devsec/app');
  });

  it("keeps one project's refs out of another's: a / (and %) in a project's name is encoded", () => {
    expect(fetchNamespace('app/x')).toBe('refs/remotes/devsec/app%2Fx');
    expect(fetchNamespace('app%2Fx')).toBe('refs/remotes/devsec/app%252Fx');
    expect(`${fetchNamespace('app')}/x/foo`.startsWith(`${fetchNamespace('app/x')}/`)).toBe(false);
  });
});

describe('privateGitSource and writeNewFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'devsec-fetch-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('mounts the private git dir and the repository objects read-only; the repository objects and refs over its own while it has none', () => {
    const privateDir = join(dir, 'git');
    mkdirSync(join(privateDir, 'objects', 'info'), { recursive: true });
    const old = privateGitSource({ image: 'i', privateDir, commonDir: '/repo/.git' });
    expect(old.mounts.map((m) => `${m.source}>${m.target}`)).toEqual([
      `${privateDir}>/devsec/git`,
      '/repo/.git/objects>/devsec/repository-objects',
      '/repo/.git/objects>/devsec/git/objects',
      '/repo/.git/refs>/devsec/git/refs',
    ]);
    expect(old.user).toMatch(/^\d+:\d+$/);
    writeFileSync(join(privateDir, 'objects', 'info', 'alternates'), '/devsec/repository-objects\n');
    expect(privateGitSource({ image: 'i', privateDir, commonDir: '/repo/.git' }).mounts.map((m) => m.target)).toEqual([
      '/devsec/git',
      '/devsec/repository-objects',
    ]);
  });

  it('writeNewFile never writes through what stands at the path', () => {
    const target = join(dir, 'yours');
    writeFileSync(target, 'yours');
    symlinkSync(target, join(dir, 'link'));
    expect(() => writeNewFile(join(dir, 'link'), Buffer.from('x'))).toThrow(/EEXIST/);
    expect(readFileSync(target, 'utf-8')).toBe('yours');
    writeNewFile(join(dir, 'new'), Buffer.from('bundle'));
    expect(readFileSync(join(dir, 'new'), 'utf-8')).toBe('bundle');
  });
});

describe('verifiedFetch (real git): fsck runs whatever git\u2019s version', () => {
  let dir: string;
  const git = (cwd: string, args: string[], input?: string | Buffer) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], { cwd, input, encoding: 'utf-8' }).trim();
  beforeEach(() => {
    // A space, a % and a non-ASCII letter in the path: the file:// URL encodes them, git decodes them.
    dir = mkdtempSync(join(tmpdir(), 'devsec verified %41 é-'));
    mkdirSync(join(dir, 'host'));
    git(join(dir, 'host'), ['init', '-q']);
    git(join(dir, 'host'), ['commit', '-q', '--allow-empty', '-m', 'first']);
    git(dir, ['clone', '-q', join(dir, 'host'), 'sandbox']);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const fetchBundle = (branch: string) => {
    const sandbox = join(dir, 'sandbox');
    const bundle = join(dir, 'state.bundle');
    git(sandbox, ['bundle', 'create', '-q', bundle, branch, '^origin/HEAD']);
    const commonDir = join(dir, 'host', '.git');
    verifiedFetch({
      git: hostGit(commonDir, runCommand),
      run: runCommand,
      commonDir,
      bundle,
      scratch: `${bundle}.git`,
      names: [branch],
      refspecs: [`+refs/heads/${branch}:refs/remotes/devsec/app/${branch}`],
    });
  };

  it('refuses a commit with a bad author email and a .GIT tree entry, naming it; nothing arrives and the scratch repository is gone', () => {
    const sandbox = join(dir, 'sandbox');
    const blob = git(sandbox, ['hash-object', '-w', '--stdin'], 'evil\n');
    const tree = git(
      sandbox,
      ['hash-object', '-t', 'tree', '-w', '--literally', '--stdin'],
      Buffer.concat([Buffer.from('100644 .GIT\0'), Buffer.from(blob, 'hex')]),
    );
    const head = git(sandbox, ['rev-parse', 'HEAD']);
    const commit = git(
      sandbox,
      ['hash-object', '-t', 'commit', '-w', '--literally', '--stdin'],
      `tree ${tree}\nparent ${head}\nauthor x <bad 1 +0000\ncommitter x <x@y> 1 +0000\n\nevil\n`,
    );
    git(sandbox, ['update-ref', 'refs/heads/evil', commit]);
    expect(() => fetchBundle('evil')).toThrow(/git refused what the sandbox sent; nothing was fetched:[^]*(badEmail|hasDotgit)/);
    expect(() => git(join(dir, 'host'), ['rev-parse', '--verify', '-q', 'refs/remotes/devsec/app/evil'])).toThrow();
    expect(() => git(join(dir, 'host'), ['cat-file', '-e', commit])).toThrow();
    git(join(dir, 'host'), ['fsck', '--no-progress']);
    expect(existsSync(join(dir, 'state.bundle.git'))).toBe(false);
  });

  it('encodes a path as a file:// URL git decodes back', () => {
    expect(fileUrl('/a b/%41/é/x.git')).toBe('file:///a%20b/%2541/%C3%A9/x.git');
  });

  it('brings an honest commit', () => {
    const sandbox = join(dir, 'sandbox');
    git(sandbox, ['switch', '-q', '-c', 'feature']);
    git(sandbox, ['commit', '-q', '--allow-empty', '-m', 'agent']);
    fetchBundle('feature');
    expect(git(join(dir, 'host'), ['log', '-1', '--format=%s', 'refs/remotes/devsec/app/feature'])).toBe('agent');
    expect(existsSync(join(dir, 'state.bundle.git'))).toBe(false);
  });
});
