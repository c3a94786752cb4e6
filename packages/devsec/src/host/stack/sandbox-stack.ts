/**
 * A project's sandbox stack in this worktree: which compose project it is, the per-machine
 * files it needs (`.env` and the override file), what the last start remembered, and the
 * summary printed when it is up.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { parse } from 'yaml';
import {
  APP_SERVICE,
  COMPOSE_FILE,
  DEVCONTAINER_JSON,
  ENV_FILE,
  PROJECT_LABEL,
  SERVICES_COMPOSE_FILE,
  SHARED_COMPOSE_FILE,
  WORKTREE_COMPOSE_FILE,
} from '../../sandbox/vocabulary';
import type { ComposeModel } from '../../sandbox/compose-model';
import { sharedComposeSkeleton } from '../../sandbox/shared-compose';
import { sharedFileTrust, SharedFileTrust } from '../../sandbox/shared-trust';
import {
  DEFAULT_BASE_IMAGE,
  DEFAULT_NETWORK,
  EgressMode,
  PROXY_SERVICE,
  RUNTIME_CHOICES,
  RuntimeChoice,
  SHARED_NETWORK,
  WorkspaceMode,
} from '../../sandbox/vocabulary';
import { workspaceModeOf } from './clone-workspace';
import { chownLike, ensureOwnedFolder } from '../git/checkout-owner';
import { writeFresh } from '../git/fresh-file';
import { foldersOnTheWay, pinMounts } from './mount-pins';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { ComposeProject, PsEntry } from '../engine/compose-project';
import { gitMounts, Mount } from '../git/git-mounts';
import { findNestedGit, NestedGit } from '../git/nested-git';
import { runCommand, Runner } from '../engine/run';
import { egressModeOf, egressOverride, parseComposeFiles } from './egress-override';
import { ENGINES } from '../../sandbox/engines';
import { discoverEngine, EngineProfile, IMAGE_NAME, localEndpoint } from '../engine/engine-discovery';
import { chooseRuntime, engineRuntimes, EngineRuntimes } from '../engine/runtime';
import { ensureSharedSecrets } from './secrets';
import { adoptOlderSecrets, sharedProjectName } from './shared-project';
import { administratorSecrets, planTenants, redisAdministratorSecrets, tenantEnvironment, TenantPlan } from './tenants';
import { stateDir } from '../engine/state-dir';
import { composeEnvironment } from './workspace-env';
import { composeProjectName, findOurDevcontainers, sandboxEnvFile, worktreeIdentity, WorktreeIdentity, worktreeOverrideFile } from '../git/worktree';
import { readState, withState, WorktreeState } from './worktree-state';
import { CaTrust, prepareCaTrust } from './ca-certs';
import { UPSTREAM_PROXY_REFERENCE, UPSTREAM_PROXY_VARIABLE, upstreamProxyPlan, UpstreamProxyPlan } from './upstream-proxy';
import { checkCaCertsPath } from '../../sandbox/spec';
import { EGRESS_SERVICE } from '../../sandbox/vocabulary';
import { PackageManagerPlan, planPackageManager } from './package-manager-plan';
import { PACKAGE_MANAGER_INSIDE } from '../../sandbox/node-modules';

export interface SandboxStack {
  identity: WorktreeIdentity;
  devcontainerDir: string;
  /** The Nx project the sandbox belongs to. */
  project: string;
  compose: ComposeProject;
  /** The shared network its compose file names. */
  network: string;
  /** What the last start in this worktree remembered (worktree-state.ts); empty before the first. */
  state?: WorktreeState;
  /** The `.git`s below the root, as prepareWorktree found them. */
  nestedGit?: NestedGit;
  /** Whether the shared services file is one @org/devsec wrote, as prepareWorktree found it. */
  sharedTrust?: SharedFileTrust;
  /** How the dev container reaches the outside, as its compose file says (prepareWorktree). */
  egress?: EgressMode;
  /** The workspace's package manager inside: its read-only mounts and environment (prepareWorktree). */
  packageManager?: PackageManagerPlan;
  /** The engine and how its proxy reaches the socket (prepareWorktree). */
  engine?: EngineProfile;
  /** The dev container's mounts the override file adds (prepareWorktree): checked against the kernel's view after the start. */
  mounts?: Mount[];
  /** Where its workspace comes from, as its compose files label the dev container (clone-workspace.ts). */
  workspace?: WorkspaceMode;
  /** Its tenant in the shared services and the credentials the dev container gets (prepareWorktree; tenants.ts). */
  tenants?: TenantPlan;
  /** The shared services' administrator passwords, for the host's own use (prepareWorktree): never in the dev container. */
  sharedSecrets?: Record<string, string>;
  /** Whether its spec asks for --testContainers (the agent's own containers, removed with the stack). */
  testContainers?: boolean;
  /** The engine's runtimes and the dev container's (undefined: the engine's default), as prepareWorktree chose it (runtime.ts). */
  kernel?: { runtimes: EngineRuntimes; runtime?: string };
  /** The CA certificates trusted inside this start (--caCerts; ca-certs.ts). */
  caTrust?: CaTrust;
  /** The company proxy the egress proxy leaves through this start (upstream-proxy.ts). */
  upstreamProxy?: UpstreamProxyPlan;
}

