/**
 * The mount boundary, tried as an attacker would, on the real engine: in mount mode the workspace
 * is the agent's, so every read-only definition must stay where the host reads it, and the host
 * must never write through, or read from, a path the agent aimed. The agent plants from inside
 * (docker exec as the container's user); the host then starts, as a user would. Pass: the rename
 * fails, nothing planted starts, and no file outside the definition was written through a link.
 */
import { ExecutorContext, logger } from '@nx/devkit';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { CHECKOUT_UID, createSandboxWorkspace, installPlugin, SandboxWorkspace, trustCheckoutsAsRoot } from '../../../../tools/testing/sandbox-workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { runCommand } from '../host/engine/run';
import { misplacedMounts, parseMountInfo, readMountInfo, verifyMounts } from '../host/stack/mount-pins';
import downShared from './down-shared/executor';
import downWorktree from './down-worktree/executor';
import upWorktree from './up-worktree/executor';

jest.setTimeout(600_000);

const run = Math.random().toString(36).slice(2, 8);
const network = `devsec-mounts-${run}`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';

describeWithDocker('the mount boundary: the read-only definitions stay where the host reads them', () => {
  let ws: SandboxWorkspace;
  let dir: string;
  let app: string;
  let stateHome: string;
  let outside: string;
  const context = () => ({ root: dir, cwd: dir, projectName: 'app', targetName: 'up-worktree', isVerbose: false }) as ExecutorContext;
  const inside = (script: string) => docker(['exec', '-u', 'node', '-w', dir, app, 'bash', '-c', script]);
  const digest = (path: string) =>
    createHash('sha256')
      .update(readFileSync(join(dir, path)))
      .digest('hex');
  /** The executor's result and what it printed as errors. */
  const up = async (file = composeFile) => {
    const errors: string[] = [];
    const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      const result = await upWorktree({ composeFile: file }, context());
      return { ...result, errors: errors.join('\n') };
    } finally {
      spy.mockRestore();
    }
  };

  beforeAll(async () => {
    stateHome = mkdtempSync(join(tmpdir(), 'devsec-mounts-state-'));
    outside = mkdtempSync(join(tmpdir(), 'devsec-mounts-outside-'));
    process.env.XDG_STATE_HOME = stateHome;
    trustCheckoutsAsRoot();
    ws = createSandboxWorkspace('devsec-mounts-', `mounts-${run}`);
    dir = ws.dir;
    installPlugin(dir);
    // A project nested in another's folder: every level above its definition is pinned too.
    mkdirSync(join(dir, 'apps/app/tools/inner'), { recursive: true });
    writeFileSync(join(dir, 'apps/app/tools/inner/project.json'), JSON.stringify({ name: 'inner', root: 'apps/app/tools/inner' }));
    const tree = new FsTree(dir, false);
    await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'inner', network, skipFormat: true });
    flushChanges(dir, tree.listChanges());
    // A registered submodule: its .git file is mounted read-only, and the folders above it pinned.
    const library = mkdtempSync(join(tmpdir(), 'devsec-mounts-lib-'));
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'init', '-q', library]);
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-C', library, 'commit', '-q', '--allow-empty', '-m', 'lib']);
    ws.git('-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', library, 'libs/sub');
    rmSync(library, { recursive: true, force: true });
    ws.git('add', '-A');
    ws.git('commit', '-q', '-m', 'two sandboxes, one nested; a submodule');
    ws.chownToCheckoutUser();
    const started = await up();
    expect(started).toEqual({ success: true, errors: '' });
    app = `${readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1]}-app-1`;
  });

  afterAll(async () => {
    if (!dir) return;
    await downWorktree({ composeFile, volumes: true, images: true }, context());
    await downShared({ volumes: true }, context());
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateHome, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
    delete process.env.XDG_STATE_HOME;
  });

  it('refuses inside to rename or remove any folder on the way to a definition, at every level', () => {
    const before = [digest('apps/app/.devcontainer/docker-compose.yml'), digest('apps/app/tools/inner/.devcontainer/devcontainer.json')];
    const moves = [
      ['apps/app', 'apps/tmp/app'],
      ['apps', 'apps-moved'],
      ['apps/app', 'apps/app-moved'],
      ['apps/app/tools', 'apps/app/tools-moved'],
      ['apps/app/tools/inner', 'apps/app/tools/inner-moved'],
      ['apps/app/.devcontainer', 'apps/app/devcontainer-moved'],
      ['apps/app/tools/inner/.devcontainer', 'apps/app/tools/inner/devcontainer-moved'],
      ['libs', 'libs-moved'],
      ['libs/sub', 'libs/sub-moved'],
      ['libs/sub/.git', 'libs/sub/git-moved'],
    ];
    for (const [from, to] of moves) {
      const moved = inside(`mkdir -p $(dirname ${to}) && mv ${from} ${to}`);
      expect([from, moved.status, moved.stderr]).toEqual([from, 1, expect.stringMatching(/Device or resource busy/)]);
    }
    for (const folder of ['apps/app', 'apps/app/tools/inner', 'apps/app/.devcontainer']) {
      expect(inside(`rmdir ${folder}`).stderr).toMatch(/Device or resource busy|Directory not empty/);
    }
    // The definitions themselves are read-only: nothing can be planted beside their files either.
    expect(inside('ln -s ~/.bashrc apps/app/.devcontainer/planted').stderr).toMatch(/Read-only file system/);
    expect(inside('echo "initializeCommand" > apps/app/tools/inner/.devcontainer/devcontainer.json').stderr).toMatch(/Read-only file system/);
    expect(inside('echo "gitdir: /tmp/evil" > libs/sub/.git').stderr).toMatch(/Read-only file system/);
    expect([digest('apps/app/.devcontainer/docker-compose.yml'), digest('apps/app/tools/inner/.devcontainer/devcontainer.json')]).toEqual(before);
    // The agent still works in those folders: only the folders themselves stay put.
    expect(inside('echo work > apps/app/tools/inner/notes.txt && cat apps/app/tools/inner/notes.txt && rm apps/app/tools/inner/notes.txt').stdout).toBe(
      'work\n',
    );
  });

  it('shows the kernel the pins the host named: every pin is a mount point, and that very folder of the workspace', () => {
    // The kernel that did the mounts: the container's own on runc, its runsc gofer's on gVisor (gVisor's own view names no host path).
    const read = readMountInfo(app, runCommand);
    if ('error' in read) throw new Error(read.error);
    const infos = parseMountInfo(read.text);
    const pins = ['apps', 'apps/app', 'apps/app/tools', 'apps/app/tools/inner'].map((pin) => join(dir, pin));
    expect(pins.filter((pin) => !infos.some((info) => info.mountPoint === pin))).toEqual([]);
    expect(
      misplacedMounts(
        infos,
        pins.map((pin) => ({ source: pin, target: pin, readOnly: false })),
        dir,
      ),
    ).toEqual([]);
  });

  it('stops a start whose mount the engine made from a folder swapped for a symlink, before anything runs in it', () => {
    // What a sibling sandbox's swap of `apps` for a link to /etc between the host's look and the engine's mount would give.
    const name = `devsec-mounts-swap-${run}`;
    dockerOk(['run', '-d', '--name', name, '-v', `${dir}:${dir}`, '-v', `/etc:${dir}/apps`, 'node:24-trixie-slim', 'sleep', 'infinity']);
    try {
      expect(() => verifyMounts(name, [{ source: join(dir, 'apps'), target: join(dir, 'apps'), readOnly: false }], dir)).toThrow(
        new RegExp(`Stopped ${name}[^]*${join(dir, 'apps')} shows /etc`),
      );
      expect(dockerOk(['inspect', '--format', '{{.State.Running}}', name]).trim()).toBe('false');
    } finally {
      docker(['rm', '-f', name]);
    }
  });

  it('refuses a second definition of the project, planted where discovery once did not look, naming both; nothing of it starts', async () => {
    const plant =
      'mkdir -p tmp/app/.devcontainer && cp apps/app/.devcontainer/{devcontainer.json,docker-compose.yml,sandbox.Dockerfile} tmp/app/.devcontainer/ && ' +
      `sed -i 's|^services:$|services:\\n  planted:\\n    image: node:24-trixie-slim\\n    volumes: ["\${DEVSEC_GIT_COMMON_DIR}:/g"]|' tmp/app/.devcontainer/docker-compose.yml`;
    expect(inside(plant).status).toBe(0);
    try {
      for (const file of [composeFile, 'tmp/app/.devcontainer/docker-compose.yml']) {
        const result = await up(file);
        expect(result.success).toBe(false);
        expect(result.errors).toMatch(/more than one sandbox definition names the project app: apps\/app\/\.devcontainer and tmp\/app\/\.devcontainer/);
      }
      expect(dockerOk(['ps', '-a', '--filter', 'label=com.docker.compose.service=planted', '--format', '{{.Names}}']).trim()).toBe('');
    } finally {
      rmSync(join(dir, 'tmp'), { recursive: true, force: true });
    }
  });

  it('refuses a definition reached through a symlink, naming it', async () => {
    expect(inside('mkdir -p pkgs/y && ln -s ../../apps/app/.devcontainer pkgs/y/.devcontainer').status).toBe(0);
    try {
      const result = await up('pkgs/y/.devcontainer/docker-compose.yml');
      expect(result.success).toBe(false);
      expect(result.errors).toMatch(/pkgs\/y\/\.devcontainer, on the way to the sandbox definition .* is a symlink/);
    } finally {
      rmSync(join(dir, 'pkgs'), { recursive: true, force: true });
    }
  });

  it('writes .env and the override file anew: a symlink or hard link left there leads nowhere', async () => {
    const bashrc = join(outside, 'bashrc');
    const profile = join(outside, 'profile');
    writeFileSync(bashrc, 'the user file\n');
    writeFileSync(profile, 'another user file\n');
    chownSync(outside, CHECKOUT_UID, CHECKOUT_UID);
    // As an earlier version's sandbox could have left them (the folder is read-only inside now).
    const env = join(dir, 'apps/app/.devcontainer/.env');
    const override = join(dir, 'apps/app/.devcontainer/docker-compose.worktree.yml');
    rmSync(env);
    symlinkSync(bashrc, env);
    rmSync(override);
    linkSync(profile, override);
    const result = await up();
    expect(result).toEqual({ success: true, errors: '' });
    expect(readFileSync(bashrc, 'utf-8')).toBe('the user file\n');
    expect(readFileSync(profile, 'utf-8')).toBe('another user file\n');
    expect(lstatSync(env).isFile()).toBe(true);
    expect(lstatSync(override).nlink).toBe(1);
    expect(readFileSync(env, 'utf-8')).toContain('COMPOSE_PROJECT_NAME=');
  });

  it("refuses a definition under a folder named with Compose variables, naming it: the host's .nx stays out of reach (red team, finding A)", async () => {
    const odd = 'x/${A:-..}/.nx/${B:-..}/evil/.devcontainer';
    const plant = `mkdir -p '${odd}' && printf 'services:\\n  app:\\n    labels:\\n      org.devsec.managed: "true"\\n      org.devsec.project: evil\\n' > '${odd}/docker-compose.yml'`;
    expect(inside(plant).status).toBe(0);
    try {
      const refused = await up();
      expect(refused.success).toBe(false);
      expect(refused.errors).toMatch(
        /the folder name "\$\{A:-\.\.\}", on the way to the sandbox definition x\/.* holds '\$', which Compose reads as a variable/,
      );
      // The running dev container is the one started before: its .nx is still the stack's volume.
      expect(inside(`touch ${dir}/.nx/from-agent`).status).toBe(0);
      expect(existsSync(join(dir, '.nx/from-agent'))).toBe(false);
    } finally {
      rmSync(join(dir, 'x'), { recursive: true, force: true });
    }
  });
});
