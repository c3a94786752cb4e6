import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ensureSharedSecrets } from './shared-secrets';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';
import { COMPOSE_FILE, MANAGED_LABEL, PROJECT_LABEL, SERVICES_COMPOSE_FILE } from './constants';
import { checkSandbox, ComposeModel, Finding } from './sandbox-rules';
import { readState, withState, WorktreeState } from './worktree-state';
import { CommandResult, runCommand, Runner } from './run';
import {
  composeProjectName,
  dockerSocketGid,
  ENV_FILE,
  findOurDevcontainers,
  SHARED_COMPOSE_FILE,
  sandboxEnvFile,
  WORKTREE_COMPOSE_FILE,
  worktreeIdentity,
  WorktreeIdentity,
  worktreeOverrideFile,
} from './worktree';

export class SandboxError extends Error {
  override name = 'SandboxError';
}

/** Docker CLI present, daemon up, Compose v2: each missing piece gets its own fix. */
export function preflight(run: Runner = runCommand): void {
  preflightEngine(run);
  preflightCompose(run);
}

/** The docker CLI and its daemon (one `docker version`). */
export function preflightEngine(run: Runner = runCommand): void {
  const version = run('docker', ['version', '--format', '{{.Server.Version}}']);
  if (version.error?.code === 'ENOENT') {
    throw new SandboxError('The docker CLI is not installed (no `docker` on PATH). Install Docker Engine or Docker Desktop, then run again.');
  }
  if (version.status !== 0) {
    throw new SandboxError(
      `The Docker daemon does not answer: ${lastLine(version)}. Start it (e.g. \`sudo systemctl start docker\`, or open Docker Desktop), then run again.`,
    );
  }
}

/** Compose v2 (`docker compose`). up-worktree asks only when a compose command failed: each start of the plugin costs ~80 ms. */
export function preflightCompose(run: Runner = runCommand): void {
  const compose = run('docker', ['compose', 'version', '--short']);
  const composeVersion = compose.stdout.trim().replace(/^v/, '');
  if (compose.status !== 0 || !/^[2-9]\./.test(composeVersion)) {
    throw new SandboxError(
      'Compose v2 (`docker compose`) is needed: the sandbox relies on top-level `name:`, `--wait` and healthchecks. ' +
        (compose.status === 0 ? `Found Compose ${composeVersion}. ` : '') +
        'Install the docker-compose-plugin package (Debian 13 and Ubuntu ship it as docker-compose v2; Debian 12\'s docker-compose is v1).',
    );
  }
}

function lastLine(result: CommandResult): string {
  return (result.stderr || result.stdout).trim().split('\n').pop() ?? `exit ${result.status}`;
}

export interface SandboxStack {
  identity: WorktreeIdentity;
  devcontainerDir: string;
  composeFiles: string[];
  project: string;
  /** What the last start in this worktree remembered (worktree-state.ts); empty before the first. */
  state?: WorktreeState;
}

/**
 * Which stack a compose file is in this worktree: the identity and the compose project name,
 * without writing anything (the live audit only looks).
 */
export function locateStack(cwd: string, composeFileFromRoot: string, run: Runner = runCommand): SandboxStack {
  const found = worktreeIdentity(cwd, '', run);
  const composeFile = join(found.workspaceRoot, composeFileFromRoot);
  const model = parse(readFileSync(composeFile, 'utf-8')) as { services?: Record<string, { labels?: Record<string, string> }> };
  // The project name comes from the file itself, so VS Code and the executor agree on it.
  const project = model.services?.app?.labels?.[PROJECT_LABEL] ?? basename(dirname(dirname(composeFile)));
  const identity = { ...found, composeProjectName: composeProjectName(project, found.workspaceRoot) };
  const devcontainerDir = dirname(composeFile);
  return {
    identity,
    devcontainerDir,
    project,
    composeFiles: [COMPOSE_FILE, SERVICES_COMPOSE_FILE, WORKTREE_COMPOSE_FILE]
      .map((file) => join(devcontainerDir, file))
      // The override file is written by prepareWorktree, before any compose command.
      .filter((file) => existsSync(file) || file.endsWith(WORKTREE_COMPOSE_FILE)),
  };
}

/**
 * Writes this worktree's `.env` and override file next to the compose file, and returns what
 * `docker compose` needs. Shared by the executors and the initializeCommand of devcontainer.json.
 */
export function prepareWorktree(cwd: string, composeFileFromRoot: string, run: Runner = runCommand): SandboxStack {
  const stack = locateStack(cwd, composeFileFromRoot, run);
  const { identity, devcontainerDir } = stack;
  mkdirSync(devcontainerDir, { recursive: true });
  const sharedCompose = join(identity.workspaceRoot, SHARED_COMPOSE_FILE);
  const secrets = existsSync(sharedCompose) ? ensureSharedSecrets(identity.gitCommonDir, readFileSync(sharedCompose, 'utf-8')) : {};
  writeFileSync(join(devcontainerDir, ENV_FILE), sandboxEnvFile(identity, dockerSocketGid(), secrets), { mode: 0o600 });
  const overridePath = join(devcontainerDir, WORKTREE_COMPOSE_FILE);
  const state = readState(existsSync(overridePath) ? readFileSync(overridePath, 'utf-8') : undefined);
  writeFileSync(overridePath, withState(worktreeOverrideFile(identity, findOurDevcontainers(identity.workspaceRoot)), state));
  return { ...stack, state };
}

