/**
 * The host boundary, tried as an attacker would, on the real engine: the agent plants from
 * inside a running sandbox (docker exec as the container's user), then the host does what a
 * user does next — git status at the root and in the project folder, up-worktree, up-shared,
 * the devcontainer.json initializeCommand as VS Code runs it. Pass: nothing planted ran, was
 * mounted or started, or the start was refused naming the planted file.
 */
import { ExecutorContext, logger } from '@nx/devkit';
import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { describeWithDocker, docker } from '../../../../tools/testing/docker';
import { CHECKOUT_UID, createSandboxWorkspace, installPlugin, SandboxWorkspace, trustCheckoutsAsRoot } from '../../../../tools/testing/sandbox-workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../generators/shared-service/generator';
import { checkCommand } from '../cli/check';
import { parseJsonc } from '../sandbox/jsonc';
import downShared from './down-shared/executor';
import downWorktree from './down-worktree/executor';
import upShared from './up-shared/executor';
import upWorktree from './up-worktree/executor';
import { sharedProjectName } from '../host/stack/shared-project';

jest.setTimeout(600_000);

const run = Math.random().toString(36).slice(2, 8);
const network = `devsec-boundary-${run}`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';

describeWithDocker('the host boundary: what the agent writes is never run or trusted by the host', () => {
  let ws: SandboxWorkspace;
  let dir: string;
  let app: string;
  let stateHome: string;
  let markers: string;
  const context = () => ({ root: dir, cwd: dir, projectName: 'app', targetName: 'up-worktree', isVerbose: false }) as ExecutorContext;
  const inside = (script: string) => docker(['exec', '-u', 'node', app, 'bash', '-c', script]);
  /** What the agent would make the host run: a file created on the host, if it ever runs. */
  const payload = (name: string) => `touch ${join(markers, name)}`;
  const ran = () => readdirSync(markers);
  /** The shared services' compose project: the file's name and a hash of the repository's git dir. */
  const sharedProject = () => sharedProjectName(/^name: (\S+)$/m.exec(readFileSync(join(dir, 'docker-compose.shared.yml'), 'utf-8'))![1], join(dir, '.git'));
  /** git on the host, as the checkout's owner runs it. */
  const hostGit = (cwd: string, ...args: string[]) =>
    spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
      cwd,
      encoding: 'utf-8',
      uid: CHECKOUT_UID,
      gid: CHECKOUT_UID,
      env: { ...process.env, HOME: markers },
    });
  const up = async () => {
    const result = await upWorktree({ composeFile }, context());
    app = `${readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1]}-app-1`;
    return result;
  };

  beforeAll(async () => {
    stateHome = mkdtempSync(join(tmpdir(), 'devsec-boundary-state-'));
    markers = mkdtempSync(join(tmpdir(), 'devsec-boundary-ran-'));
    chownSync(markers, CHECKOUT_UID, CHECKOUT_UID);
    process.env.XDG_STATE_HOME = stateHome;
    trustCheckoutsAsRoot();
    ws = createSandboxWorkspace('devsec-boundary-', `boundary-${run}`);
    dir = ws.dir;
    installPlugin(dir);
    const tree = new FsTree(dir, false);
    await secureDevcontainerGenerator(tree, { project: 'app', network, aptPackages: ['postgresql-client'], skipFormat: true });
    flushChanges(dir, tree.listChanges());
    ws.git('add', '-A');
    ws.git('commit', '-q', '-m', 'sandbox, no shared service yet');
    ws.chownToCheckoutUser();
  });

  afterAll(async () => {
    if (!dir) return;
    await downWorktree({ composeFile, volumes: true, images: true }, context());
    await downShared({ volumes: true }, context());
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateHome, { recursive: true, force: true });
    rmSync(markers, { recursive: true, force: true });
    delete process.env.XDG_STATE_HOME;
  });

  it('writes the shared services file at the first start, read-only inside from then on', async () => {
    expect(existsSync(join(dir, 'docker-compose.shared.yml'))).toBe(false);
    expect(await up()).toEqual({ success: true });
    expect(readFileSync(join(dir, 'docker-compose.shared.yml'), 'utf-8')).toMatch(/^# @org\/devsec managed file, fingerprint [0-9a-f]{12}/);
    const planted = inside(
      `printf 'services:\\n  root:\\n    image: node:24-trixie-slim\\n    user: root\\n    volumes: ["/:/host"]\\n' > ${dir}/docker-compose.shared.yml`,
    );
    expect(planted.stderr).toMatch(/Read-only file system/);
    expect(readFileSync(join(dir, 'docker-compose.shared.yml'), 'utf-8')).not.toContain('/:/host');
  });

  /** The agent's own repository, with a config whose fsmonitor git would run. */
  const plantRepository = () =>
    inside(`mkdir -p /tmp/evil/objects /tmp/evil/refs && printf '[core]\\n\\tfsmonitor = "${payload('fsmonitor')}"\\n' > /tmp/evil/config`);
  const expectReadOnly = (path: string) => {
    const write = inside(`mkdir -p $(dirname ${path}) && echo /tmp/evil > ${path}`);
    expect([path, write.status, write.stderr]).toEqual([path, 1, expect.stringMatching(/Read-only file system/)]);
  };

  it('keeps every file git on the host follows or runs out of reach, and git status on the host runs nothing planted', () => {
    plantRepository();
    for (const path of [`${dir}/.git/hooks/post-checkout`, `${dir}/.git/info/attributes`]) expectReadOnly(path);
    // The repository's top (HEAD, index, config, a commondir's place) is not in the sandbox at all;
    // .git inside is the sandbox's own git dir, which only the sandbox's git reads.
    expect(inside('ls /devsec/git 2>&1').stdout).toMatch(/No such file or directory/);
    // Its config is written by the host and read-only; a commondir there is the agent's own git's to follow.
    const ownConfig = `${dir}/.git/config`;
    const config = inside(`printf '\\tfsmonitor = "${payload('own-config')}"\\n' >> ${ownConfig}`);
    expect(config.stderr).toMatch(/Read-only file system|Permission denied/);
    expect(inside(`echo /tmp/evil > ${dir}/.git/commondir`).status).toBe(0);
    for (const cwd of [dir, join(dir, 'apps/app')]) expect(hostGit(cwd, 'status', '--short').status).toBe(0);
    expect(ran()).toEqual([]);
    expect(existsSync(join(dir, '.git/commondir'))).toBe(false);
    expect(readFileSync(join(dir, '.git/config'), 'utf-8')).not.toContain('fsmonitor');
    inside(`rm ${dir}/.git/commondir`);
  });

  it("lets git work for the agent inside: status, add, commit, branch, switch, log; commits and branches stay in the sandbox's repository", () => {
    const hostHead = hostGit(dir, 'rev-parse', 'HEAD').stdout.trim();
    const work = inside(
      [
        `cd ${dir} && echo hello > apps/app/hello.txt && git status --short && git add apps/app/hello.txt && git commit -q -m "from the sandbox"`,
        'b=$(git branch --show-current) && git branch agent/feature && git switch -q agent/feature && git switch -q "$b" && git branch -q scratch && git branch -q -d scratch',
        'git log -1 --format=%s',
      ].join(' && '),
    );
    // Deleting a branch makes git rewrite its config (the branch's section), which is read-only: git says so and goes on.
    expect(work.stderr).toBe('error: could not write config file .git/config: Device or resource busy\nwarning: update of config-file failed\n');
    expect(work.stdout).toContain('?? apps/app/hello.txt');
    expect(work.stdout.trim().split('\n').pop()).toBe('from the sandbox');
    // The host's branches do not move: the commit comes back by devsec fetch.
    expect(hostGit(dir, 'rev-parse', 'HEAD').stdout.trim()).toBe(hostHead);
    expect(hostGit(dir, 'branch', '--list', 'agent/feature').stdout).toBe('');
    // Back to the host's commit (the next start lets the branch follow the host's again).
    expect(inside(`cd ${dir} && git reset -q --hard ${hostHead} && git branch -q -D agent/feature`).status).toBe(0);
  });

  it("never lets the host's git or the next start write through a symlink the agent planted, nor see one commit for another", async () => {
    // The user's files, beside the markers (which must stay empty: nothing planted ran).
    const home = mkdtempSync(join(tmpdir(), 'devsec-boundary-home-'));
    chownSync(home, CHECKOUT_UID, CHECKOUT_UID);
    const victim = join(home, '.bashrc');
    writeFileSync(victim, "the user's own file\n");
    chownSync(victim, CHECKOUT_UID, CHECKOUT_UID);
    const branch = hostGit(dir, 'branch', '--show-current').stdout.trim();
    // A reflog aimed at a file of the user's (git appends a reflog line through a symlink), and a
    // packed-refs aimed at the same file (the start copies the repository's packed-refs in).
    expect(
      inside(
        `cd ${dir} && mkdir -p .git/logs/refs/heads && rm -f .git/logs/refs/heads/${branch} .git/packed-refs && ` +
          `ln -s ${join(home, 'reflog-written')} .git/logs/refs/heads/${branch} && ln -s ${victim} .git/packed-refs`,
      ).status,
    ).toBe(0);
    // One commit shown for another, and objects read from the agent's folder.
    const replace = inside(
      `cd ${dir} && a=$(git commit-tree HEAD^{tree} -m shown) && b=$(git commit-tree HEAD^{tree} -m pushed) && git replace $a $b 2>&1; ` +
        'echo /tmp/evil/objects > .git/objects/info/alternates',
    );
    // runc says "Read-only file system"; gVisor's gofer "Permission denied": the write fails either way.
    expect(replace.stdout).toMatch(/Read-only file system|unable to create/i);
    expect(replace.stderr).toMatch(/Read-only file system|Permission denied/);
    // The host goes on as usual: a commit on the branch, refs packed (git gc does it), the next start.
    expect(hostGit(dir, 'commit', '-q', '--allow-empty', '-m', 'on the host').status).toBe(0);
    expect(hostGit(dir, 'pack-refs', '--all').status).toBe(0);
    expect(await up()).toEqual({ success: true });
    expect(readFileSync(victim, 'utf-8')).toBe("the user's own file\n");
    expect(readdirSync(home)).toEqual(['.bashrc']);
    expect(hostGit(dir, 'replace', '-l').stdout).toBe('');
    expect(existsSync(join(dir, '.git/objects/info/alternates'))).toBe(false);
    // Inside, git still works on what the host packed.
    expect(inside(`cd ${dir} && git log -1 --format=%s`).stdout.trim()).toBe('on the host');
    rmSync(home, { recursive: true, force: true });
    // The reflog symlink stays in the sandbox's own git dir, dangling: gone, a commit inside can log again.
    inside(`rm -f ${dir}/.git/logs/refs/heads/${branch}`);
  });

  it("keeps Nx's state on a volume of the stack: what the agent writes in .nx never reaches the host's", () => {
    expect(inside(`mkdir -p ${dir}/.nx/cache && echo planted > ${dir}/.nx/cache/evil && ls ${dir}/.nx/cache`).stdout.trim()).toBe('evil');
    expect(existsSync(join(dir, '.nx/cache/evil'))).toBe(false);
    expect(inside('echo $NX_CACHE_DIRECTORY').stdout.trim()).toBe(`${dir}/.nx/cache`);
  });

  it("keeps the secrets out of every mount: the state directory is not there, and the old place inside is the sandbox's own", () => {
    expect(inside(`ls ${stateHome} 2>&1`).stdout).toMatch(/No such file or directory/);
    // An older version read <git common dir>/devsec/shared.env; inside, .git is the sandbox's private git dir.
    expect(inside(`mkdir -p ${dir}/.git/devsec && echo DEVSEC_POSTGRES_PASSWORD=planted-by-agent > ${dir}/.git/devsec/shared.env`).status).toBe(0);
    expect(existsSync(join(dir, '.git/devsec/shared.env'))).toBe(false);
  });

  it('refuses the next start when a .env file Nx loads sets what steers the sandbox, naming it', async () => {
    expect(inside(`echo DEVSEC_WORKSPACE=/ >> ${dir}/.env`).status).toBe(0);
    try {
      const errors: string[] = [];
      const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
      expect(await upWorktree({ composeFile }, context())).toEqual({ success: false });
      spy.mockRestore();
      expect(errors.join('\n')).toMatch(/\.env:1 sets DEVSEC_WORKSPACE/);
    } finally {
      rmSync(join(dir, '.env'));
    }
  });

  it('runs the initializeCommand as VS Code does, from the root and the project folder: never the planted plugin, and refuses the planted .git', () => {
    const initialize = parseJsonc<{ initializeCommand: string[] }>(
      readFileSync(join(dir, 'apps/app/.devcontainer/devcontainer.json'), 'utf-8'),
    ).initializeCommand;
    const plant = [
      `cd ${dir}/apps/app && git init -q . 2>/dev/null; printf '[core]\\n\\tfsmonitor = "${payload('nested-fsmonitor')}"\\n' >> .git/config`,
      `mkdir -p node_modules/@org/devsec/src/bin && echo "require('fs').writeFileSync('${join(markers, 'planted-plugin')}', '')" > node_modules/@org/devsec/src/bin/devsec.js`,
    ].join(' && ');
    expect(inside(plant).stderr).toBe('');
    try {
      for (const cwd of [dir, join(dir, 'apps/app')]) {
        const result = spawnSync(initialize[0], initialize.slice(1), { cwd, encoding: 'utf-8', env: process.env });
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/Refusing to start: a \.git below the workspace root is not a registered submodule[\s\S]*apps\/app\/\.git/);
      }
      expect(ran()).toEqual([]);
    } finally {
      rmSync(join(dir, 'apps/app/.git'), { recursive: true, force: true });
      rmSync(join(dir, 'apps/app/node_modules'), { recursive: true, force: true });
    }
  });

  it("names a gitlink the agent committed into its own repository (devsec check, the next start), and the host's git never enters it through the steps the README advises", async () => {
    const plant = [
      `cd ${dir} && git init -q libs/util && git -C libs/util -c user.name=a -c user.email=a@a commit -q --allow-empty -m agent`,
      `printf '[core]\\n\\tfsmonitor = "${payload('gitlink-fsmonitor')}"\\n' >> libs/util/.git/config`,
      'git add libs/util 2>/dev/null && git commit -q -m "a gitlink"',
    ].join(' && ');
    try {
      expect(inside(plant)).toMatchObject({ status: 0, stderr: '' });
      // The commit is the sandbox's; the user brings it in (as `devsec fetch` will) and moves the branch to it.
      const commit = inside(`cd ${dir} && git rev-parse HEAD`).stdout.trim();
      const objects = join(stateHome, 'devsec/worktrees', app.replace(/-app-1$/, ''), 'git/objects');
      for (const folder of readdirSync(objects).filter((name) => /^[0-9a-f]{2}$/.test(name))) {
        cpSync(join(objects, folder), join(dir, '.git/objects', folder), { recursive: true, force: false });
      }
      ws.chownToCheckoutUser();
      expect(hostGit(dir, 'update-ref', `refs/heads/${hostGit(dir, 'branch', '--show-current').stdout.trim()}`, commit).status).toBe(0);
      expect(hostGit(dir, 'ls-tree', 'HEAD', 'libs/util').stdout).toMatch(/^160000 commit [0-9a-f]{40}\tlibs\/util\n$/);
      // devsec check, before anything else: the gitlink first, exit 1.
      const stdout = new PassThrough();
      let printed = '';
      stdout.on('data', (chunk) => (printed += chunk));
      const io = { stdout, stderr: new PassThrough(), stdin: new PassThrough(), isTTY: false, env: { ...process.env, XDG_STATE_HOME: stateHome }, cwd: dir };
      expect(await checkCommand([], io)).toBe(1);
      expect(printed.split('\n')[2]).toMatch(
        /^DANGER libs\/util: a gitlink \(submodule entry\) in HEAD, refs\/heads\/\S+, whose folder holds libs\/util\/\.git/,
      );
      // The next start is refused, naming it.
      const errors: string[] = [];
      const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
      try {
        expect(await upWorktree({ composeFile }, context())).toEqual({ success: false });
      } finally {
        spy.mockRestore();
      }
      expect(errors.join('\n')).toMatch(/Refusing to start: a gitlink [\s\S]*- libs\/util: a gitlink/);
      // The README's steps: the safe look, remove the .git, then git reset and git status.
      expect(hostGit(dir, 'status', '--short', '--ignore-submodules=all').status).toBe(0);
      rmSync(join(dir, 'libs/util/.git'), { recursive: true, force: true });
      expect(hostGit(dir, 'reset', '-q').status).toBe(0);
      expect(hostGit(dir, 'ls-files', '-s', 'libs/util').stdout).toMatch(/^160000 /);
      expect(hostGit(dir, 'status', '--short').status).toBe(0);
      expect(ran()).toEqual([]);
    } finally {
      // Drop the commit (the branch moves back, in the host's repository and in the sandbox's; the index follows).
      if (hostGit(dir, 'log', '-1', '--format=%s').stdout.trim() === 'a gitlink') hostGit(dir, 'reset', '-q', 'HEAD~1');
      inside(`cd ${dir} && git reset -q HEAD~1`);
      rmSync(join(dir, 'libs/util'), { recursive: true, force: true });
    }
  });

  it('starts the shared services through the gate; a second clone of the repository gets shared services of its own (F7)', async () => {
    expect(await downWorktree({ composeFile }, context())).toEqual({ success: true });
    const tree = new FsTree(dir, false);
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    flushChanges(dir, tree.listChanges());
    ws.chownToCheckoutUser();
    hostGit(dir, 'add', '-A');
    hostGit(dir, 'commit', '-q', '-m', 'postgres');
    expect(await upShared({}, { ...context(), targetName: 'up-shared' })).toEqual({ success: true });
    expect(await up()).toEqual({ success: true });
    expect(inside('psql "$DATABASE_URL" -tAc "select 1"').stdout.trim()).toBe('1');
    // Another clone: another git common dir, so another shared project, with passwords of its own. On the same shared
    // network, while the first one's run, its Postgres would answer to the same name: refused, naming the other project.
    const clone = mkdtempSync(join(tmpdir(), 'devsec-boundary-clone-'));
    chownSync(clone, CHECKOUT_UID, CHECKOUT_UID);
    const errors: string[] = [];
    const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      expect(hostGit(clone, 'clone', '-q', dir, join(clone, 'ws')).status).toBe(0);
      const cloneContext = { ...context(), root: join(clone, 'ws'), targetName: 'up-shared' } as ExecutorContext;
      expect(await upShared({}, cloneContext)).toEqual({ success: false });
      expect(errors.join('\n')).toContain(`another compose project answering to postgres`);
      expect(errors.join('\n')).toContain(sharedProject());
    } finally {
      spy.mockRestore();
      rmSync(clone, { recursive: true, force: true });
    }
    // Its passwords are not the first one's: only the first project's file is kept for the next test.
    for (const file of readdirSync(join(stateHome, 'devsec/shared'))) if (!file.startsWith(sharedProject())) rmSync(join(stateHome, 'devsec/shared', file));
  });

  it('names the volume and the fix when the shared Postgres was initialised with another password', async () => {
    const secrets = [join(stateHome, 'devsec/shared', `${sharedProject()}.env`)];
    const saved = readFileSync(secrets[0], 'utf-8');
    writeFileSync(secrets[0], saved.replace(/DEVSEC_POSTGRES_PASSWORD=\S+/, 'DEVSEC_POSTGRES_PASSWORD=another-password-1'));
    const errors: string[] = [];
    const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      expect(await upShared({}, { ...context(), targetName: 'up-shared' })).toEqual({ success: false });
      expect(errors.join('\n')).toMatch(/postgres refuses the password it was started with: its data \(\S+_postgres-data\) was initialised with another one/);
    } finally {
      spy.mockRestore();
      writeFileSync(secrets[0], saved);
      await upShared({}, { ...context(), targetName: 'up-shared' });
    }
  });
});
