/**
 * Starting and stopping a worktree's sandbox and the shared services: the work behind the
 * executors (`nx run <project>:up-worktree`, …) and the `devsec` command, which are thin
 * wrappers that only differ in how they were invoked.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../sandbox/errors';
import { sharedFileTrust } from '../sandbox/shared-trust';
import { FILL_NODE_MODULES_SCRIPT } from '../sandbox/node-modules';
import { visibleText } from '../sandbox/visible';
import { APP_SERVICE, CONTAINER_USER, ENV_FILE, PUBLISHED_NETWORK, SHARED_NETWORK } from '../sandbox/vocabulary';
import { namesOf } from '../sandbox/compose-model';
import { composeArgs, diagnoseComposeFailure, lastLogLines, runCompose, streamCompose, waitUntilHealthy } from './compose-project';
import { preflight } from './engine';
import { ENGINES } from '../sandbox/engines';
import { describeEngine, EngineProfile, forgetEngine, localEndpoint } from './engine-discovery';
import { GATE_RULES, policyGate, sharedGate } from './gate';
import { verifyMounts } from './mount-pins';
import { shellWord } from '../sandbox/visible';
import { describeUnsafeGitlink, GitlinkScan, scanGitlinks } from './gitlinks';
import { runCommand } from './run';
import { prepareWorktree, rememberState, SandboxStack, stackStateDir, summary } from './sandbox-stack';
import { secretsPath } from './secrets';
import { checkSharedLogins } from './shared-logins';
import { ensureSharedNetwork, removeSharedNetworkIfUnused, sharedNetworkName } from './shared-network';
import { sharedStack } from './shared-stack';
import { buildInputsHash, buildSpecs, gateInputsHash, WorktreeState } from './worktree-state';

export interface Say {
  info: (line: string) => void;
  warn: (line: string) => void;
  error: (line: string) => void;
}

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

/** `--unsafe-allow=a,b` arrives as ['a,b'] from the CLI and as ['a', 'b'] from code. */
export function ruleList(value: string[] | string | undefined): string[] {
  return [value ?? []]
    .flat()
    .flatMap((rule) => rule.split(','))
    .filter(Boolean);
}

/**
 * Refuses `.git`s below the root that are not registered submodules (unless allowed by name) —
 * first those a gitlink of the index or a branch leads the host's git into (host/gitlinks.ts).
 */
export function gateNestedGit(stack: SandboxStack, unsafeAllow: string[], say: Say, gitlinks: GitlinkScan = scanGitlinks(stack.identity.git)): void {
  const linked = new Set(gitlinks.unsafe.map((gitlink) => gitlink.dotGit));
  const strays = (stack.nestedGit?.strays ?? []).filter((stray) => !linked.has(stray));
  const truncated = stack.nestedGit?.truncated;
  const unseen = [...(truncated ? [`the search ${truncated}`] : []), ...gitlinks.unreadable.map((what) => `could not read ${what}`)];
  if (strays.length === 0 && linked.size === 0 && unseen.length === 0) return;
  if (unsafeAllow.includes('nested-git')) {
    say.warn(
      `UNSAFE: nested-git allowed by --unsafe-allow: ${[...gitlinks.unsafe.map(describeUnsafeGitlink), ...strays.map(shellWord), ...unseen].join(', ')}`,
    );
    return;
  }
  if (linked.size > 0) {
    throw new SandboxError(
      "Refusing to start: a gitlink (submodule entry) in your index or a branch leads into a repository that is not a registered submodule: after `git reset` or a checkout, the host's `git status` and VS Code run git in that folder with its config (core.fsmonitor):\n" +
        [...gitlinks.unsafe.map((gitlink) => `  - ${describeUnsafeGitlink(gitlink)}`), ...strays.map((path) => `  - ${shellWord(path)}`)].join('\n') +
        '\nRun no git in this worktree but `git status --ignore-submodules=all` until that .git is gone: remove it (if an agent made it, it is not yours), then drop the commit that added the gitlink. ' +
        'To start anyway: --unsafe-allow=nested-git.',
    );
  }
  // A search cut short proves nothing: a .git may sit just past where it stopped (an agent can nest one that deep).
  if (strays.length === 0) {
    throw new SandboxError(
      `Refusing to start: looking for nested .git folders, ${unseen.join('; ')}, so one may sit beyond it, where the host's git or VS Code would run git on its terms. ` +
        'Find out what made the workspace that deep or that large (devsec check lists nested .git folders), or start anyway with --unsafe-allow=nested-git.',
    );
  }
  throw new SandboxError(
    `Refusing to start: a .git below the workspace root is not a registered submodule, and the host's git or VS Code would run git there on its terms:\n` +
      // Names the agent chose, each one shell word: a line pasted into a shell names it, never runs it.
      strays.map((path) => `  - ${shellWord(path)}`).join('\n') +
      '\nRemove it (if an agent made it, it is not yours), or make your own repository a submodule (git submodule add). ' +
      'To start anyway: --unsafe-allow=nested-git.',
  );
}