/** Records what this start should remember, on the state line of the override file prepareWorktree wrote. */
export function rememberState(stack: SandboxStack, state: WorktreeState): void {
  const overridePath = join(stack.devcontainerDir, WORKTREE_COMPOSE_FILE);
  writeFileSync(overridePath, withState(readFileSync(overridePath, 'utf-8'), state));
}

export function composeArgs(stack: SandboxStack, ...args: string[]): string[] {
  return ['compose', '-p', stack.identity.composeProjectName, ...stack.composeFiles.flatMap((file) => ['-f', file]), ...args];
}

/** The shared network of the stack (its `shared` network's name). */
export function sharedNetworkName(model: ComposeModel): string | undefined {
  const shared = model.networks?.shared;
  return shared?.name;
}

/**
 * Creates the shared network when missing (labelled as ours); uses an unlabelled bridge network
 * and says so; refuses a network of another driver.
 */
export function ensureSharedNetwork(name: string, run: Runner = runCommand, say: (line: string) => void = console.log): void {
  const inspect = run('docker', ['network', 'inspect', name, '--format', '{{.Driver}} {{index .Labels "' + MANAGED_LABEL + '"}}']);
  if (inspect.status === 0) {
    const [driver, label] = inspect.stdout.trim().split(' ');
    if (driver !== 'bridge') {
      throw new SandboxError(
        `The shared network "${name}" exists with driver "${driver}", not bridge. Remove it (docker network rm ${name}) or pick another name with the generator's --network.`,
      );
    }
    if (label !== 'true') say(`Using the existing network "${name}" (not created by @org/devsec).`);
    return;
  }
  const create = run('docker', ['network', 'create', '--driver', 'bridge', '--label', `${MANAGED_LABEL}=true`, name]);
  // Another worktree may have created it in the meantime.
  if (create.status !== 0 && !/already exists/.test(create.stderr)) {
    throw new SandboxError(`Could not create the shared network "${name}": ${lastLine(create)}`);
  }
  say(`Created the shared network "${name}".`);
}

/**
 * Removes the shared network once nothing is attached, if we created it; a network that other
 * containers still use, or that was there before us, stays.
 */
export function removeSharedNetworkIfUnused(name: string, run: Runner = runCommand, say: (line: string) => void = console.log): void {
  const inspect = run('docker', ['network', 'inspect', name, '--format', `{{index .Labels "${MANAGED_LABEL}"}} {{len .Containers}}`]);
  if (inspect.status !== 0) return;
  const [label, attached] = inspect.stdout.trim().split(' ');
  if (label !== 'true') return;
  if (attached !== '0') {
    say(`Kept the shared network "${name}": ${attached} container(s) still use it (a worktree's sandbox is up).`);
    return;
  }
  const removed = run('docker', ['network', 'rm', name]);
  if (removed.status === 0) say(`Removed the shared network "${name}".`);
}

export const GATE_RULES = [
  'socket-mount', 'privileged', 'host-namespace', 'dangerous-capability', 'ssh-mount', 'proxy-on-shared-network',
] as const;

/**
 * The policy gate: reads the effective model (`docker compose config --format json`) and
 * refuses a stack that breaks a rule, unless that rule is explicitly allowed.
 */
export function policyGate(stack: SandboxStack, unsafeAllow: string[], run: Runner = runCommand): { model: ComposeModel; allowed: Finding[] } {
  const unknown = unsafeAllow.filter((rule) => !(GATE_RULES as readonly string[]).includes(rule));
  if (unknown.length > 0) {
    throw new SandboxError(`--unsafe-allow=${unknown.join(',')}: unknown rule. Rules: ${GATE_RULES.join(', ')}.`);
  }
  const config = run('docker', composeArgs(stack, 'config', '--format', 'json'));
  if (config.status !== 0) {
    // Is the docker CLI there, and Compose v2? Their own messages say what to install.
    preflight(run);
    throw new SandboxError(`docker compose config failed for ${stack.composeFiles[0]}:\n${config.stderr.trim()}`);
  }
  const model = JSON.parse(config.stdout) as ComposeModel;
  const findings = checkSandbox({ composeFile: stack.composeFiles[0], compose: model }).filter((finding) =>
    (GATE_RULES as readonly string[]).includes(finding.rule),
  );
  const blocking = findings.filter((finding) => !unsafeAllow.includes(finding.rule));
  if (blocking.length > 0) {
    const lines = blocking.map((f) => `  - ${f.file}: ${f.key} (${f.rule}): ${f.message} Fix: ${f.fix}`);
    throw new SandboxError(
      `Refusing to start: the sandbox would not hold.\n${lines.join('\n')}\n` +
        'To start anyway, allow one rule explicitly: --unsafe-allow=<rule>.',
    );
  }
  return { model, allowed: findings };
}

