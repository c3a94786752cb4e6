/**
 * Starting and stopping a worktree's sandbox and the shared services: the work behind the
 * executors (`nx run <project>:up-worktree`, …) and the `devsec` command, which are thin
 * wrappers that only differ in how they were invoked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../sandbox/errors';
import { sharedFileTrust } from '../sandbox/shared-trust';
import { APP_SERVICE, CONTAINER_USER, ENV_FILE, PUBLISHED_NETWORK, SHARED_NETWORK } from '../sandbox/vocabulary';
import { namesOf } from '../sandbox/compose-model';
import {
  composeArgs,
  diagnoseComposeFailure,
  inspectContainers,
  lastLogLines,
  runCompose,
  stackContainers,
  streamCompose,
  waitUntilHealthy,
} from './engine/compose-project';
import { preflight } from './engine/engine';
import { ENGINES } from '../sandbox/engines';
import { describeEngine, EngineProfile, forgetEngine, localEndpoint } from './engine/engine-discovery';
import { gate, GATE_RULES, ruleList } from './guard/gate';
import type { Say } from '../sandbox/say';
import { verifyMountsOnce } from './stack/mount-pins';
import { fillNodeModulesOnce } from './stack/node-modules-fill';
import { cloneFetchSource, seedCloneWorkspaceOnce } from './stack/clone-workspace';
import { runCommand } from './engine/run';
import { kernelLine } from './engine/runtime';
import { describeRemoved, removeChildren } from './engine/children';
import { locateStack, prepareWorktree, rememberState, SandboxStack, stackStateDir, summary } from './stack/sandbox-stack';
import { secretsPath } from './stack/secrets';
import { checkSharedLogins } from './stack/shared-logins';
import { ensureSharedNetwork, namesTakenOnSharedNetwork, removeSharedNetworkIfUnused, sharedNetworkName } from './engine/shared-network';
import { sharedStack } from './stack/shared-stack';
import { fetchIntoHost, localImageId, privateGitSource, renderFetchSummary, waitingCommits } from './git/fetch';
import { checkTenantPlan, dropTenants, lockRedisAdministrators, provisionTenants, resetTenantData } from './stack/tenants';
import { buildInputsHash, buildSpecs, gateInputsHash, WorktreeState } from './stack/worktree-state';

export type { Say };
/** The workspace's sandboxes, as `devsec` finds them without Nx (host/git/worktree.ts). */
export { findOurDevcontainers } from './git/worktree';
export { ruleList };
/** What the executors check of their options and of the workspace's .env files before anything else. */
export { checkConfiguredOptions, type ExecutorOptionsSchema } from './guard/configured-options';
export { checkWorkspaceEnvFiles } from './stack/workspace-env';
/** The sandbox's git read by a throwaway container of its image (host/git/fetch.ts): for `devsec fetch`, and clone mode's source. */
export {
  fetchIntoHost,
  localImageId,
  privateGitSource,
  renderFetchSummary,
  sandboxBranches,
  sandboxBundle,
  SOURCE_GIT_DIR,
  SOURCE_REPOSITORY_OBJECTS,
  throwawayArgs,
  waitingCommits,
  type BranchResult,
  type SandboxSource,
  type SourceMount,
} from './git/fetch';

export interface StartOptions {
  unsafeAllow?: string[] | string;
  build?: boolean;
  wait?: boolean;
  /** Empty the stack's node_modules and fill it again from the host's install (after the lockfile changed). */
  refillNodeModules?: boolean;
  /** How the user stops it again, for failure messages (e.g. `nx run app:down-worktree`). */
  downCommand: string;
  /** How the user fetches the agent's commits (e.g. `nx run app:fetch`): the summary says how many wait, when given. */
  fetchCommand?: string;
  /** A CA file the user vouches for at this start (host/stack/ca-certs.ts). */
  caCerts?: string;
  /** The company proxy (else HTTPS_PROXY/HTTP_PROXY of the shell; host/stack/upstream-proxy.ts). */
  upstreamProxy?: string;
}

const GATE_VERSION = `${require('../../package.json').version} ${GATE_RULES.join(',')}`;

