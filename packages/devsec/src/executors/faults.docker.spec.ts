/**
 * Faults on the real engine, through the executors themselves: each gives a clear error, and
 * running again recovers once the cause is gone.
 */
import { ExecutorContext, logger } from '@nx/devkit';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { createSandboxWorkspace, SandboxWorkspace } from '../../../../tools/testing/sandbox-workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../generators/shared-service/generator';
import upWorktree from './up-worktree/executor';
import downWorktree from './down-worktree/executor';
import upShared from './up-shared/executor';
import { sharedProjectName } from '../host/stack/shared-project';
import downShared from './down-shared/executor';

jest.setTimeout(300_000);

const run = Math.random().toString(36).slice(2, 8);
const network = `devsec-faults-${run}`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describeWithDocker('executor faults on a real engine', () => {
  let dir: string;
  let context: ExecutorContext;
  let errors: string[];
  let port: number;
  let git: SandboxWorkspace['git'];
  const generate = async (aptPackages: string[]) => {
    const tree = new FsTree(dir, false);
    await secureDevcontainerGenerator(tree, { project: 'app', network, aptPackages, skipFormat: true, force: true });
    flushChanges(dir, tree.listChanges());
  };

  beforeAll(async () => {
    ({ dir, git } = createSandboxWorkspace('devsec-faults-', `faults-${run}`));
    await generate([]);
    port = await freePort();
    const tree = new FsTree(dir, false);
    await sharedServiceGenerator(tree, { preset: 'custom', name: 'cache', image: 'redis:7', port, publish: true, skipFormat: true });
    flushChanges(dir, tree.listChanges());
    git('add', '-A');
    git('commit', '-q', '-m', 'faults');
    context = { root: dir, cwd: dir, projectName: 'app', isVerbose: false } as ExecutorContext;
  });

  beforeEach(() => {
    errors = [];
    jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
  });
  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    if (!dir) return;
    await downWorktree({ composeFile, volumes: true, images: true }, context);
    await downShared({ volumes: true }, context);
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('docker CLI missing: says so, and what to install', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'devsec-nodocker-'));
    for (const tool of ['git', 'node']) symlinkSync(execFileSync('which', [tool], { encoding: 'utf-8' }).trim(), join(bin, tool));
    const path = process.env.PATH;
    process.env.PATH = bin;
    try {
      expect(await upWorktree({ composeFile }, context)).toEqual({ success: false });
    } finally {
      process.env.PATH = path;
      rmSync(bin, { recursive: true, force: true });
    }
    expect(errors.join('\n')).toMatch(/docker CLI is not installed.*Install Docker Engine/);
  });

  it('daemon down: says so, and how to start it (up-shared, and up-worktree before and after its first start)', async () => {
    const daemonDown = async (up: () => Promise<{ success: boolean }>) => {
      errors.length = 0;
      process.env.DOCKER_HOST = 'unix:///tmp/devsec-no-such-daemon.sock';
      try {
        expect(await up()).toEqual({ success: false });
      } finally {
        delete process.env.DOCKER_HOST;
      }
      expect(errors.join('\n')).toMatch(/Docker daemon does not answer.*Start it/);
    };
    await daemonDown(() => upShared({}, context));
    await daemonDown(() => upWorktree({ composeFile }, context));
    // Once started, a re-run skips the gate's compose call: the failing start itself must say why.
    expect(await upWorktree({ composeFile }, context)).toEqual({ success: true });
    await daemonDown(() => upWorktree({ composeFile }, context));
  });

  it('a published port in use: names it; freeing it and running again recovers', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      expect(await upShared({}, context)).toEqual({ success: false });
      expect(errors.join('\n')).toMatch(/published port is already in use on this machine.*another --port/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    expect(await upShared({}, context)).toEqual({ success: true });
    expect(
      dockerOk([
        'ps',
        '--filter',
        `label=com.docker.compose.project=${sharedProjectName(`faults-${run}-shared`, join(dir, '.git'))}`,
        '--format',
        '{{.Names}}',
      ]),
    ).toContain('cache-1');
  });

  it('a shared service that never turns healthy: fails, says so, and prints its last log lines', async () => {
    const sharedFile = join(dir, 'docker-compose.shared.yml');
    const original = readFileSync(sharedFile, 'utf-8');
    writeFileSync(
      sharedFile,
      original.replace(
        'services:\n',
        'services:\n  sick:\n    image: devsec-rootfs:trixie\n    command: ["bash", "-c", "echo sick-service-log-line; exec sleep infinity"]\n' +
          '    healthcheck: { test: ["CMD", "false"], interval: 1s, timeout: 1s, retries: 2 }\n    networks: [shared]\n',
      ),
    );
    try {
      expect(await upShared({}, context)).toEqual({ success: false });
      expect(errors.join('\n')).toMatch(/did not become healthy/);
      expect(errors.join('\n')).toContain('sick-service-log-line');
    } finally {
      writeFileSync(sharedFile, original);
    }
    expect(await upShared({}, context)).toEqual({ success: true });
  });

  it('an image build failure: says so; fixing it and running again recovers', async () => {
    await generate(['devsec-no-such-package']);
    expect(await upWorktree({ composeFile }, context)).toEqual({ success: false });
    expect(errors.join('\n')).toMatch(/Building an image failed.*--aptPackages/);
    await generate([]);
    expect(await upWorktree({ composeFile }, context)).toEqual({ success: true });
  });

  it('Ctrl-C in the middle of up: says how to finish; running again recovers', async () => {
    await downWorktree({ composeFile }, context);
    const started = upWorktree({ composeFile, build: false }, context);
    // Interrupt docker compose up as a terminal's Ctrl-C would, once it has begun creating: to the whole group, the
    // docker CLI and the Compose plugin it started (the CLI alone, before the plugin ran, was lost: up ran to the end).
    const pgrep = (pattern: string) => spawnSync('pgrep', ['-f', pattern], { encoding: 'utf-8' }).stdout.trim().split('\n').filter(Boolean);
    let interrupted = false;
    for (let i = 0; i < 200 && !interrupted; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (pgrep('cli-plugins/docker-compose compose -p app-devsec-faults.* up --detach').length > 0) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (const pid of pgrep('compose -p app-devsec-faults.* up --detach')) process.kill(Number(pid), 'SIGINT');
        interrupted = true;
      }
    }
    expect(interrupted).toBe(true);
    expect(await started).toEqual({ success: false });
    expect(errors.join('\n')).toMatch(/Interrupted\. Run the same command again to finish/);
    expect(await upWorktree({ composeFile }, context)).toEqual({ success: true });
    // The stack's containers, by the compose project up-worktree named in .env.
    const stack = /COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1];
    const states = dockerOk([
      'ps',
      '-a',
      '--filter',
      'label=org.devsec.project=app',
      '--filter',
      `label=com.docker.compose.project=${stack}`,
      '--format',
      '{{.State}}',
    ]);
    // The dev container, its socket proxy and its egress proxy.
    expect(states.trim().split('\n').sort()).toEqual(['running', 'running', 'running']);
  });
});
