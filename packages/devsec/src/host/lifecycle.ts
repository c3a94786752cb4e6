/**
 * Starting and stopping a worktree's sandbox and the shared services: the work behind the
 * executors (`nx run <project>:up-worktree`, …) and the `devsec` command, which are thin
 * wrappers that only differ in how they were invoked.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
import { runCommand } from './engine/run';
import { describeRemoved, removeChildren } from './engine/children';
import { locateStack, prepareWorktree, rememberState, SandboxStack, stackStateDir, summary } from './stack/sandbox-stack';
import { secretsPath } from './stack/secrets';
import { checkSharedLogins } from './stack/shared-logins';
import { ensureSharedNetwork, removeSharedNetworkIfUnused, sharedNetworkName } from './engine/shared-network';
import { sharedStack } from './stack/shared-stack';
import { buildInputsHash, buildSpecs, gateInputsHash, WorktreeState } from './stack/worktree-state';

export type { Say };
/** The workspace's sandboxes, as `devsec` finds them without Nx (host/git/worktree.ts). */
export { findOurDevcontainers } from './git/worktree';
export { ruleList };
/** What the executors check of their options and of the workspace's .env files before anything else. */
export { checkConfiguredOptions, type ExecutorOptionsSchema } from './guard/configured-options';
export { checkWorkspaceEnvFiles } from './stack/workspace-env';

export interface StartOptions {
  unsafeAllow?: string[] | string;
  build?: boolean;
  wait?: boolean;
  /** Empty the stack's node_modules and fill it again from the host's install (after the lockfile changed). */
  refillNodeModules?: boolean;
  /** How the user stops it again, for failure messages (e.g. `nx run app:down-worktree`). */
  downCommand: string;
}

const GATE_VERSION = `${require('../../package.json').version} ${GATE_RULES.join(',')}`;

export async function startSandbox(workspaceRoot: string, composeFile: string, options: StartOptions, say: Say): Promise<boolean> {
  // No preflight on the way in (each docker/compose run costs tens of ms): a failure runs it, and gets its message.
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info);
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

  // What the agent started last time (--testContainers) and left behind: removed before the stack starts again.
  if (stack.testContainers) sayRemoved(stack, 'left from the last session', say);

  const network = model ? sharedNetworkName(model) : previous.network;
  const builds = model ? buildSpecs(model) : (previous.builds ?? []);

  // Build when asked, or when an image's inputs changed since the last build (compose builds missing images itself).
  const buildInputs = buildInputsHash(builds);
  const build = options.build ?? buildInputs !== previous.buildInputs;
  const args = ['up', '--detach', '--remove-orphans', ...(build ? ['--build'] : [])];
  if (stack.engine) sayEngine(stack.engine, say);
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
  const verified = verifyMountsOnce(appName, stack.mounts ?? [], stack.identity.workspaceRoot, previous.verified, runCommand, appStart);
  // Undefined fields are left out of the state line. Images skipped by --build=false may be stale: keep what was last built.
  const state: WorktreeState = {
    gateInputs,
    network,
    builds,
    buildInputs: build ? buildInputs : previous.buildInputs,
    verified,
    fill: previous.fill,
    containers: previous.containers,
  };
  rememberState(stack, state);
  try {
    const entries = options.wait === false ? undefined : await waitUntilHealthy(stack.compose, undefined, runCommand, look);
    say.info(summary(stack, entries ?? []));
    const app = entries?.find((entry) => entry.Service === APP_SERVICE);
    const fill = app ? fillNodeModulesOnce(app.ID, previous.fill, options.refillNodeModules === true, say) : previous.fill;
    const containers = entries?.map((entry) => entry.ID).sort() ?? previous.containers;
    if (fill !== previous.fill || JSON.stringify(containers) !== JSON.stringify(previous.containers)) rememberState(stack, { ...state, fill, containers });
  } catch (error) {
    forgetEngine();
    say.error(`To remove what did start: ${options.downCommand}`);
    throw error;
  }
  return true;
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
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info);
  // The agent's own containers first: they hold the stack's children network, which down removes.
  sayRemoved(stack, 'made by the agent', say);
  const args = ['down', '--remove-orphans'];
  if (options.volumes) args.push('--volumes');
  // Only images built for this stack (no image: of their own), never the base images.
  if (options.images) args.push('--rmi', 'local');
  const { code } = await streamCompose(stack.compose, args);
  if (code !== 0) return false;
  // The stack's state (its private git dir) ends with it; the next start seeds a fresh one from this worktree.
  rmSync(stackStateDir(stack), { recursive: true, force: true });
  const also = [options.volumes && 'its volumes', options.images && 'its built images'].filter(Boolean).join(' and ');
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
  const stack = sharedStack(workspaceRoot, composeFile, say.info);
  const trust = sharedFileTrust(readFileSync(stack.compose.files[0], 'utf-8'));
  if (!trust.trusted) say.warn(`${trust.message} Starting it because you asked for it by name; the policy gate still applies.`);
  if (stack.network) ensureSharedNetwork(stack.network, runCommand, say.info);
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
  return stack;
}

/** The stack's running dev container (for `devsec agent`), or undefined; nothing is written. */
export function runningDevContainer(workspaceRoot: string, composeFile: string): { name: string; stack: SandboxStack } | undefined {
  const stack = locateStack(workspaceRoot, composeFile);
  const app = stackContainers(stack.compose).find((entry) => entry.Service === APP_SERVICE && entry.State === 'running');
  return app ? { name: app.Name, stack } : undefined;
}