export async function startSandbox(workspaceRoot: string, composeFile: string, options: StartOptions, say: Say): Promise<boolean> {
  // No preflight on the way in (each docker/compose run costs tens of ms): a failure runs it, and gets its message.
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info, {
    caCerts: options.caCerts,
    upstreamProxy: options.upstreamProxy,
    start: true,
  });
  // A tenant the shared file wires but cannot be taken from: refused before the gate and the engine (tenants.ts).
  checkTenantPlan(stack.tenants);
  const previous: WorktreeState = stack.state ?? {};
  const unsafeAllow = ruleList(options.unsafeAllow);
  // The gate: its rules on the model skipped only when everything they would read is what passed last time.
  const gateInputs =
    unsafeAllow.length === 0 ? gateInputsHash(stack.compose.files, join(stack.devcontainerDir, ENV_FILE), stack.compose.env ?? {}, GATE_VERSION) : undefined;
  const { model } = gate(stack, unsafeAllow, say, { model: !gateInputs || gateInputs !== previous.gateInputs });
  // Its services are not started with this sandbox until the file is reviewed: say why.
  if (stack.sharedTrust && !stack.sharedTrust.trusted) say.warn(stack.sharedTrust.message);
  if (stack.egress === 'open') {
    say.warn(
      `EGRESS OPEN: ${stack.project}'s sandbox was generated with --egress=open: the agent reaches any host, and can send it what it reads. ` +
        'Generate it again without --egress=open for the allowlist.',
    );
  }

  // Its tenant in the shared services, made by the host before the dev container starts (tenants.ts).
  provisionTenants(stack.tenants, stack.sharedSecrets ?? {}, say);
  // What the agent started last time (--testContainers) and left behind: removed before the stack starts again.
  if (stack.testContainers) sayRemoved(stack, 'left from the last session', say);

  const network = model ? sharedNetworkName(model) : previous.network;
  const builds = model ? buildSpecs(model) : (previous.builds ?? []);

  // Build when asked, or when an image's inputs changed since the last build (compose builds missing images itself).
  const buildInputs = buildInputsHash(builds);
  const build = options.build ?? buildInputs !== previous.buildInputs;
  const args = ['up', '--detach', '--remove-orphans', ...(build ? ['--build'] : [])];
  if (stack.engine) sayEngine(stack.engine, say);
  // Which kernel boundary holds, at every start (runtime.ts).
  if (stack.kernel) say.info(kernelLine(stack.kernel.runtime, stack.kernel.runtimes));
  say.info(`Starting ${stack.identity.composeProjectName}: docker ${composeArgs(stack.compose, ...args).join(' ')}`);
  const start = () =>
    streamCompose(stack.compose, args).catch((error) => {
      preflight();
      throw error;
    });
  let { code, lines } = await start();
  // up-shared creates the shared network; when Compose says it is missing, create it here and start again.
  if (code !== 0 && network && lines.some((line) => /network .*(declared as external|not found)/i.test(line))) {
    ensureSharedNetwork(network, runCommand, say.info);
    ({ code, lines } = await start());
  }
  if (code !== 0) {
    preflight();
    // What was learned of the engine may be what failed (a socket re-created with another group): the next start looks again.
    forgetEngine();
    const logs = lastLogLines(stack.compose);
    say.error(diagnoseComposeFailure(code, lines));
    if (logs.trim()) say.error(`Last log lines:\n${logs}`);
    say.error(`To remove what did start: ${options.downCommand}`);
    return false;
  }
  // Nothing changed (same compose inputs, no build): the same containers as last time, if all are still there — one inspect
  // says how each is (the wait's first look) and when the dev container started (the mount check's key).
  const look = !model && !build && previous.containers ? inspectContainers(stack.compose, previous.containers) : undefined;
  const appName = `${stack.identity.composeProjectName}-${APP_SERVICE}-1`;
  const seen = look?.find((entry) => entry.Service === APP_SERVICE && entry.Name === appName);
  const appStart = seen?.StartedAt ? { container: seen.ID, startedAt: seen.StartedAt, running: seen.State === 'running' } : undefined;
  // Before anything runs in it: what the engine mounted is what we named (mount-pins.ts) — read back once per start of the container.
  // A clone-mode dev container binds nothing of the workspace: the gate's check of the model is the whole of it.
  const clone = stack.workspace === 'clone';
  const verified = clone ? undefined : verifyMountsOnce(appName, stack.mounts ?? [], stack.identity.workspaceRoot, previous.verified, runCommand, appStart);
  // Undefined fields are left out of the state line. Images skipped by --build=false may be stale: keep what was last built.
  const state: WorktreeState = {
    gateInputs,
    network,
    builds,
    buildInputs: build ? buildInputs : previous.buildInputs,
    verified,
    fill: previous.fill,
    seed: previous.seed,
    containers: previous.containers,
  };
  rememberState(stack, state);
  try {
    const entries = options.wait === false ? undefined : await waitUntilHealthy(stack.compose, undefined, runCommand, look);
    say.info(summary(stack, entries ?? []));
    const app = entries?.find((entry) => entry.Service === APP_SERVICE);
    // --workspace=clone: the volume filled with a clone at the first start (node_modules with it), before the fill looks at it.
    const seeded =
      app && clone
        ? seedCloneWorkspaceOnce(stack.identity, stack.project, app.ID, previous.seed, stackStateDir(stack), say, runCommand, stack.packageManager?.seedMounts)
        : undefined;
    const seed = seeded?.seed ?? previous.seed;
    if (clone) say.info(cloneNote(stack));
    // The clone's node_modules, copied from the host's install with it, is this container's fill.
    const refill = options.refillNodeModules === true;
    const fill = !app
      ? previous.fill
      : seeded?.nodeModulesFilled && !refill
        ? { container: app.ID, ok: true }
        : fillNodeModulesOnce(app.ID, previous.fill, refill, say);
    // After the clone's first fill: before it, there is no repository inside to ask.
    const waitingText = options.fetchCommand && app ? waitingLine(await commitsWaiting(stack, app.ID), options.fetchCommand) : undefined;
    if (waitingText) say.info(waitingText);
    const containers = entries?.map((entry) => entry.ID).sort() ?? previous.containers;
    if (fill !== previous.fill || seed !== previous.seed || JSON.stringify(containers) !== JSON.stringify(previous.containers))
      rememberState(stack, { ...state, fill, seed, containers });
  } catch (error) {
    forgetEngine();
    say.error(`To remove what did start: ${options.downCommand}`);
    throw error;
  }
  return true;
}

