/**
 * A clone-mode sandbox (`secure-devcontainer --workspace=clone`): its workspace is a volume of the
 * stack, and nothing of the host's checkout or its `.git` is mounted into the dev container. On
 * the first start the volume is filled with a clone of the repository at the host's HEAD, through
 * git: the host writes a bundle of HEAD and its branch (host git on the host's own repository, into
 * a fresh file of its state directory), and a throwaway container of the sandbox image — no
 * network, every capability dropped, no-new-privileges, as the agent's user — clones from that
 * bundle (mounted read-only) into the volume and checks the branch out; then node_modules is
 * filled from the host's install, as in mount mode (sandbox/node-modules.ts), when the platforms
 * match. The clone's `origin` is the bundle, a path that exists only in that throwaway container:
 * nothing the agent can push to. Later starts keep the volume as the agent left it; its commits
 * come back only by `devsec fetch`, which reads the volume as data (cloneFetchSource).
 */
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isUnder } from '../../sandbox/paths';
import { SandboxError } from '../../sandbox/errors';
import { COPY_HOST_INSTALL, COPY_YARN1_CACHE, firstEntryOf, HOST_NODE_MODULES_INSIDE, indented, PLATFORM_EXPRESSION } from '../../sandbox/node-modules';
import type { Say } from '../../sandbox/say';
import { visible, visibleText } from '../../sandbox/visible';
import { APP_SERVICE, CONTAINER_USER, MANAGED_LABEL, PROJECT_LABEL, WORKSPACE_LABEL, WORKSPACE_VOLUME, WorkspaceMode } from '../../sandbox/vocabulary';
import { hostPlatform, WorktreeIdentity } from '../git/worktree';
import type { Mount } from '../git/git-mounts';
import { runCommand, Runner } from '../engine/run';
import type { FillRecord } from './worktree-state';

/** Where the bundle appears inside the throwaway container (and what the clone's `origin` names: nothing outside it). */
export const SEED_BUNDLE_INSIDE = '/devsec/seed.bundle';

/** The workspace mode the compose files give the dev container (its label); mount when none says clone. */
export function workspaceModeOf(models: unknown[]): WorkspaceMode {
  let mode: WorkspaceMode = 'mount';
  for (const model of models) {
    const labels = (model as { services?: Record<string, { labels?: unknown } | null> } | null)?.services?.[APP_SERVICE]?.labels;
    const value = labels && typeof labels === 'object' && !Array.isArray(labels) ? (labels as Record<string, unknown>)[WORKSPACE_LABEL] : undefined;
    if (value === 'clone' || value === 'mount') mode = value;
  }
  return mode;
}

/**
 * Where a clone-mode sandbox's work is, for `devsec fetch`: the stack's workspace volume (Compose
 * names it `<compose project>_workspace`), and the git dir inside it. The dev container mounts the
 * volume at `mountPath` (the workspace's host path); the clone's git dir is `gitDir` below the
 * volume's root — a folder the agent writes, so whatever reads it takes it as data.
 */
export interface CloneFetchSource {
  volume: string;
  /** The git dir, relative to the volume's root. */
  gitDir: string;
  /** Where the dev container mounts the volume. */
  mountPath: string;
}

export function cloneFetchSource(identity: Pick<WorktreeIdentity, 'composeProjectName' | 'workspaceRoot'>): CloneFetchSource {
  return { volume: `${identity.composeProjectName}_${WORKSPACE_VOLUME}`, gitDir: '.git', mountPath: identity.workspaceRoot };
}

/** `path` is `root` or below it (a folder named `..x` is below, `/ab` is not below `/a`). */
const within = (path: string, root: string) => isUnder(resolve(path), resolve(root));

/**
 * A clone-mode stack's effective model (`docker compose config`) binds nothing of the host's
 * workspace, its git dir or the repository's common dir into any service — neither a bind mount
 * nor a volume whose driver binds a host path. Not a rule to allow: a clone-mode sandbox that
 * mounts the checkout is not what anyone asked for. `realPath` resolves symlinks (what Docker binds).
 */
