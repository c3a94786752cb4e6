import { ExecutorContext, logger } from '@nx/devkit';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import type { Tree } from '@nx/devkit';
import { secureDevcontainerGenerator } from '../../packages/devsec/src/generators/secure-devcontainer/generator';
import type { SecureDevcontainerGeneratorSchema } from '../../packages/devsec/src/generators/secure-devcontainer/schema';
import downShared from '../../packages/devsec/src/executors/down-shared/executor';
import downWorktree from '../../packages/devsec/src/executors/down-worktree/executor';
import upWorktree from '../../packages/devsec/src/executors/up-worktree/executor';
import { docker, Run } from './docker';
import { CHECKOUT_UID, createSandboxWorkspace, installPlugin, SandboxWorkspace, trustCheckoutsAsRoot } from './sandbox-workspace';

/** The compose file secure-devcontainer writes for the fixture's project `app`. */
export const COMPOSE_FILE = 'apps/app/.devcontainer/docker-compose.yml';

/**
 * One sandbox on the real engine for a suite: a workspace of its own (one Nx project `app`), the
 * plugin installed, secure-devcontainer run in process on a network named after the suite,
 * committed and handed to the checkout's user, with a state directory and a home of its own.
 * `up()` runs up-worktree as a user would; `stop()` removes the stack, its volumes and built
 * images, the shared services, the network and every folder. Names carry `devsec-<suite>-<run>`,
 * so suites can run side by side.
 */
export interface SandboxStackFixture {
  ws: SandboxWorkspace;
  dir: string;
  stateHome: string;
  /** HOME for git run as the checkout's user. */
  home: string;
  network: string;
  /** The stack's compose project (COMPOSE_PROJECT_NAME), known after the first `up()`. */
  project: string;
  /** The dev container's name, known after the first `up()`. */
  app: string;
  context: (targetName?: string) => ExecutorContext;
  /** up-worktree, with what it said (info lines, errors). */
  up: () => Promise<{ success: boolean; lines: string[]; errors: string }>;
  /** A shell script run inside the dev container as its user, in the workspace. */
  inside: (script: string) => Run;
  /** git on the host, as the checkout's owner runs it. */
  hostGit: (...args: string[]) => SpawnSyncReturns<string>;
  stop: () => Promise<void>;
}

export interface SandboxStackOptions {
  /** Options of secure-devcontainer beside `project: 'app'` and the suite's network. */
  generator?: Partial<SecureDevcontainerGeneratorSchema>;
  /** Runs on the generated tree before it is written (more generators). */
  tree?: (tree: Tree) => Promise<void> | void;
  /** Runs on the written workspace before the commit (what the user set up). */
  prepare?: (dir: string, ws: SandboxWorkspace) => void;
  /** Runs after the commit, before the checkout is handed to its user (more history). */
  committed?: (ws: SandboxWorkspace) => void;
}

export async function createSandboxStack(suite: string, options: SandboxStackOptions = {}): Promise<SandboxStackFixture> {
  const run = Math.random().toString(36).slice(2, 8);
  const network = `devsec-${suite}-${run}`;
  const stateHome = mkdtempSync(join(tmpdir(), `devsec-${suite}-state-`));
  const home = mkdtempSync(join(tmpdir(), `devsec-${suite}-home-`));
  chownSync(home, CHECKOUT_UID, CHECKOUT_UID);
  process.env.XDG_STATE_HOME = stateHome;
  trustCheckoutsAsRoot();
  const ws = createSandboxWorkspace(`devsec-${suite}-`, `${suite}-${run}`);
  const dir = ws.dir;
  installPlugin(dir);
  const tree = new FsTree(dir, false);
  await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true, ...options.generator });
  await options.tree?.(tree);
  flushChanges(dir, tree.listChanges());
  options.prepare?.(dir, ws);
  ws.git('add', '-A');
  ws.git('commit', '-q', '-m', 'sandbox');
  options.committed?.(ws);

  const fixture: SandboxStackFixture = {
    ws,
    dir,
    stateHome,
    home,
    network,
    project: '',
    app: '',
    context: (targetName = 'up-worktree') => ({ root: dir, cwd: dir, projectName: 'app', targetName, isVerbose: false }) as ExecutorContext,
    up: async () => {
      const errors: string[] = [];
      const lines: string[] = [];
      const error = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
      const info = jest.spyOn(logger, 'info').mockImplementation((message) => void lines.push(String(message)));
      try {
        const result = await upWorktree({ composeFile: COMPOSE_FILE }, fixture.context());
        fixture.project = readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1];
        fixture.app = `${fixture.project}-app-1`;
        return { success: result.success, lines, errors: errors.join('\n') };
      } finally {
        error.mockRestore();
        info.mockRestore();
      }
    },
    inside: (script) => docker(['exec', '-u', 'node', '-w', dir, fixture.app, 'bash', '-c', script]),
    hostGit: (...args) =>
      spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
        cwd: dir,
        encoding: 'utf-8',
        uid: CHECKOUT_UID,
        gid: CHECKOUT_UID,
        env: { ...process.env, HOME: home },
      }),
    stop: async () => {
      await downWorktree({ composeFile: COMPOSE_FILE, volumes: true, images: true }, fixture.context());
      await downShared({ volumes: true }, fixture.context());
      docker(['network', 'rm', network]);
      for (const path of [dir, stateHome, home]) rmSync(path, { recursive: true, force: true });
      delete process.env.XDG_STATE_HOME;
    },
  };
  ws.chownToCheckoutUser();
  return fixture;
}