/** What a clone-mode sandbox is, said at every start: where the work is, and how it comes back. */
function cloneNote(stack: SandboxStack): string {
  const source = cloneFetchSource(stack.identity);
  return (
    `Workspace: a clone in the volume ${source.volume} (--workspace=clone): nothing of ${stack.identity.workspaceRoot} is mounted, and the agent's commits ` +
    `reach your repository only by devsec fetch ${stack.project}. down-worktree keeps the volume; --volumes removes it, with what was not fetched.`
  );
}

/** The engine this start uses, and what it cannot do (its row of sandbox/engines.ts). */
function sayEngine(engine: EngineProfile, say: Say): void {
  const facts = ENGINES[engine.kind];
  say.info(`Engine: ${describeEngine(engine)}.`);
  if (facts.userNamespace)
    say.warn(
      `On ${facts.name}, your uid is root inside its user namespace and the dev container's user (${CONTAINER_USER}, uid 1000) is a subordinate uid: ` +
        'the agent can read only what others may read in the workspace, and write none of it. Not solved yet: use rootful Docker or Docker Desktop for an agent that edits files.',
    );
  if (!engine.enforcesLimits)
    say.warn(
      'This engine accepts mem_limit, pids_limit and cpus without enforcing them (it has no cgroup driver: rootless on cgroup v1). ' +
        "The proxies' own limits hold; the dev container's memory and processes are bounded only by this machine. Boot with cgroup v2 to have them enforced.",
    );
}