interface PsEntry {
  Service: string;
  Name: string;
  State: string;
  /** healthy, unhealthy, starting, or '' without a health check. */
  Health: string;
  Status: string;
}

/**
 * The stack's containers, from `docker ps` (a fifth of the time of `docker compose ps`): the
 * service from Compose's label, the health from the status text.
 */
export function stackContainers(stack: SandboxStack, run: Runner = runCommand): PsEntry[] {
  const ps = run('docker', ['ps', '--all', '--filter', `label=com.docker.compose.project=${stack.identity.composeProjectName}`, '--format', '{{json .}}']);
  if (ps.status !== 0) return [];
  return ps.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { Names: string; State: string; Status: string; Labels: string })
    .map((entry) => ({
      Service: /(?:^|,)com\.docker\.compose\.service=([^,]*)/.exec(entry.Labels)?.[1] ?? entry.Names,
      Name: entry.Names,
      State: entry.State,
      Health: /\((healthy|unhealthy|health: starting)\)/.exec(entry.Status)?.[1].replace('health: ', '') ?? '',
      Status: entry.Status,
    }))
    .sort((a, b) => a.Service.localeCompare(b.Service));
}

/**
 * Waits until every container runs (healthy where it has a check) — what `up --wait` does, but
 * a stack that is already up answers on the first look instead of after Compose's polling.
 * One-shot containers that exited 0 count as done.
 */
export async function waitUntilHealthy(stack: SandboxStack, timeoutMs = 300_000, run: Runner = runCommand): Promise<PsEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = stackContainers(stack, run);
    const failed = entries.find((e) => e.Health === 'unhealthy' || ((e.State === 'exited' || e.State === 'dead') && !/^Exited \(0\)/.test(e.Status)));
    if (failed) {
      throw new SandboxError(`${failed.Service} is ${failed.Health === 'unhealthy' ? 'unhealthy' : `not running (${failed.Status})`}.${logLinesAfter(stack, failed.Service, run)}`);
    }
    const pending = entries.filter((e) => e.Health === 'starting' || (e.State !== 'running' && !/^Exited \(0\)/.test(e.Status)));
    if (entries.length > 0 && pending.length === 0) return entries;
    if (Date.now() > deadline) {
      throw new SandboxError(`Still waiting for ${pending.map((e) => e.Service).join(', ') || 'the stack'} after ${timeoutMs / 1000} s.${logLinesAfter(stack, pending[0]?.Service, run)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function logLinesAfter(stack: SandboxStack, service: string | undefined, run: Runner): string {
  const logs = lastLogLines(stack, service, run);
  return logs.trim() ? ` Its last log lines:\n${logs}` : '';
}

/** The stack's last 30 log lines (of one service, or of all), for a failure message. */
export function lastLogLines(stack: SandboxStack, service?: string, run: Runner = runCommand): string {
  return run('docker', composeArgs(stack, 'logs', '--no-color', '--tail', '30', ...(service ? [service] : []))).stdout.trimEnd();
}

export function summary(stack: SandboxStack, entries: PsEntry[]): string {
  const rows = entries.map((e) => `  ${e.Service.padEnd(16)} ${e.State.padEnd(10)} ${e.Health || '-'}`);
  const app = entries.find((e) => e.Service === 'app');
  return [
    `Sandbox ${stack.identity.composeProjectName} (${stack.identity.workspaceRoot}${stack.identity.branch ? `, branch ${stack.identity.branch}` : ''})`,
    `  ${'SERVICE'.padEnd(16)} ${'STATE'.padEnd(10)} HEALTH`,
    ...rows,
    'Get in:',
    `  docker exec -it ${app?.Name ?? `${stack.identity.composeProjectName}-app-1`} bash`,
    `  or open ${stack.devcontainerDir.replace(stack.identity.workspaceRoot + '/', '')}/devcontainer.json with "Reopen in Container".`,
  ].join('\n');
}

/**
 * Turns a failed `docker compose up` into what to do about it. Whatever failed, a re-run
 * picks up where this one stopped: compose converges on the same state.
 */
export function diagnoseComposeFailure(code: number, lines: string[]): string {
  const find = (pattern: RegExp) => lines.find((line) => pattern.test(line));
  const port = find(/port is already allocated|address already in use/i);
  if (port) {
    return `A published port is already in use on this machine (${port.trim()}). Stop what uses it, or give the service another --port (or drop --publish); then run again.`;
  }
  const build = find(/failed to solve|returned a non-zero code|failed to build|error building/i);
  if (build) {
    return `Building an image failed (${build.trim()}). Fix the Dockerfile or --aptPackages, then run again: nothing else needs cleaning up.`;
  }
  if (code === 130 || code === 143) return 'Interrupted. Run the same command again to finish: compose picks up where it stopped.';
  const unhealthy = find(/is unhealthy|dependency failed to start|exited with code/i);
  if (unhealthy) return `A service did not become healthy (${unhealthy.trim()}). Its last log lines follow; fix the cause, then run again.`;
  return `docker compose failed (exit ${code}). The output above says why; fix it, then run again.`;
}