export function checkCloneMounts(
  model: { services?: Record<string, { volumes?: unknown } | null | undefined>; volumes?: Record<string, unknown> },
  identity: Pick<WorktreeIdentity, 'workspaceRoot' | 'gitCommonDir'> & { git: { gitDir: string } },
  realPath: (path: string) => string = (path) => path,
): void {
  const roots = [...new Set([identity.workspaceRoot, identity.git.gitDir, identity.gitCommonDir])];
  const reaches = (source: string) => roots.find((root) => within(source, root) || within(realPath(source), realPath(root)));
  const wrong: string[] = [];
  for (const [name, service] of Object.entries(model.services ?? {})) {
    for (const volume of (service?.volumes ?? []) as Array<{ type?: string; source?: string; target?: string } | string>) {
      if (typeof volume !== 'object' || volume === null || typeof volume.source !== 'string') continue;
      let source: string | undefined;
      if (volume.type === 'bind') source = volume.source;
      else if (volume.type === 'volume') {
        const definition = model.volumes?.[volume.source] as { driver_opts?: { o?: unknown; device?: unknown } } | undefined;
        const options = definition?.driver_opts;
        if (options && /(^|,)r?bind(,|$)/.test(String(options.o ?? '')) && typeof options.device === 'string') source = options.device;
      }
      const root = source === undefined ? undefined : reaches(source);
      if (root !== undefined)
        wrong.push(`${name} mounts ${source} at ${volume.target ?? '?'} (${root === identity.workspaceRoot ? 'the workspace' : "git's files"})`);
    }
  }
  if (wrong.length === 0) return;
  throw new SandboxError(
    `Refusing to start: this sandbox is generated with --workspace=clone, so nothing of your checkout or its .git may be mounted, but:\n${wrong
      .map((line) => `  - ${visible(line)}`)
      .join('\n')}\nRemove those mounts from the compose files (if an agent added them, they are not yours) and run again.`,
  );
}