export async function stopSandbox(workspaceRoot: string, composeFile: string, options: { volumes?: boolean; images?: boolean }, say: Say): Promise<boolean> {
  preflight();
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info, { notStarting: true });
  // --volumes removes the tenant too: refused before anything is removed, rather than half of it.
  if (options.volumes) checkTenantPlan(stack.tenants);
  // The agent's own containers first: they hold the stack's children network, which down removes.
  sayRemoved(stack, 'made by the agent', say);
  const args = ['down', '--remove-orphans'];
  if (options.volumes) args.push('--volumes');
  // Only images built for this stack (no image: of their own), never the base images.
  if (options.images) args.push('--rmi', 'local');
  const { code } = await streamCompose(stack.compose, args);
  if (code !== 0) return false;
  // Its data goes with its volumes: the tenant's database and keys in the shared services, and the tenant.
  if (options.volumes) dropTenants(stack.tenants, stack.sharedSecrets ?? {}, say);
  // The stack's state (its private git dir) ends with it; the next start seeds a fresh one from this worktree.
  rmSync(stackStateDir(stack), { recursive: true, force: true });
  const also = [options.volumes && 'its volumes', options.images && 'its built images'].filter(Boolean).join(' and ');
  if (stack.workspace === 'clone')
    say.info(
      options.volumes
        ? `The clone's volume ${cloneFetchSource(stack.identity).volume} is removed with the stack's volumes: commits not fetched before are gone.`
        : `The clone's volume ${cloneFetchSource(stack.identity).volume} is kept (the agent's work): the next start goes on with it; devsec fetch ${stack.project} brings its commits.`,
    );
  say.info(`Removed ${stack.identity.composeProjectName}${also ? ` and ${also}` : ' (volumes and built images kept; --volumes, --images remove them)'}.`);
  return true;
}

/** Removes what the stack's agent created through the proxy (by the owner label) and says so. */
function sayRemoved(stack: SandboxStack, why: string, say: Say): void {
  const removed = describeRemoved(removeChildren(stack.identity.composeProjectName));
  if (removed) say.info(`Removed ${removed} ${why} (${stack.identity.composeProjectName}).`);
}

/** When `devsec agent` ends: the containers, networks and volumes its session started (--testContainers) go with it. */
export function endAgentSession(stack: SandboxStack, testContainers: boolean, say: Say): void {
  if (testContainers) sayRemoved(stack, "made in the agent's session", say);
}

export async function startShared(workspaceRoot: string, composeFile: string, say: Say): Promise<boolean> {
  // A remote engine cannot bind this machine's files: refused before anything is asked of it or created there.
  localEndpoint();
  preflight();
  const stack = sharedStack(workspaceRoot, composeFile, say.info, { adopt: true });
  const trust = sharedFileTrust(readFileSync(stack.compose.files[0], 'utf-8'));
  if (!trust.trusted) say.warn(`${trust.message} Starting it because you asked for it by name; the policy gate still applies.`);
  if (stack.network) ensureSharedNetwork(stack.network, runCommand, say.info);
  // Another repository's shared services on the same network, answering to the same names: refused, never a DNS coin toss (F7).
  const taken = stack.network ? namesTakenOnSharedNetwork(stack.network, stack.compose.name, Object.keys(stack.model?.services ?? {}), runCommand) : [];
  if (taken.length > 0) {
    throw new SandboxError(
      `The shared network "${stack.network}" already has another compose project answering to ${taken.join(', ')}: ` +
        `its dev containers would reach either service by that name. Another repository on this machine uses the same shared network: ` +
        `stop its shared services (nx run <its infra project>:down-shared), or give this repository a network of its own ` +
        `(nx g @org/devsec:secure-devcontainer --project=<each> --network=<name> --force, the same name under networks.shared.name ` +
        `in ${composeFile}, then nx g @org/devsec:shared-service <preset> again to stamp it).`,
    );
  }
  const { model } = gate(stack, [], say, { workspaceRoot }) as { model: NonNullable<ReturnType<typeof gate>['model']> };
  if (Object.keys(model.services ?? {}).length === 0) {
    say.info(`No shared service yet in ${composeFile} (add one: nx g @org/devsec:shared-service postgres).`);
    return true;
  }
  for (const [name, service] of Object.entries(model.services ?? {})) {
    const networks = namesOf(service?.networks as string[] | Record<string, unknown> | undefined);
    if ((service?.ports as unknown[] | undefined)?.length && networks.every((network) => network === SHARED_NETWORK)) {
      say.warn(
        `${name} publishes a port, but is only on the shared network, which is internal: Docker publishes nothing from it. ` +
          `Put it on a network of its own too (networks: [${SHARED_NETWORK}, ${PUBLISHED_NETWORK}], as shared-service --publish writes it).`,
      );
    }
  }
  const { code, lines } = await streamCompose(stack.compose, ['up', '--detach', '--wait', '--remove-orphans']);
  if (code !== 0) {
    const logs = lastLogLines(stack.compose);
    say.error(diagnoseComposeFailure(code, lines));
    if (logs.trim()) say.error(`Last log lines:\n${logs}`);
    return false;
  }
  checkSharedLogins(stack, model, secretsPath(stack.compose.name));
  // Redis keeps its users in memory: the administrator's password is set again at every start (tenants.ts).
  lockRedisAdministrators(stack.model, stack.compose.name, stack.secrets ?? {});
  const ps = runCompose(stack.compose, ['ps', '--format', '{{.Service}}\t{{.State}}\t{{.Health}}']);
  say.info(`Shared services (${stack.compose.name}) on network ${stack.network ?? '-'}:\n${ps.stdout.trim().replace(/^/gm, '  ')}`);
  return true;
}