export async function startSandbox(workspaceRoot: string, composeFile: string, options: StartOptions, say: Say): Promise<boolean> {
  // No preflight on the way in (each docker/compose run costs tens of ms): a failure runs it, and gets its message.
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info);
  const previous: WorktreeState = stack.state ?? {};
  const unsafeAllow = ruleList(options.unsafeAllow);
  gateNestedGit(stack, unsafeAllow, say);
  // Its services are not started with this sandbox until the file is reviewed: say why.
  if (stack.sharedTrust && !stack.sharedTrust.trusted) say.warn(stack.sharedTrust.message);
  if (stack.egress === 'open') {
    say.warn(
      `EGRESS OPEN: ${stack.project}'s sandbox was generated with --egress=open: the agent reaches any host, and can send it what it reads. ` +
        'Generate it again without --egress=open for the allowlist.',
    );
  }

  // The gate: skipped only when everything it would read is what it passed last time.
  const gateInputs =
    unsafeAllow.length === 0 ? gateInputsHash(stack.compose.files, join(stack.devcontainerDir, ENV_FILE), stack.compose.env ?? {}, GATE_VERSION) : undefined;
  let network = previous.network;
  let builds = previous.builds ?? [];
  if (!gateInputs || gateInputs !== previous.gateInputs) {
    const { model, allowed } = policyGate(stack, unsafeAllow, runCommand, undefined, say.info);
    for (const finding of allowed) say.warn(`UNSAFE: ${finding.rule} allowed by --unsafe-allow: ${finding.message}`);
    network = sharedNetworkName(model);
    builds = buildSpecs(model);
  }

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
  // Before anything runs in it: what the engine mounted is what we named (mount-pins.ts).
  verifyMounts(`${stack.identity.composeProjectName}-${APP_SERVICE}-1`, stack.mounts ?? [], stack.identity.workspaceRoot);
  // Undefined fields are left out of the state line. Images skipped by --build=false may be stale: keep what was last built.
  rememberState(stack, { gateInputs, network, builds, buildInputs: build ? buildInputs : previous.buildInputs });
  try {
    const entries = options.wait === false ? undefined : await waitUntilHealthy(stack.compose);
    say.info(summary(stack, entries ?? []));
    const app = entries?.find((entry) => entry.Service === APP_SERVICE);
    if (app) fillNodeModules(app.Name, options.refillNodeModules === true, say);
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

/**
 * Fills the dev container's node_modules on its first start (sandbox/node-modules.ts), inside,
 * as its user; says what it did. A failure leaves the stack up and says how to install by hand.
 */
function fillNodeModules(container: string, refill: boolean, say: Say): void {
  const args = ['exec', '-u', CONTAINER_USER, ...(refill ? ['-e', 'DEVSEC_REFILL=1'] : []), container, 'sh', '-c', FILL_NODE_MODULES_SCRIPT];
  const result = runCommand('docker', args);
  const output = visibleText(`${result.stdout}${result.stderr}`.trim());
  if (result.status === 0) say.info(output.split('\n').pop() ?? '');
  else say.warn(`node_modules inside could not be filled (${output.split('\n').slice(-3).join(' ')}). Inside the container: npm ci`);
}

export async function stopSandbox(workspaceRoot: string, composeFile: string, options: { volumes?: boolean; images?: boolean }, say: Say): Promise<boolean> {
  preflight();
  const stack = prepareWorktree(workspaceRoot, composeFile, runCommand, say.info);
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

export async function startShared(workspaceRoot: string, composeFile: string, say: Say): Promise<boolean> {
  // A remote engine cannot bind this machine's files: refused before anything is asked of it or created there.
  localEndpoint();
  preflight();
  const stack = sharedStack(workspaceRoot, composeFile, say.info);
  const trust = sharedFileTrust(readFileSync(stack.compose.files[0], 'utf-8'));
  if (!trust.trusted) say.warn(`${trust.message} Starting it because you asked for it by name; the policy gate still applies.`);
  if (stack.network) ensureSharedNetwork(stack.network, runCommand, say.info);
  const { model } = sharedGate(stack, workspaceRoot, []);
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
