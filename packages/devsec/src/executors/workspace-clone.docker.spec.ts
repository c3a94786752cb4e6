/**
 * A clone-mode sandbox (`--workspace=clone`) on the real engine: started with up-worktree as a
 * user would, it mounts nothing of the checkout or its git dirs; its workspace volume holds a
 * clone of the host's HEAD with the history behind it (here this repository's own history, whose
 * first start is timed); the agent commits inside, and the host's refs, index and files stay
 * byte for byte as they were, across a restart that keeps the agent's commit.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { COMPOSE_FILE, createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import { CHECKOUT_UID } from '../../../../tools/testing/sandbox-workspace';
import { fetchSandbox } from '../host/lifecycle';
import downWorktree from './down-worktree/executor';

jest.setTimeout(900_000);

/** What up-worktree writes on the host at every start (per machine, git-ignored): the only files allowed to change. */
const WRITTEN_BY_START = new Set(['apps/app/.devcontainer/.env', 'apps/app/.devcontainer/docker-compose.worktree.yml']);
const REPOSITORY = join(__dirname, '..', '..', '..', '..');

describeWithDocker('--workspace=clone: a clone in a volume, nothing of the checkout mounted', () => {
  let stack: SandboxStackFixture;
  let dir: string;
  let app: string;
  let project: string;
  let firstStart: { seconds: number; lines: string[] };
  let home: string;
  /** git on the host, as the checkout's owner runs it. */
  const hostGit = (...args: string[]) => {
    const result = spawnSync('git', args, { cwd: dir, encoding: 'utf-8', uid: CHECKOUT_UID, gid: CHECKOUT_UID, env: { ...process.env, HOME: home } });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  const inside = (script: string) => docker(['exec', '-u', 'node', '-w', dir, app, 'bash', '-c', script]);
  /** Every file, folder and link of the checkout and its .git, with its bytes (or target), mode and owner. */
  const hostSnapshot = (): Record<string, string> => {
    const entries: Record<string, string> = {};
    const visit = (path: string) => {
      const rel = relative(dir, path);
      if (WRITTEN_BY_START.has(rel)) return;
      const stat = lstatSync(path);
      const what = stat.isSymbolicLink()
        ? `link ${readlinkSync(path)}`
        : stat.isFile()
          ? `file ${createHash('sha256').update(readFileSync(path)).digest('hex')}`
          : stat.isDirectory()
            ? 'dir'
            : 'other';
      entries[rel] = `${what} ${stat.mode.toString(8)} ${stat.uid}:${stat.gid}`;
      if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    };
    visit(dir);
    return entries;
  };
  const up = async () => {
    const result = await stack.up();
    ({ project, app } = stack);
    return result;
  };

  beforeAll(async () => {
    stack = await createSandboxStack('clone', {
      generator: { workspace: 'clone' },
      prepare: (root, ws) => {
        writeFileSync(join(root, '.gitignore'), `${readFileSync(join(root, '.gitignore'), 'utf-8')}node_modules/\n.nx/\n`);
        // This repository's own history behind the workspace's commit: what the first start clones.
        ws.git('fetch', '-q', '--no-tags', REPOSITORY, 'HEAD');
        ws.git('reset', '-q', '--soft', 'FETCH_HEAD');
      },
      committed: (ws) => ws.git('checkout', '-q', '-b', 'feature/clone'),
    });
    ({ dir, home } = stack);
    const started = Date.now();
    const result = await up();
    firstStart = { seconds: (Date.now() - started) / 1000, lines: result.lines };
    expect({ success: result.success, errors: result.errors }).toEqual({ success: true, errors: '' });
    const commits = hostGit('rev-list', '--count', 'HEAD').trim();
    console.log(
      `first start of a clone-mode sandbox on ${commits} commits: ${firstStart.seconds.toFixed(1)} s (the whole up-worktree; Compose builds the images, from cached layers when other suites built them)\n${firstStart.lines.join('\n')}`,
    );
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('mounts nothing of the checkout or its git dir into the dev container: its workspace is the stack volume', () => {
    const [info] = JSON.parse(dockerOk(['inspect', app])) as Array<{ Mounts: Array<{ Type: string; Source: string; Destination: string; Name?: string }> }>;
    const real = realpathSync(dir);
    const fromCheckout = info.Mounts.filter((mount) => [dir, real].some((root) => mount.Source === root || mount.Source.startsWith(`${root}/`)));
    expect(fromCheckout).toEqual([]);
    expect(info.Mounts.filter((mount) => mount.Type === 'bind')).toEqual([]);
    expect(info.Mounts.find((mount) => mount.Destination === dir)).toMatchObject({ Type: 'volume', Name: `${project}_workspace` });
    // The throwaway container that cloned is gone.
    expect(
      dockerOk(['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'status=exited', '--format', '{{.Names}}']).trim(),
    ).toBe('');
    expect(firstStart.lines.join('\n')).toMatch(/workspace: cloned feature\/clone at [0-9a-f]+, \d+ commits, \d+ files/);
    expect(firstStart.lines.join('\n')).toMatch(/Workspace: a clone in the volume .*_workspace .*devsec fetch app/);
  });

  it("holds a clone of the host's HEAD: the branch, the history and the files; origin is nothing to push to", () => {
    const host = {
      head: hostGit('rev-parse', 'HEAD').trim(),
      count: hostGit('rev-list', '--count', 'HEAD').trim(),
      files: hostGit('ls-files', '-s'),
    };
    const clone = inside('git rev-parse HEAD; git rev-list --count HEAD; git rev-parse --abbrev-ref HEAD; git status --porcelain');
    expect(clone.stdout.split('\n')).toEqual([host.head, host.count, 'feature/clone', '']);
    expect(inside('git ls-files -s').stdout).toBe(host.files);
    expect(inside('cat apps/app/project.json').stdout).toBe(readFileSync(join(dir, 'apps/app/project.json'), 'utf-8'));
    // node_modules as in mount mode: filled from the host's install, a volume of its own.
    expect(inside('ls node_modules/@org').stdout.split('\n')).toEqual(expect.arrayContaining(['devsec', 'devsec-socket-proxy']));
    const push = inside('git push origin HEAD:refs/heads/pushed 2>&1');
    expect(push.status).not.toBe(0);
    expect(hostGit('for-each-ref', '--format=%(refname)', 'refs/heads')).not.toMatch(/pushed/);
  });

  it("changes nothing on the host when the agent commits, branches and moves refs inside: refs, index and files byte for byte; a restart keeps the agent's commit", async () => {
    const before = hostSnapshot();
    const refs = hostGit('for-each-ref');
    const agent = inside(
      'echo "from the agent" > agent.txt && git add agent.txt && git commit -q -m "the agent\'s commit" && git branch agent-branch && ' +
        'git update-ref refs/heads/main HEAD && echo "changed" >> apps/app/project.json && git rev-parse HEAD',
    );
    expect(agent.status).toBe(0);
    const commit = agent.stdout.trim();
    expect(hostSnapshot()).toEqual(before);
    expect(hostGit('for-each-ref')).toBe(refs);
    // The agent's objects never reached the host's store.
    expect(() => hostGit('cat-file', '-e', commit)).toThrow(/cat-file/);

    const down = await downWorktree({ composeFile: COMPOSE_FILE }, stack.context());
    expect(down.success).toBe(true);
    const again = await up();
    expect({ success: again.success, errors: again.errors }).toEqual({ success: true, errors: '' });
    expect(again.lines.join('\n')).toMatch(/workspace: kept as it is/);
    expect(inside('git log -1 --format=%H%n%s; cat agent.txt; git status --porcelain').stdout).toBe(
      `${commit}\nthe agent's commit\nfrom the agent\n M apps/app/project.json\n`,
    );
    expect(hostSnapshot()).toEqual(before);
    expect(hostGit('for-each-ref')).toBe(refs);
  });

  it("brings the clone's commits back only through devsec fetch: under refs/remotes/devsec/app/, verified, no local branch moved", () => {
    const refs = hostGit('for-each-ref', 'refs/heads');
    const tip = inside('git rev-parse agent-branch').stdout.trim();
    const lines: string[] = [];
    const say = { info: (line: string) => lines.push(line), warn: (line: string) => lines.push(line), error: (line: string) => lines.push(line) };
    const ok = fetchSandbox(dir, COMPOSE_FILE, say);
    expect(ok ? 'fetched' : lines.join('\n')).toBe('fetched');
    expect(lines.join('\n')).toMatch(/agent-branch/);
    expect(hostGit('rev-parse', 'refs/remotes/devsec/app/agent-branch').trim()).toBe(tip);
    expect(hostGit('log', '-1', '--format=%s', 'refs/remotes/devsec/app/agent-branch').trim()).toBe("the agent's commit");
    expect(hostGit('for-each-ref', 'refs/heads')).toBe(refs);
    hostGit('fsck', '--no-progress');
  });

  it('refuses to start when a compose file binds the checkout into the clone-mode dev container, naming it', async () => {
    const services = join(dir, 'apps/app/.devcontainer/docker-compose.services.yml');
    const original = readFileSync(services, 'utf-8');
    writeFileSync(services, 'services:\n  app:\n    volumes:\n      - ../../../apps:/mnt/apps:ro\n');
    try {
      const result = await up();
      expect(result.success).toBe(false);
      expect(result.errors).toMatch(new RegExp(`--workspace=clone[^]*app mounts ${realpathSync(dir)}/apps at /mnt/apps \\(the workspace\\)`));
    } finally {
      writeFileSync(services, original);
    }
  });
});