export async function stopShared(workspaceRoot: string, composeFile: string, options: { volumes?: boolean }, say: Say): Promise<boolean> {
  preflight();
  const stack = sharedStack(workspaceRoot, composeFile, say.info);
  const { code } = await streamCompose(stack.compose, ['down', '--remove-orphans', ...(options.volumes ? ['--volumes'] : [])]);
  if (code === 0 && stack.network) removeSharedNetworkIfUnused(stack.network, runCommand, say.info);
  return code === 0;
}

/**
 * What devcontainer.json's initializeCommand runs (`devsec prepare`): this worktree's `.env` and
 * override file written, and the stack through the gate — VS Code starts it next.
 */
export function prepareSandbox(workspaceRoot: string, composeFile: string, say: Say): SandboxStack {
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info);
  gate(stack, [], say);
  if (stack.kernel) say.info(kernelLine(stack.kernel.runtime, stack.kernel.runtimes));
  // VS Code starts the stack itself, and cannot fill a clone's volume: up-worktree does, once.
  if (stack.workspace === 'clone' && runCommand('docker', ['volume', 'inspect', cloneFetchSource(stack.identity).volume]).status !== 0)
    throw new SandboxError(
      `${stack.project}'s sandbox is generated with --workspace=clone, and its workspace volume does not exist yet: start it once with nx run ${stack.project}:up-worktree ` +
        '(it fills the volume with a clone of your repository), then "Reopen in Container".',
    );
  provisionTenants(stack.tenants, stack.sharedSecrets ?? {}, say);
  return stack;
}

/**
 * This worktree's data in the shared services back to its start (`devsec reset-data`, the
 * reset-data executor): its Postgres database made again from the shared one, its Redis keys
 * removed. The dev container keeps running; its open connections to the old database end.
 */
export function resetData(workspaceRoot: string, composeFile: string, say: Say): boolean {
  preflight();
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info, { notStarting: true });
  return resetTenantData(stack.tenants, stack.sharedSecrets ?? {}, say);
}

/** The stack's running dev container (for `devsec agent`), or undefined; nothing is written. */
export function runningDevContainer(workspaceRoot: string, composeFile: string): { name: string; stack: SandboxStack } | undefined {
  const stack = locateStack(workspaceRoot, composeFile);
  const app = stackContainers(stack.compose).find((entry) => entry.Service === APP_SERVICE && entry.State === 'running');
  return app ? { name: app.Name, stack } : undefined;
}

/**
 * The sandbox's git as a throwaway container of its image sees it; undefined before its first
 * start (no image, no private git dir, no clone volume). A clone's volume is mounted read-only as
 * the engine has it, read as nobody (git's files are world-readable; nothing needs the agent's uid).
 */
