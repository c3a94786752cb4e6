import type { EngineProfile } from '../engine/engine-discovery';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { WorktreeError } from '../../sandbox/errors';
import { composeSafeName } from '../../sandbox/names';
import { APP_SERVICE, COMPOSE_FILE, DEVCONTAINER_DIR, MANAGED_LABEL, PROXY_SERVICE } from '../../sandbox/vocabulary';
import { GitLayout, readGitLayout } from './git-layout';
import type { Mount } from './git-mounts';
import { runCommand, Runner } from '../engine/run';

export interface WorktreeIdentity {
  /** Absolute path of this worktree's top level (it holds `.git`). */
  workspaceRoot: string;
  /** Absolute path of the repository's common git dir, shared by every worktree. */
  gitCommonDir: string;
  /** Branch name, or undefined on a detached HEAD. */
  branch: string | undefined;
  /** The host user's git identity, for commits made inside. */
  gitName: string | undefined;
  gitEmail: string | undefined;
  composeProjectName: string;
  /** Where its git data lives, as read and checked by git-layout.ts. */
  git: GitLayout;
}

/**
 * The compose project name joins the Nx project, a slug of the worktree folder and a short
 * hash of its absolute path, so that two worktrees with the same folder name in different
 * places never collide, and the same worktree always gets the same name.
 */
export function composeProjectName(project: string, workspaceRoot: string): string {
  const hash = createHash('sha256').update(resolve(workspaceRoot)).digest('hex').slice(0, 8);
  const folder = composeSafeName(basename(workspaceRoot)).slice(0, 24);
  const name = composeSafeName(project).slice(0, 28);
  return `${name}-${folder}-${hash}`;
}

/**
 * The worktree at `workspaceRoot`: its git layout read from the files themselves, and the host
 * user's git identity for commits made inside (git is asked only with the checked git dir).
 */
export function worktreeIdentity(workspaceRoot: string, project: string, run: Runner = runCommand): WorktreeIdentity {
  const git = readGitLayout(workspaceRoot);
  const identity = run('git', ['--git-dir', git.gitDir, 'config', '--get-regexp', '^user\\.(name|email)$'], { cwd: git.workspaceRoot });
  if (identity.error?.code === 'ENOENT') throw new WorktreeError('git is not installed: the sandbox takes its identity from git. Install git and run again.');
  // The last value wins, as with `git config --get`.
  const config = (key: string) => [...identity.stdout.matchAll(new RegExp(`^${key.replace('.', '\\.')} (.+)$`, 'gm'))].pop()?.[1]?.trim() || undefined;
  return {
    workspaceRoot: git.workspaceRoot,
    gitCommonDir: git.commonDir,
    branch: git.branch,
    gitName: config('user.name'),
    gitEmail: config('user.email'),
    composeProjectName: composeProjectName(project, git.workspaceRoot),
    git,
  };
}

let platform: string | undefined;

/**
 * This host as the node_modules fill compares it with the container (sandbox/node-modules.ts).
 * Learned once per process: Node's report, the one place it names the C library, takes 10–70 ms
 * to write (heap, handles, libraries), and a process's C library does not change.
 */
export function hostPlatform(): string {
  if (platform !== undefined) return platform;
  if (process.platform !== 'linux') return (platform = `${process.platform}-${process.arch}`);
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return (platform = `linux-${process.arch}-${report?.header?.glibcVersionRuntime ? 'glibc' : 'musl'}`);
}

/** `.devcontainer/.env`: read by `docker compose` for interpolation, whoever starts the stack. */
export function sandboxEnvFile(identity: WorktreeIdentity, engine: EngineProfile, secrets: Record<string, string> = {}): string {
  return [
    '# Written by @org/devsec for this worktree on this machine (git-ignored; rewritten on every start).',
    `COMPOSE_PROJECT_NAME=${identity.composeProjectName}`,
    `DEVSEC_WORKSPACE=${identity.workspaceRoot}`,
    `DEVSEC_GIT_COMMON_DIR=${identity.gitCommonDir}`,
    // The engine's socket as its containers see it, and who may use it there (host/engine-discovery.ts).
    `DEVSEC_DOCKER_SOCKET=${envValue(engine.socket)}`,
    `DEVSEC_DOCKER_PROXY_USER=${engine.access.user}`,
    `DEVSEC_DOCKER_GID=${engine.access.group}`,
    `DEVSEC_HOST_PLATFORM=${hostPlatform()}`,
    ...(identity.gitName ? [`DEVSEC_GIT_NAME=${envValue(identity.gitName)}`] : []),
    ...(identity.gitEmail ? [`DEVSEC_GIT_EMAIL=${envValue(identity.gitEmail)}`] : []),
    // The shared services' passwords, so the dev container's connection variables resolve.
    ...Object.entries(secrets).map(([name, value]) => `${name}=${envValue(value)}`),
    '',
  ].join('\n');
}

