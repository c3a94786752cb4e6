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
import upShared from '../../packages/devsec/src/executors/up-shared/executor';
import upWorktree from '../../packages/devsec/src/executors/up-worktree/executor';
import type { UpWorktreeExecutorSchema } from '../../packages/devsec/src/executors/up-worktree/schema';
import { docker, Run } from './docker';
import { CHECKOUT_UID, createSandboxWorkspace, installPlugin, SandboxWorkspace, trustCheckoutsAsRoot } from './sandbox-workspace';

/** The compose file secure-devcontainer writes for the fixture's project `app`. */
export const COMPOSE_FILE = 'apps/app/.devcontainer/docker-compose.yml';

/** What an executor said while `captureOutput` ran it. */
export interface Captured<T> {
  result: T;
  /** The logger's lines of each level. */
  lines: Record<'info' | 'warn' | 'error', string[]>;
  /** The logger's lines of every level, in order, a line each. */
  said: string;
  /** What it wrote to stdout (a report), as written. */
  printed: string;
  /** Both, in order, a line or chunk each. */
  text: string;
}

/**
 * Runs an executor with the logger and stdout captured (not printed): its result and what it
 * said. `stdout: false` leaves stdout printed (Compose's output, in the suite's log).
 */
export async function captureOutput<T>(body: () => Promise<T>, capture: { stdout: boolean } = { stdout: true }): Promise<Captured<T>> {
  const entries: { from: 'info' | 'warn' | 'error' | 'stdout'; text: string }[] = [];
  const spies = [
    ...(['info', 'warn', 'error'] as const).map((from) =>
      jest.spyOn(logger, from).mockImplementation((...args: unknown[]) => void entries.push({ from, text: String(args[0]) })),
    ),
    ...(capture.stdout
      ? [jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => Boolean(entries.push({ from: 'stdout', text: String(chunk) })))]
      : []),
  ];
  try {
    const result = await body();
    const texts = (keep: (from: string) => boolean) => entries.filter((entry) => keep(entry.from)).map((entry) => entry.text);
    return {
      result,
      lines: { info: texts((from) => from === 'info'), warn: texts((from) => from === 'warn'), error: texts((from) => from === 'error') },
      said: texts((from) => from !== 'stdout').join('\n'),
      printed: texts((from) => from === 'stdout').join(''),
      text: texts(() => true).join('\n'),
    };
  } finally {
    spies.forEach((spy) => spy.mockRestore());
  }
}

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
  /** The run's id, in every name. */
  run: string;
  /** A name of this suite's run for a thing of the suite's own: `devsec-<suite>-<what>-<run>`. */
  name: (what: string) => string;
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
  /** secure-devcontainer again on the workspace (not committed): `project: 'app'` and the suite's network beside `options`. */
  generate: (options?: Partial<SecureDevcontainerGeneratorSchema>) => Promise<void>;
  /** up-shared, as a user would run it before up-worktree. */
  upShared: () => Promise<{ success: boolean }>;
  /** up-worktree, with what its logger said: the info lines, the errors, and every line (info, warn, error) in order; Compose's output stays printed. */
  up: (options?: Partial<UpWorktreeExecutorSchema>) => Promise<{ success: boolean; lines: string[]; errors: string; said: string }>;
  /** A shell script run inside the dev container as its user, in the workspace (`timeout` ms, docker's default otherwise). */
  inside: (script: string, timeout?: number) => Run;
  /** git on the host, as the checkout's owner runs it. */
  hostGit: (...args: string[]) => SpawnSyncReturns<string>;
  /** Something of the suite's own to remove first when the stack stops (a container on one of the stack's networks). */
  atStop: (remove: () => void) => void;
  stop: () => Promise<void>;
}

export interface SandboxStackOptions {
  /** The run's id, for a suite that names things of its own before the stack is made (default: a new one). */
  run?: string;
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
  const run = options.run ?? Math.random().toString(36).slice(2, 8);
  const network = `devsec-${suite}-${run}`;
  const stateHome = mkdtempSync(join(tmpdir(), `devsec-${suite}-state-`));
  const home = mkdtempSync(join(tmpdir(), `devsec-${suite}-home-`));
  chownSync(home, CHECKOUT_UID, CHECKOUT_UID);
  process.env.XDG_STATE_HOME = stateHome;
  trustCheckoutsAsRoot();
  const ws = createSandboxWorkspace(`devsec-${suite}-`, `${suite}-${run}`);
  const dir = ws.dir;
  installPlugin(dir);
  const generate = async (more: Partial<SecureDevcontainerGeneratorSchema> = {}, alsoOn?: (tree: Tree) => Promise<void> | void) => {
    const tree = new FsTree(dir, false);
    await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true, ...more });
    await alsoOn?.(tree);
    flushChanges(dir, tree.listChanges());
  };
  await generate(options.generator, options.tree);
  options.prepare?.(dir, ws);
  ws.git('add', '-A');
  ws.git('commit', '-q', '-m', 'sandbox');
  options.committed?.(ws);

  const removals: Array<() => void> = [];
  const fixture: SandboxStackFixture = {
    ws,
    run,
    name: (what) => `devsec-${suite}-${what}-${run}`,
    dir,
    stateHome,
    home,
    network,
    project: '',
    app: '',
    context: (targetName = 'up-worktree') => ({ root: dir, cwd: dir, projectName: 'app', targetName, isVerbose: false }) as ExecutorContext,
    generate: (more) => generate(more),
    upShared: () => upShared({}, fixture.context('up-shared')),
    up: async (more = {}) => {
      const { result, lines, said } = await captureOutput(() => upWorktree({ composeFile: COMPOSE_FILE, ...more }, fixture.context()), { stdout: false });
      fixture.project = readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1];
      fixture.app = `${fixture.project}-app-1`;
      return { success: result.success, lines: lines.info, errors: lines.error.join('\n'), said };
    },
    inside: (script, timeout) => docker(['exec', '-u', 'node', '-w', dir, fixture.app, 'bash', '-c', script], { timeout }),
    hostGit: (...args) =>
      spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
        cwd: dir,
        encoding: 'utf-8',
        uid: CHECKOUT_UID,
        gid: CHECKOUT_UID,
        env: { ...process.env, HOME: home },
      }),
    atStop: (remove) => void removals.push(remove),
    stop: async () => {
      for (const remove of removals) remove();
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