/** What `up-worktree` is given for this start only (not stored in the spec). */
export interface StartInputs {
  /** --caCerts at start: a CA file the user vouches for (absolute, or from the workspace root). */
  caCerts?: string;
  /** --upstreamProxy at start; else HTTPS_PROXY/HTTP_PROXY of the shell. */
  upstreamProxy?: string;
  /** Nothing starts after this (down, reset-data): a CA file that would refuse a start is left out, not an error. */
  notStarting?: boolean;
  /** A start: the package manager is fetched when missing, and a workspace it cannot serve is refused (else only what is at hand is used). */
  start?: boolean;
}

/**
 * Which stack a compose file is in this worktree: the identity and the compose project name,
 * without writing anything (the live audit only looks).
 */
export function locateStack(cwd: string, composeFileFromRoot: string, run: Runner = runCommand): SandboxStack {
  return locate(cwd, composeFileFromRoot, run).stack;
}

/** locateStack, with the compose file as it was parsed (prepareWorktree reads it once). */
function locate(cwd: string, composeFileFromRoot: string, run: Runner): { stack: SandboxStack; model: unknown } {
  const found = worktreeIdentity(cwd, '', run);
  const composeFile = join(found.workspaceRoot, composeFileFromRoot);
  // Read through real folders only, and only a real file: never what a link the sandbox planted points at.
  foldersOnTheWay(found.workspaceRoot, composeFile, 'the sandbox definition');
  if (lstatSync(composeFile, { throwIfNoEntry: false })?.isFile() === false)
    throw new SandboxError(`Refusing to start: ${visible(composeFileFromRoot)} is not a file (a symlink?): make it the file the generator wrote.`);
  const model = parse(readFileSync(composeFile, 'utf-8')) as ComposeModel & { services?: Record<string, { labels?: Record<string, string> }> };
  // The project name comes from the file itself, so VS Code and the executor agree on it.
  const project = model.services?.[APP_SERVICE]?.labels?.[PROJECT_LABEL] ?? basename(dirname(dirname(composeFile)));
  const identity = { ...found, composeProjectName: composeProjectName(project, found.workspaceRoot) };
  const devcontainerDir = dirname(composeFile);
  const files = [COMPOSE_FILE, SERVICES_COMPOSE_FILE, WORKTREE_COMPOSE_FILE]
    .map((file) => join(devcontainerDir, file))
    // The override file is written by prepareWorktree, before any compose command.
    .filter((file) => existsSync(file) || file.endsWith(WORKTREE_COMPOSE_FILE));
  const network = model.networks?.[SHARED_NETWORK]?.name ?? DEFAULT_NETWORK;
  const stack = {
    identity,
    devcontainerDir,
    project,
    network,
    compose: { name: identity.composeProjectName, files, cwd: devcontainerDir, env: composeEnvironment(), prefix: `[${visible(project)}] ` },
    // As the definition (read-only inside) labels it; prepareWorktree reads it again from every file.
    workspace: workspaceModeOf([model]),
  };
  return { stack, model };
}

/** The stack's own folder in the host's state directory (its private git dir lives there). */
export function stackStateDir(stack: SandboxStack, env: NodeJS.ProcessEnv = process.env): string {
  return stateDir(['worktrees', stack.identity.composeProjectName], env);
}

/**
 * The shared services file: written (with no service) when missing, so that it exists — and is
 * mounted read-only — from the first start on. Returns its text.
 */