/** A value for a .env line: Compose reads single-quoted values literally. */
function envValue(value: string): string {
  return /^[A-Za-z0-9@._+/-]*$/.test(value) ? value : `'${value.replace(/'/g, '')}'`;
}

/**
 * Only what the sandbox cannot write is skipped, at the root alone: its node_modules and .nx are
 * volumes of its own there, .git is the repository. Anywhere else a definition may sit — `tmp/`,
 * `dist/`, a package's own node_modules — so it is looked at (and mounted read-only at the next start).
 */
const ROOT_SKIPS = new Set(['node_modules', '.git', '.nx']);
const MAX_DEPTH = 32;
const MAX_ENTRIES = 200_000;

/** Every `.devcontainer` folder of ours (its compose file carries our label), relative to the root; symlinks are never followed. */
export function findOurDevcontainers(workspaceRoot: string): string[] {
  const found: string[] = [];
  let budget = MAX_ENTRIES;
  const visit = (dir: string, depth: number) => {
    // Deeper or larger than this, the nested-git search (same limits) refuses the start.
    if (depth > MAX_DEPTH) return;
    let entries;
    try {
      entries = readdirSync(join(workspaceRoot, dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (--budget < 0) return;
      if (!entry.isDirectory() || (depth === 0 && ROOT_SKIPS.has(entry.name))) continue;
      const child = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.name === DEVCONTAINER_DIR) {
        const compose = join(workspaceRoot, child, COMPOSE_FILE);
        if (lstatSync(compose, { throwIfNoEntry: false })?.isFile() && readFileSync(compose, 'utf-8').includes(MANAGED_LABEL)) found.push(child);
      } else {
        visit(child, depth + 1);
      }
    }
  };
  visit('', 0);
  return found.sort();
}

/**
 * A value Compose takes as it is: it interpolates `${…}` in every string of a compose file, and a
 * folder the agent named `${A:-..}` would otherwise turn a pin into a mount of another path
 * (red team, finding A). `$$` is Compose's literal `$`.
 */
export function literal(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

/**
 * `.devcontainer/docker-compose.worktree.yml`: what depends on this checkout and this machine,
 * as mounts over the compose file's own (Compose merges them by target): every sandbox
 * definition of ours and the shared services' file read-only, so that nothing the host later
 * runs can be changed from inside, and git's data as git-mounts.ts lays it out; and the egress
 * allowlist and NO_PROXY of this checkout (egress-override.ts).
 */
export function worktreeOverrideFile(
  mounts: Mount[],
  egress?: Record<string, { environment: Record<string, string> }>,
  appEnvironment: Record<string, string> = {},
  /** Values Compose interpolates (references to the compose process's environment, never secrets themselves): service → name → `${VAR}`. */
  references: Record<string, Record<string, string>> = {},
  kernel: { runtime?: string; childRuntime?: boolean } = {},
): string {
  const volumes = mounts.map(({ source, target, readOnly }) => ({
    type: 'bind',
    source: literal(source),
    target: literal(target),
    ...(readOnly ? { read_only: true } : {}),
  }));
  const header = '# Written by @org/devsec for this worktree on this machine (git-ignored; rewritten on every start).\n';
  const environments = Object.fromEntries(
    Object.entries(egress ?? {}).map(([service, { environment }]) => [
      service,
      { environment: Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, literal(value)])) },
    ]),
  );
  // The tenant's connection variables (tenants.ts) over those the compose file names: never an administrator's.
  const ownEnvironment = Object.fromEntries(Object.entries(appEnvironment).map(([name, value]) => [name, literal(value)]));
  const app = {
    ...environments[APP_SERVICE],
    ...(Object.keys(ownEnvironment).length ? { environment: { ...environments[APP_SERVICE]?.environment, ...ownEnvironment } } : {}),
  };
  for (const [service, values] of Object.entries(references)) {
    const environment = { ...(environments[service]?.environment ?? {}), ...values };
    environments[service] = { ...environments[service], environment };
  }
  // The dev container's runtime (runtime.ts: gVisor when the sandbox's choice and the engine allow); with --testContainers
  // the socket proxy forces the same one on the agent's own containers.
  const services: Record<string, object> = { ...environments, [APP_SERVICE]: { ...app, ...(kernel.runtime ? { runtime: kernel.runtime } : {}), volumes } };
  if (kernel.runtime && kernel.childRuntime) {
    const proxy = services[PROXY_SERVICE] as { environment?: Record<string, string> } | undefined;
    services[PROXY_SERVICE] = { ...proxy, environment: { ...proxy?.environment, CHILD_RUNTIME: kernel.runtime } };
  }
  return header + stringify({ services });
}