/** A `--mount` value: each field quoted as CSV when it holds a comma or a quote. */
function mountOption(fields: Array<[string, string] | string>): string {
  return fields
    .map((field) => (typeof field === 'string' ? field : `${field[0]}=${field[1]}`))
    .map((field) => (/[",]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field))
    .join(',');
}

/**
 * Run in the throwaway container as the agent's user: the clone, unless the volume holds one
 * already (the agent's work: kept as it is); then node_modules from the host's install when the
 * platforms match and it is empty (otherwise the dev container's own fill runs npm ci). Prints
 * what it did, one line each.
 */
export const SEED_SCRIPT = [
  'set -eu',
  'ws="$DEVSEC_WORKSPACE"',
  `bundle=${SEED_BUNDLE_INSIDE}`,
  'if [ -e "$ws/.git" ]; then echo "workspace: kept as it is (the agent\'s clone)"; exit 0; fi',
  'tmp="$ws/.devsec-clone"',
  'rm -rf "$tmp"',
  'if [ -n "${DEVSEC_SEED_BRANCH:-}" ]; then git clone -q --no-checkout --branch "$DEVSEC_SEED_BRANCH" "$bundle" "$tmp"; else git clone -q --no-checkout "$bundle" "$tmp"; fi',
  'mv "$tmp/.git" "$ws/.git"',
  'rmdir "$tmp"',
  'cd "$ws"',
  'git checkout -q -f',
  'echo "workspace: cloned $(git rev-parse --abbrev-ref HEAD) at $(git rev-parse --short HEAD), $(git rev-list --count HEAD) commits, $(git ls-files | wc -l) files"',
  'nm="$ws/node_modules"',
  `from=${HOST_NODE_MODULES_INSIDE}`,
  `if [ -z "${firstEntryOf('$nm')}" ] && [ -n "${firstEntryOf('$from', { quiet: true })}" ] && [ "$(node -p '${PLATFORM_EXPRESSION}')" = "$DEVSEC_HOST_PLATFORM" ]; then`,
  // With the package stores (pnpm, Yarn) as the fill copies them: an offline install inside works as in mount mode.
  ...indented([...COPY_YARN1_CACHE, ...COPY_HOST_INSTALL]),
  '  echo "node_modules: copied from the host\'s install"',
  'fi',
].join('\n');

interface Inspected {
  Image?: string;
  Mounts?: Array<{ Type?: string; Name?: string; Destination?: string }>;
}

/**
 * Fills the clone-mode workspace volume of the running dev container `container` (its full id):
 * the bundle of the host's HEAD, the throwaway container, the bundle removed. Throws, naming
 * what failed, when the volume could not be filled. Returns the lines it printed.
 */
export function seedCloneWorkspace(
  identity: Pick<WorktreeIdentity, 'workspaceRoot' | 'branch' | 'git'>,
  project: string,
  container: string,
  stateDir: string,
  run: Runner = runCommand,
  /** The package stores copied with node_modules (PackageManagerPlan.seedMounts), read-only. */
  storeMounts: Mount[] = [],
): string[] {
  const { workspaceRoot } = identity;
  const inspect = run('docker', ['inspect', '--type', 'container', container]);
  let info: Inspected | undefined;
  try {
    info = (JSON.parse(inspect.stdout) as Inspected[])[0];
  } catch {
    info = undefined;
  }
  const volumeAt = (destination: string) => info?.Mounts?.find((mount) => mount.Destination === destination && mount.Type === 'volume')?.Name;
  const workspaceVolume = volumeAt(workspaceRoot);
  const nodeModulesVolume = volumeAt(join(workspaceRoot, 'node_modules'));
  if (inspect.status !== 0 || !info?.Image || !workspaceVolume || !nodeModulesVolume)
    throw new SandboxError(
      `The dev container ${visible(container)} has no workspace volume at ${visible(workspaceRoot)} to fill (${visibleText(inspect.stderr.trim()) || 'docker inspect shows none'}). ` +
        'Run up-worktree again.',
    );
  const folder = mkdtempSync(join(stateDir, 'seed-'));
  try {
    const bundle = join(folder, 'seed.bundle');
    // HEAD and its branch: the clone checks out the branch (or HEAD, detached), with the history behind it.
    const refs = identity.branch ? ['HEAD', `refs/heads/${identity.branch}`] : ['HEAD'];
    const made = run('git', ['--git-dir', identity.git.gitDir, 'bundle', 'create', '-q', bundle, ...refs], { cwd: workspaceRoot });
    if (made.status !== 0) throw new SandboxError(`git bundle create failed in ${visible(workspaceRoot)}: ${visibleText(made.stderr.trim())}`);
    const hostNodeModules = join(workspaceRoot, 'node_modules');
    const copyFrom = lstatSync(hostNodeModules, { throwIfNoEntry: false })?.isDirectory() === true;
    const args = [
      'run',
      '--rm',
      '--network',
      'none',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges:true',
      '--user',
      CONTAINER_USER,
      '--label',
      `${MANAGED_LABEL}=true`,
      '--label',
      `${PROJECT_LABEL}=${project}`,
      '--mount',
      mountOption(['type=volume', ['source', workspaceVolume], ['target', workspaceRoot]]),
      '--mount',
      mountOption(['type=volume', ['source', nodeModulesVolume], ['target', join(workspaceRoot, 'node_modules')]]),
      '--mount',
      mountOption(['type=bind', ['source', bundle], ['target', SEED_BUNDLE_INSIDE], 'readonly']),
      ...(copyFrom ? ['--mount', mountOption(['type=bind', ['source', hostNodeModules], ['target', HOST_NODE_MODULES_INSIDE], 'readonly'])] : []),
      ...(copyFrom
        ? storeMounts.flatMap((mount) => ['--mount', mountOption(['type=bind', ['source', mount.source], ['target', mount.target], 'readonly'])])
        : []),
      '--env',
      `DEVSEC_WORKSPACE=${workspaceRoot}`,
      '--env',
      `DEVSEC_SEED_BRANCH=${identity.branch ?? ''}`,
      '--env',
      `DEVSEC_HOST_PLATFORM=${hostPlatform()}`,
      '--env',
      'GIT_CONFIG_NOSYSTEM=1',
      '--workdir',
      '/',
      '--entrypoint',
      'sh',
      info.Image,
      '-c',
      SEED_SCRIPT,
    ];
    const seeded = run('docker', args);
    const output = visibleText(`${seeded.stdout}${seeded.stderr}`.trim());
    if (seeded.status !== 0)
      throw new SandboxError(
        `The clone-mode workspace (volume ${visible(workspaceVolume)}) could not be filled: ${output.split('\n').slice(-3).join(' ')}\n` +
          'Run up-worktree again; down-worktree --volumes starts it over from an empty volume.',
      );
    return output.split('\n').filter((line) => /^(workspace|node_modules): /.test(line));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * seedCloneWorkspace once per dev container, as the node_modules fill: a re-run with nothing
 * changed finds the same container and asks nothing. A recreated container is asked again, and
 * the script keeps a volume that already holds a clone. Returns what to remember.
 */
export function seedCloneWorkspaceOnce(
  identity: Pick<WorktreeIdentity, 'workspaceRoot' | 'branch' | 'git'>,
  project: string,
  container: string,
  previous: FillRecord | undefined,
  stateDir: string,
  say: Say,
  run: Runner = runCommand,
  storeMounts: Mount[] = [],
): { seed: FillRecord; nodeModulesFilled: boolean } {
  if (previous?.container === container && previous.ok) return { seed: previous, nodeModulesFilled: false };
  const started = Date.now();
  const lines = seedCloneWorkspace(identity, project, container, stateDir, run, storeMounts);
  for (const line of lines) say.info(line);
  if (lines.some((line) => line.startsWith('workspace: cloned'))) say.info(`workspace: filled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { seed: { container, ok: true }, nodeModulesFilled: lines.some((line) => line.startsWith('node_modules: copied')) };
}