function ensureSharedComposeFile(stack: SandboxStack, say: (line: string) => void): string {
  const path = join(stack.identity.workspaceRoot, SHARED_COMPOSE_FILE);
  const there = lstatSync(path, { throwIfNoEntry: false });
  // A symlink here would have the host read (and mount into the sandbox) or create a file of the link's choosing.
  if (there && !there.isFile())
    throw new SandboxError(
      `Refusing to start: ${SHARED_COMPOSE_FILE} is ${there.isSymbolicLink() ? 'a symlink' : 'not a file'}. It must be a file of the workspace itself: remove it (if an agent made it, it is not yours) and run again.`,
    );
  if (there) return readFileSync(path, 'utf-8');
  const text = sharedComposeSkeleton(workspaceName(stack.identity.workspaceRoot), stack.network);
  writeFresh(path, text);
  chownLike(path, stack.identity.workspaceRoot);
  say(`Wrote ${SHARED_COMPOSE_FILE} with no service yet: it is read-only inside every sandbox, so no agent can be the one to create it. Commit it.`);
  return text;
}

/** The project a definition of ours belongs to, as its compose file labels it. */
function definitionProject(workspaceRoot: string, dir: string): string | undefined {
  try {
    const model = parse(readFileSync(join(workspaceRoot, dir, COMPOSE_FILE), 'utf-8')) as {
      services?: Record<string, { labels?: Record<string, unknown> } | null>;
    };
    const project = model?.services?.[APP_SERVICE]?.labels?.[PROJECT_LABEL];
    return typeof project === 'string' ? project : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every definition of ours in the workspace, checked: the stack's own is the only one that names
 * its project (a second one is what an agent would plant for the host to start instead).
 */
function checkedDefinitions(stack: SandboxStack): string[] {
  const root = stack.identity.workspaceRoot;
  const definitions = findOurDevcontainers(root);
  const own = relative(root, stack.devcontainerDir);
  const same = definitions.filter((dir) => dir === own || definitionProject(root, dir) === stack.project);
  if (same.length > 1)
    throw new SandboxError(
      `Refusing to start: more than one sandbox definition names the project ${visible(stack.project)}: ${same.map((dir) => visible(dir)).join(' and ')}. ` +
        'One was not written by the generator for it (if an agent made it, it is not yours): remove it, or give each its own project, and run again.',
    );
  return definitions.map((dir) => join(root, dir));
}

/** The root package.json's name (what names the shared stack), or the folder's. */
function workspaceName(workspaceRoot: string): string {
  try {
    const name = JSON.parse(readFileSync(join(workspaceRoot, 'package.json'), 'utf-8')).name;
    if (typeof name === 'string' && name !== '') return name;
  } catch {
    // no package.json
  }
  return basename(workspaceRoot);
}

/**
 * Writes this worktree's `.env` and override file next to the compose file, and what the
 * mounts need on the host, and returns what `docker compose` needs. Shared by the executors and
 * the initializeCommand of devcontainer.json.
 */
export function prepareWorktree(
  workspaceRoot: string,
  composeFileFromRoot: string,
  run: Runner = runCommand,
  say: (line: string) => void = console.log,
  inputs: StartInputs = {},
): SandboxStack {
  // A remote engine is refused first, before anything is read or written (the rest of it is learned below).
  const endpoint = localEndpoint();
  const { stack, model: definition } = locate(workspaceRoot, composeFileFromRoot, run);
  const { identity, devcontainerDir } = stack;
  // The definition as parsed once above (files[0]), then the services file.
  const models = [definition, ...parseComposeFiles(stack.compose.files.slice(1).filter((file) => !file.endsWith(WORKTREE_COMPOSE_FILE)))];
  const engine = discoverEngine(proxyBaseImage(models), run, process.env, endpoint);
  const sharedText = ensureSharedComposeFile(stack, say);
  const sharedModel = parse(sharedText) as ComposeModel | null;
  // The shared project of this repository (shared-project.ts); an older version's passwords are taken over, once.
  const sharedName = sharedModel?.name ? sharedProjectName(sharedModel.name, identity.gitCommonDir) : undefined;
  if (sharedName) adoptOlderSecrets(sharedModel!.name!, sharedName, false);
  const secrets = sharedName
    ? ensureSharedSecrets(sharedName, sharedText, identity.gitCommonDir, say, process.env, redisAdministratorSecrets(sharedModel))
    : {};
  // The dev container gets its tenant's credentials (in the override file), and no administrator's but those without tenants.
  const sharedTrust = sharedFileTrust(sharedText);
  const tenants = planTenants(sharedModel, sharedTrust, sharedName, stack.project, identity.composeProjectName);
  const definitions = checkedDefinitions(stack);
  writeFresh(join(devcontainerDir, ENV_FILE), sandboxEnvFile(identity, engine, administratorSecrets(tenants, secrets)), 0o600);

  const workspace = workspaceModeOf(models);
  const nested = findNestedGit(identity.git);
  let mounts: Mount[] = [];
  // --workspace=clone: nothing of the checkout is mounted, so nothing of it needs a pin or a folder of the user's.
  if (workspace === 'mount') {
    // Its node_modules and .nx are volumes of the stack: their mount points must exist as the user's folders, not Docker's.
    for (const folder of ['node_modules', '.nx']) ensureOwnedFolder(join(identity.workspaceRoot, folder), identity.workspaceRoot);
    const readOnly = [
      ...definitions.map((path) => ({ path, what: 'the sandbox definition' })),
      { path: join(identity.workspaceRoot, SHARED_COMPOSE_FILE), what: 'the shared services file' },
      ...nested.submodules.map((path) => ({ path, what: "the submodule's .git" })),
    ];
    // Each folder on the way to a read-only mount is a mount point too, so none can be renamed or removed inside (mount-pins.ts).
    mounts = [
      ...pinMounts(identity.workspaceRoot, readOnly),
      ...readOnly.map(({ path }) => ({ source: path, target: path, readOnly: true })),
      ...gitMounts(identity.git, join(stackStateDir(stack), 'git'), { run, say }),
    ];
  }
  const overridePath = join(devcontainerDir, WORKTREE_COMPOSE_FILE);
  const state = readState(existsSync(overridePath) ? readFileSync(overridePath, 'utf-8') : undefined);
  const egress = egressOverride({
    models,
    shared: sharedModel,
    composeProject: identity.composeProjectName,
    gitCommonDir: identity.gitCommonDir,
  });
  const spec = (definition as { 'x-devsec'?: { options?: { testContainers?: unknown; caCerts?: unknown; runtime?: unknown } } } | null)?.['x-devsec'];
  // --caCerts: checked and copied into the stack's state at every start, mounted read-only (ca-certs.ts).
  const specCa = typeof spec?.options?.caCerts === 'string' && spec.options.caCerts ? checkCaCertsPath(spec.options.caCerts) : undefined;
  let caTrust: CaTrust | undefined;
  try {
    caTrust = prepareCaTrust(identity.workspaceRoot, specCa, inputs.caCerts, stackStateDir(stack), say);
  } catch (error) {
    if (!inputs.notStarting) throw error;
  }
  if (caTrust) mounts = [...mounts, ...caTrust.mounts];
  const packageManager = packageManagerFor(identity.workspaceRoot, stack, workspace, run, say, inputs.start ?? false);
  if (packageManager) mounts = [...mounts, ...packageManager.mounts];
  // The company proxy: its URL reaches the egress proxy by the compose process's environment only (upstream-proxy.ts).
  const upstreamProxy = egress ? upstreamProxyPlan(inputs.upstreamProxy, process.env, say) : undefined;
  const references: Record<string, Record<string, string>> = upstreamProxy
    ? {
        [EGRESS_SERVICE]: {
          EGRESS_UPSTREAM_PROXY: UPSTREAM_PROXY_REFERENCE,
          ...(upstreamProxy.noProxy ? { EGRESS_NO_PROXY: upstreamProxy.noProxy.replace(/\$/g, '$$$$') } : {}),
        },
      }
    : {};
  const testContainers = Boolean(spec?.options?.testContainers);
  // The kernel boundary: gVisor for the dev container when the sandbox's choice and the engine allow (asked at every start).
  const runtimes = engineRuntimes(run);
  const runtime = chooseRuntime(runtimeChoiceOf(spec?.options?.runtime), runtimes, stack.project);
  writeFresh(
    overridePath,
    withState(
      worktreeOverrideFile(mounts, egress, { ...packageManager?.environment, ...tenantEnvironment(tenants), ...(caTrust?.environment ?? {}) }, references, {
        runtime,
        childRuntime: testContainers,
      }),
      state,
    ),
  );
  const compose = {
    ...stack.compose,
    env: { ...stack.compose.env, ...ENGINES[engine.kind].composeEnv, ...(upstreamProxy ? { [UPSTREAM_PROXY_VARIABLE]: upstreamProxy.url } : {}) },
  };
  return {
    ...stack,
    compose,
    state,
    nestedGit: nested,
    sharedTrust,
    egress: egressModeOf(models),
    engine,
    mounts,
    packageManager,
    workspace,
    tenants,
    sharedSecrets: secrets,
    testContainers,
    caTrust,
    upstreamProxy,
    kernel: { runtimes, runtime },
  };
}

/**
 * The workspace's package manager inside (package-manager-plan.ts). In clone mode the host's
 * node_modules is not beside the volume, so only the release is mounted in the dev container;
 * the package stores go to the container that seeds the clone, which copies them with the host's
 * node_modules (clone-workspace.ts). Outside a start
 * (down, VS Code's initializeCommand) nothing is fetched and nothing is refused.
 */
function packageManagerFor(
  workspaceRoot: string,
  stack: SandboxStack,
  workspace: WorkspaceMode,
  run: Runner,
  say: (line: string) => void,
  start: boolean,
): PackageManagerPlan | undefined {
  try {
    const plan = planPackageManager(workspaceRoot, stackStateDir(stack), { run, say, fetch: start });
    if (workspace === 'mount') return plan;
    const release = (mount: Mount) => mount.target === PACKAGE_MANAGER_INSIDE;
    return { ...plan, mounts: plan.mounts.filter(release), seedMounts: plan.mounts.filter((mount) => !release(mount)) };
  } catch (error) {
    if (start) throw error;
    return undefined;
  }
}

/** The stored --runtime (x-devsec.options.runtime): absent is auto; anything else is refused, never guessed. */
function runtimeChoiceOf(value: unknown): RuntimeChoice {
  if (value === undefined) return 'auto';
  if (typeof value === 'string' && (RUNTIME_CHOICES as readonly string[]).includes(value)) return value as RuntimeChoice;
  throw new SandboxError(
    `Refusing to start: x-devsec.options.runtime is ${visible(JSON.stringify(value))}, not one of ${RUNTIME_CHOICES.join(', ')}. Run the generator again with --runtime=auto, runsc or runc.`,
  );
}

/** The proxy's base image as the compose files build it (the look at the engine's socket runs it, so no other image is pulled). */
function proxyBaseImage(models: unknown[]): string {
  let image = DEFAULT_BASE_IMAGE;
  for (const model of models) {
    const arg = (model as ComposeModel | undefined)?.services?.[PROXY_SERVICE]?.build;
    const value = typeof arg === 'object' && arg !== null ? (arg as { args?: Record<string, unknown> }).args?.BASE_IMAGE : undefined;
    if (typeof value === 'string' && IMAGE_NAME.test(value)) image = value;
  }
  return image;
}

/** Records what this start should remember, on the state line of the override file prepareWorktree wrote. */
export function rememberState(stack: SandboxStack, state: WorktreeState): void {
  const overridePath = join(stack.devcontainerDir, WORKTREE_COMPOSE_FILE);
  writeFresh(overridePath, withState(readFileSync(overridePath, 'utf-8'), state));
}

export function summary(stack: SandboxStack, entries: PsEntry[]): string {
  const rows = entries.map((e) => `  ${e.Service.padEnd(16)} ${e.State.padEnd(10)} ${e.Health || '-'}`);
  const app = entries.find((e) => e.Service === APP_SERVICE);
  return [
    `Sandbox ${stack.identity.composeProjectName} (${stack.identity.workspaceRoot}${stack.identity.branch ? `, branch ${stack.identity.branch}` : ''})`,
    `  ${'SERVICE'.padEnd(16)} ${'STATE'.padEnd(10)} HEALTH`,
    ...rows,
    'Get in:',
    `  docker exec -it ${app?.Name ?? `${stack.identity.composeProjectName}-${APP_SERVICE}-1`} bash`,
    `  or open ${stack.devcontainerDir.replace(stack.identity.workspaceRoot + '/', '')}/${DEVCONTAINER_JSON} with "Reopen in Container".`,
  ].join('\n');
}
