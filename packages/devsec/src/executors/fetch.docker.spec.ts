/**
 * `devsec fetch` on the real engine, attacks as attacks: the agent commits and branches inside a
 * running sandbox (docker exec as the container's user), then the host fetches. Pass: the
 * sandbox's branches arrive under refs/remotes/devsec/app/ with the right counts, and nothing else
 * of the host's repository moves (its branches, HEAD, index and files byte for byte). Then, on a
 * private git dir with an object store of its own (the layout of issue 27, part 1, built here as
 * a fixture and written by the agent from a container of the sandbox's image): a corrupt object
 * is refused, naming it, with the host's refs unchanged; a loose object that is a symlink to a
 * host file, and an alternates entry naming a host folder, bring nothing of the host's file.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { deflateSync } from 'node:zlib';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import { CHECKOUT_UID } from '../../../../tools/testing/sandbox-workspace';
import { main } from '../cli/main';
import { fetchIntoHost, privateGitSource, waitingCommits } from '../host/lifecycle';
import { runCommand } from '../host/engine/run';

jest.setTimeout(600_000);

const run = Math.random().toString(36).slice(2, 8);

describeWithDocker('devsec fetch: the sandbox’s branches into the host’s repository, verified, and nothing else moves', () => {
  let stack: SandboxStackFixture;
  let dir: string;
  let app: string;
  let image: string;
  let stateHome: string;
  const inside = (container: string, script: string) => docker(['exec', '-u', 'node', container, 'bash', '-c', script]);
  const hostGit = (...args: string[]) => spawnSync('git', ['--no-optional-locks', ...args], { cwd: dir, encoding: 'utf-8', env: process.env });
  const refs = () => hostGit('for-each-ref', '--format=%(objectname) %(refname)').stdout.split('\n').filter(Boolean);
  const devsecRefs = () =>
    Object.fromEntries(
      refs()
        .filter((l) => l.includes(' refs/remotes/devsec/app/'))
        .map((l) => l.split(' ').reverse()),
    );
  const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
  /** Every file of the worktree (but the stack's volumes' mount points) and of .git but the fetched refs and objects, hashed. */
  const files = (root: string, skip: (path: string) => boolean): Record<string, string> => {
    const out: Record<string, string> = {};
    const visit = (folder: string) => {
      for (const entry of readdirSync(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        const rel = relative(root, path);
        if (skip(rel)) continue;
        if (entry.isDirectory()) visit(path);
        else out[rel] = entry.isFile() ? sha(readFileSync(path)) : 'other';
      }
    };
    visit(root);
    return out;
  };
  /** The host's repository as the user has it: every branch and tag, HEAD, the index, the worktree's files, byte for byte. */
  const hostState = () => ({
    refs: refs().filter((l) => !l.includes(' refs/remotes/devsec/')),
    head: readFileSync(join(dir, '.git/HEAD'), 'utf-8'),
    index: sha(readFileSync(join(dir, '.git/index'))),
    worktree: files(dir, (rel) => /^(\.git|node_modules|\.nx)$/.test(rel)),
    git: files(join(dir, '.git'), (rel) => /^(objects|refs\/remotes|logs\/refs\/remotes|FETCH_HEAD|ORIG_HEAD)$/.test(rel) || rel.startsWith('objects/')),
  });
  const devsec = async (...argv: string[]) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (chunk) => (out += chunk));
    stderr.on('data', (chunk) => (err += chunk));
    const code = await main(argv, { cwd: dir, stdout, stderr } as never);
    return { code, out, err };
  };

  beforeAll(async () => {
    stack = await createSandboxStack('fetch');
    ({ dir, stateHome } = stack);
    expect(await stack.up()).toMatchObject({ success: true, errors: '' });
    app = stack.app;
    image = dockerOk(['image', 'inspect', '--format', '{{.Id}}', `${stack.project}-app`]).trim();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('brings the commit and the branch the agent made inside under refs/remotes/devsec/app/, with their counts; no branch, HEAD, index or file of the host moves', async () => {
    const branch = hostGit('branch', '--show-current').stdout.trim();
    const before = hostState();
    const work = inside(
      app,
      `cd ${dir} && echo agent > apps/app/agent.txt && git add apps/app/agent.txt && git commit -q -m "agent: one" && git branch agent/feature && git switch -q agent/feature && echo two >> apps/app/agent.txt && git commit -q -am "agent: two \x1b[31mred" && git switch -q ${branch} && git rev-parse ${branch} agent/feature`,
    );
    expect(work.stderr).toBe('');
    const [tip, feature] = work.stdout.trim().split('\n');
    // The private git dir has an object store of its own (issue 27, part 1) or shares the repository's (before it).
    const ownStore = existsSync(join(stateHome, 'devsec/worktrees', app.replace(/-app-1$/, ''), 'git/objects/info/alternates'));
    const afterWork = hostState();
    // The agent's file is in the workspace (mount mode: it is the agent's to write); nothing else of the host moved.
    const butAgentFile = (state: ReturnType<typeof hostState>) => ({
      ...state,
      worktree: Object.fromEntries(Object.entries(state.worktree).filter(([rel]) => rel !== 'apps/app/agent.txt')),
    });
    expect(afterWork.worktree['apps/app/agent.txt']).toBeDefined();
    if (ownStore) expect(butAgentFile(afterWork)).toEqual(before);

    // up-worktree's summary says how many commits wait (counted by the throwaway container while the stack is awaited).
    const started = Date.now();
    const { success, lines: said } = await stack.up();
    expect(success).toBe(true);
    console.log(`up-worktree re-run with the count: ${Date.now() - started} ms`);
    expect(said).toContain(ownStore ? '2 commits of the sandbox wait to be fetched: nx run app:fetch' : 'No commit of the sandbox waits to be fetched.');

    const fetched = await devsec('fetch', 'app');
    expect([fetched.code, fetched.err]).toEqual([0, '']);
    expect(devsecRefs()).toEqual({ [`refs/remotes/devsec/app/${branch}`]: tip, 'refs/remotes/devsec/app/agent/feature': feature });
    // What arrived, control characters made visible: two new commits on the feature branch, one on the checked-out one.
    expect(fetched.out).toContain('From the sandbox of app into devsec/app/:');
    if (ownStore) {
      expect(fetched.out).toMatch(/agent\/feature\s+new\s+\w{12}\s+2 new commits/);
      expect(fetched.out).toContain('agent: two \\x1b[31mred');
    } else {
      // Before part 1 the agent's commits are the repository's already: nothing is new, the branches are named all the same.
      expect(fetched.out).toMatch(/agent\/feature\s+new\s+\w{12}\s+no new commit$/m);
    }
    expect(fetched.out).not.toContain('\x1b');
    // The fetch moved nothing of the user's: branches, HEAD, index, working tree and git files are as they were before it.
    expect(hostState()).toEqual(afterWork);

    // Again: nothing new, and a branch deleted inside is reported gone (its tracking ref kept).
    inside(app, `cd ${dir} && git branch -q -D agent/feature`);
    const again = await devsec('fetch', 'app');
    expect(again.code).toBe(0);
    expect(again.out).toMatch(new RegExp(`${branch}\\s+unchanged`));
    expect(again.out).toMatch(/agent\/feature\s+gone\s+the agent deleted it; kept at/);
    expect(devsecRefs()['refs/remotes/devsec/app/agent/feature']).toBe(feature);
    // Before part 1 the agent's deletion is the repository's own (its refs are shared): only the rest is compared then.
    expect(ownStore ? butAgentFile(hostState()) : hostState()).toEqual(ownStore ? before : { ...afterWork, refs: expect.any(Array), git: expect.any(Object) });
  });

  it('refuses a commit fsck refuses (a bad author email, a .GIT tree entry) whatever git\u2019s version, naming it: no ref is created, the host\u2019s fsck stays clean', async () => {
    const plant = inside(
      app,
      `set -e; cd ${dir}; blob=$(echo evil | git hash-object -w --stdin); ` +
        `tree=$(node -e "process.stdout.write(Buffer.concat([Buffer.from('100644 .GIT\\0'), Buffer.from('$blob', 'hex')]))" | git hash-object -t tree -w --literally --stdin); ` +
        `c=$(printf "tree $tree\\nparent $(git rev-parse HEAD)\\nauthor x <bad 1 +0000\\ncommitter x <x@y> 1 +0000\\n\\nevil\\n" | git hash-object -t commit -w --literally --stdin); ` +
        `git update-ref refs/heads/evil $c; git fsck --no-dangling 2>&1 | grep -Eo 'badEmail|hasDotgit' | sort -u`,
    );
    expect(plant.stdout).toMatch(/badEmail|hasDotgit/);
    const fetched = await devsec('fetch', 'app');
    expect(fetched.code).not.toBe(0);
    expect(fetched.out + fetched.err).toMatch(/git refused what the sandbox sent; nothing was fetched:[^]*(badEmail|hasDotgit)/);
    expect(hostGit('rev-parse', '--verify', '-q', 'refs/remotes/devsec/app/evil').stdout.trim()).toBe('');
    const fsck = hostGit('fsck', '--no-dangling', '--no-progress');
    expect([fsck.status, fsck.stdout + fsck.stderr]).toEqual([0, '']);
    // The host's scratch repository is gone; the agent's branch is the agent's to remove.
    expect(readdirSync(join(stateHome, 'devsec/worktrees', app.replace(/-app-1$/, ''))).filter((name) => /\.bundle/.test(name))).toEqual([]);
    inside(app, `cd ${dir} && git update-ref -d refs/heads/evil`);
  });

  describe('a private git dir with an object store of its own, written by the agent', () => {
    let privateDir: string;
    let agent: string;
    let secretDir: string;
    const commonDir = () => join(dir, '.git');
    const source = () => privateGitSource({ image, privateDir, commonDir: commonDir() });
    const fetch = () => fetchIntoHost({ source: source(), commonDir: commonDir(), project: 'fixture', bundleDir: stateHome, run: runCommand });
    const fixtureRefs = () => refs().filter((l) => l.includes(' refs/remotes/devsec/fixture/'));
    const g = 'git -c user.name=agent -c user.email=agent@sandbox.invalid';
    /** A loose object's path for an id. */
    const loose = (id: string) => `/devsec/git/objects/${id.slice(0, 2)}/${id.slice(2)}`;

    beforeAll(() => {
      // The layout of part 1, by hand: objects and refs of its own, alternates naming the repository's objects as mounted inside.
      privateDir = join(mkdtempSync(join(tmpdir(), 'devsec-fetch-private-')), 'git');
      spawnSync('git', ['init', '-q', '--bare', privateDir], { env: process.env });
      rmSync(join(privateDir, 'hooks'), { recursive: true, force: true });
      writeFileSync(join(privateDir, 'objects/info/alternates'), '/devsec/repository-objects\n');
      writeFileSync(join(privateDir, 'HEAD'), 'ref: refs/heads/main\n');
      spawnSync('chown', ['-R', `${CHECKOUT_UID}:${CHECKOUT_UID}`, privateDir]);
      // The user's secret, as a valid loose object at a host path, and a host folder of objects holding it.
      secretDir = mkdtempSync(join(tmpdir(), 'devsec-fetch-secret-'));
      const secret = `host secret ${run}\n`;
      const id = spawnSync('git', ['hash-object', '--stdin'], { input: secret, encoding: 'utf-8', env: process.env }).stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{40}$/);
      mkdirSync(join(secretDir, 'objects', id.slice(0, 2)), { recursive: true });
      writeFileSync(join(secretDir, 'objects', id.slice(0, 2), id.slice(2)), deflateSync(Buffer.from(`blob ${Buffer.byteLength(secret)}\0${secret}`)));
      writeFileSync(join(secretDir, 'secret-id'), id);
      agent = `devsec-fetch-agent-${run}`;
      // The agent's container: the private git dir writable, the repository's objects read-only, as in the dev container.
      dockerOk([
        'run',
        '-d',
        '--name',
        agent,
        '--network',
        'none',
        '--user',
        'node',
        '--env',
        'GIT_DIR=/devsec/git',
        '-v',
        `${privateDir}:/devsec/git`,
        '-v',
        `${commonDir()}/objects:/devsec/repository-objects:ro`,
        '--entrypoint',
        'sleep',
        image,
        'infinity',
      ]);
      const main = hostGit('rev-parse', 'HEAD').stdout.trim();
      expect(inside(agent, `git update-ref refs/heads/main ${main} && git log --oneline -1 main`).stdout).not.toBe('');
    });

    afterAll(() => {
      docker(['rm', '--force', agent]);
      rmSync(join(privateDir, '..'), { recursive: true, force: true });
      rmSync(secretDir, { recursive: true, force: true });
    });

    it("brings the agent's honest commits, counted by the same throwaway container", async () => {
      const made = inside(
        agent,
        `set -e; t=$(echo honest | git hash-object -w --stdin); tree=$(printf "100644 blob $t\\thonest.txt\\n" | git mktree); c=$(${g} commit-tree $tree -p main -m "agent: honest"); git update-ref refs/heads/main $c; git update-ref refs/heads/topic $c; echo $c`,
      );
      expect(made.stderr).toBe('');
      const hostIds = [...new Set(refs().map((l) => l.split(' ')[0]))];
      expect(await waitingCommits(source(), hostIds)).toBe(1);
      const before = hostState();
      const results = fetch();
      expect(results.map((r) => [r.name, r.state, r.commits])).toEqual([
        ['main', 'new', 1],
        ['topic', 'new', 1],
      ]);
      expect(fixtureRefs()).toEqual([`${made.stdout.trim()} refs/remotes/devsec/fixture/main`, `${made.stdout.trim()} refs/remotes/devsec/fixture/topic`]);
      expect(hostState()).toEqual(before);
      expect(hostGit('fsck', '--no-progress', '--connectivity-only').status).toBe(0);
      expect(await waitingCommits(source(), [...new Set(refs().map((l) => l.split(' ')[0]))])).toBe(0);
    });

    it('refuses a bundle with a corrupt object (a loose object whose content is not its name), naming it; no ref of the host moves', () => {
      const made = inside(
        agent,
        `set -e; b=$(echo honest-two | git hash-object -w --stdin); e=$(echo forged | git hash-object -w --stdin); tree=$(printf "100644 blob $b\\tf.txt\\n" | git mktree); c=$(${g} commit-tree $tree -p main -m "agent: forged"); git update-ref refs/heads/forged $c; lo() { echo /devsec/git/objects/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-); }; chmod u+w $(lo $b); cp $(lo $e) $(lo $b); echo $b`,
      );
      expect(made.stderr).toBe('');
      const blob = made.stdout.trim();
      const before = { state: hostState(), all: refs() };
      expect(() => fetch()).toThrow(new RegExp(`git refused what the sandbox sent[\\s\\S]*${blob}`));
      expect({ state: hostState(), all: refs() }).toEqual(before);
      expect(hostGit('cat-file', '-e', blob).status).not.toBe(0);
      inside(agent, 'git update-ref -d refs/heads/forged');
    });

    it("brings nothing of a host file a loose object symlinks to, nor of a host folder an alternates entry names: they resolve in the throwaway container's view only", () => {
      const id = readFileSync(join(secretDir, 'secret-id'), 'utf-8');
      const hostObject = join(secretDir, 'objects', id.slice(0, 2), id.slice(2));
      for (const plant of [
        // A symlink in the sandbox's objects to the host file (a valid loose object of the user's secret).
        `mkdir -p /devsec/git/objects/${id.slice(0, 2)} && ln -sf ${hostObject} ${loose(id)}`,
        // An alternates entry naming the host folder that holds it.
        `rm -f ${loose(id)} && printf '/devsec/repository-objects\\n${join(secretDir, 'objects')}\\n' > /devsec/git/objects/info/alternates`,
      ]) {
        const made = inside(
          agent,
          `set -e; ${plant}; tree=$(printf "100644 blob ${id}\\tsecret.txt\\n" | git mktree --missing); c=$(${g} commit-tree $tree -p main -m "agent: take the secret"); git update-ref refs/heads/leak $c`,
        );
        // The agent's own git cannot resolve the host path either (the second plant warns so): what matters is the fetch.
        expect([plant, made.status]).toEqual([plant, 0]);
        const before = refs();
        expect(() => fetch()).toThrow(/failed|refused|missing|unable/i);
        expect(refs()).toEqual(before);
        expect(hostGit('cat-file', '-e', id).status).not.toBe(0);
      }
      inside(agent, `git update-ref -d refs/heads/leak; printf '/devsec/repository-objects\\n' > /devsec/git/objects/info/alternates`);
    });
  });
});