function sandboxSourceOf(stack: SandboxStack): ReturnType<typeof privateGitSource> | undefined {
  const image = localImageId(`${stack.identity.composeProjectName}-${APP_SERVICE}`, runCommand);
  if (!image) return undefined;
  if (stack.workspace === 'clone') {
    const clone = cloneFetchSource(stack.identity);
    if (runCommand('docker', ['volume', 'inspect', clone.volume]).status !== 0) return undefined;
    return { image, gitDir: `${CLONE_SOURCE}/${clone.gitDir}`, user: '65534:65534', mounts: [{ type: 'volume', source: clone.volume, target: CLONE_SOURCE }] };
  }
  const privateDir = join(stackStateDir(stack), 'git');
  if (!existsSync(join(privateDir, 'HEAD'))) return undefined;
  return privateGitSource({ image, privateDir, commonDir: stack.identity.gitCommonDir });
}

/** Where a throwaway container mounts a clone's volume (read-only). */
const CLONE_SOURCE = '/devsec/clone';

/**
 * `devsec fetch` / `nx run <project>:fetch`: the sandbox's branches into the host's repository
 * under refs/remotes/devsec/<project>/, verified (host/git/fetch.ts); no local branch, index or
 * working tree moves. Prints what arrived.
 */
export function fetchSandbox(workspaceRoot: string, composeFile: string, say: Say): boolean {
  localEndpoint();
  const stack = locateStack(workspaceRoot, composeFile);
  const source = sandboxSourceOf(stack);
  if (!source) {
    say.error(`The sandbox of ${stack.project} has not been started in this worktree (no private git dir or no image): nothing to fetch.`);
    return false;
  }
  const results = fetchIntoHost({ source, commonDir: stack.identity.gitCommonDir, project: stack.project, bundleDir: stackStateDir(stack), run: runCommand });
  say.info(renderFetchSummary(stack.project, results));
  return !results.some((result) => result.state === 'refused');
}

/**
 * How many commits of the sandbox's branches the host's repository has not yet (`devsec fetch`
 * brings them); undefined when it cannot be asked. With the dev container running, its own git
 * counts, as the agent (`docker exec`, ~0.2 s): the answer is a hint the agent could bend, read
 * as a number and nothing else — the fetch is what verifies. Otherwise a throwaway container of its
 * image counts (~1.5 s).
 */
export async function commitsWaiting(stack: SandboxStack, devContainer?: string): Promise<number | undefined> {
  try {
    const listed = runCommand('git', ['--git-dir', stack.identity.gitCommonDir, 'for-each-ref', '--format=%(objectname)'], {
      cwd: stack.identity.gitCommonDir,
    });
    if (listed.status !== 0) return undefined;
    const exclude = [...new Set(listed.stdout.split('\n').filter(Boolean))];
    if (devContainer) {
      const counted = spawnSync(
        'docker',
        [
          'exec',
          '-i',
          '-u',
          CONTAINER_USER,
          '-w',
          stack.identity.workspaceRoot,
          devContainer,
          'timeout',
          '10',
          'git',
          'rev-list',
          '--count',
          '--ignore-missing',
          '--branches',
          '--stdin',
        ],
        { input: exclude.map((id) => `^${id}\n`).join(''), encoding: 'utf-8', timeout: 15_000, env: process.env, maxBuffer: 1024 },
      );
      const count = String(counted.stdout ?? '').trim();
      return counted.status === 0 && /^\d{1,9}$/.test(count) ? Number(count) : undefined;
    }
    const source = sandboxSourceOf(stack);
    return source ? await waitingCommits(source, exclude) : undefined;
  } catch {
    return undefined;
  }
}

/** The line the summaries print: how many commits wait, and how to fetch them. */
export function waitingLine(count: number | undefined, fetchCommand: string): string | undefined {
  if (count === undefined || count === 0) return count === 0 ? `No commit of the sandbox waits to be fetched.` : undefined;
  return `${count} commit${count === 1 ? '' : 's'} of the sandbox wait${count === 1 ? 's' : ''} to be fetched: ${fetchCommand}`;
}
