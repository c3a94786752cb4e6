/**
 * One Compose project, whichever it is — a worktree's sandbox stack or the shared services —
 * and what the executors do with it: build its arguments, run and stream it, list its
 * containers, wait for them, show its last log lines, explain a failure.
 */
import { COMPOSE_PROJECT_LABEL, COMPOSE_SERVICE_LABEL, OWNER_LABEL } from '../../sandbox/vocabulary';
import { SandboxError } from '../../sandbox/errors';
import { visibleText } from '../../sandbox/visible';
import { CommandResult, runCommand, Runner, streamCommand, StreamResult } from './run';

export interface ComposeProject {
  /** The compose project name (`-p`). */
  name: string;
  /** Its compose files, in order (`-f`). */
  files: string[];
  /** Where compose runs. */
  cwd?: string;
  /** The environment compose runs with; the process's own when absent. */
  env?: NodeJS.ProcessEnv;
  /** The prefix of its streamed output lines, e.g. `[app] `. */
  prefix: string;
}

export function composeArgs(project: ComposeProject, ...args: string[]): string[] {
  return ['compose', '-p', project.name, ...project.files.flatMap((file) => ['-f', file]), ...args];
}

/** Runs a compose command to its end and collects its output. */
export function runCompose(project: ComposeProject, args: string[], run: Runner = runCommand): CommandResult {
  return run('docker', composeArgs(project, ...args), { cwd: project.cwd, env: project.env });
}

/** Runs a compose command, streaming each line of its output with the project's prefix. */
export function streamCompose(project: ComposeProject, args: string[]): Promise<StreamResult> {
  return streamCommand('docker', composeArgs(project, ...args), { cwd: project.cwd, env: project.env, prefix: project.prefix });
}

export interface PsEntry {
  /** The container's full id. */
  ID: string;
  Service: string;
  Name: string;
  State: string;
  /** healthy, unhealthy, starting, or '' without a health check. */
  Health: string;
  Status: string;
  /** When it last started (`docker inspect` only: `docker ps` does not say). */
  StartedAt?: string;
}

/**
 * The project's containers, from `docker ps` (a fifth of the time of `docker compose ps`): the
 * service from Compose's label, the health from the status text. Never one the agent made
 * (the owner label the proxy stamps): it may label its own containers as another project's.
 */
export function stackContainers(project: ComposeProject, run: Runner = runCommand): PsEntry[] {
  const ps = run('docker', ['ps', '--all', '--no-trunc', '--filter', `label=${COMPOSE_PROJECT_LABEL}=${project.name}`, '--format', '{{json .}}']);
  if (ps.status !== 0) return [];
  const serviceLabel = new RegExp(`(?:^|,)${COMPOSE_SERVICE_LABEL.replace(/\./g, '\\.')}=([^,]*)`);
  const ownerLabel = new RegExp(`(?:^|,)${OWNER_LABEL.replace(/\./g, '\\.')}=`);
  return ps.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { ID: string; Names: string; State: string; Status: string; Labels: string })
    .filter((entry) => !ownerLabel.test(entry.Labels))
    .map((entry) => ({
      ID: entry.ID,
      Service: serviceLabel.exec(entry.Labels)?.[1] ?? entry.Names,
      Name: entry.Names,
      State: entry.State,
      Health: /\((healthy|unhealthy|health: starting)\)/.exec(entry.Status)?.[1].replace('health: ', '') ?? '',
      Status: entry.Status,
    }))
    .sort((a, b) => a.Service.localeCompare(b.Service));
}

/** What `docker inspect` says of a container: the fields read here. */
interface Inspected {
  Id?: unknown;
  Name?: unknown;
  Config?: { Labels?: Record<string, unknown> | null } | null;
  State?: { Status?: unknown; StartedAt?: unknown; ExitCode?: unknown; Health?: { Status?: unknown } | null } | null;
}

/**
 * The given containers of the project, from one `docker inspect` (one call, as `docker ps` is,
 * that also says when each started), or undefined when any is gone or not the project's: then
 * the set has changed, and only `docker ps` lists it.
 */
export function inspectContainers(project: ComposeProject, ids: string[], run: Runner = runCommand): PsEntry[] | undefined {
  if (ids.length === 0) return undefined;
  const inspect = run('docker', ['inspect', '--type', 'container', ...ids]);
  if (inspect.status !== 0) return undefined;
  let found: Inspected[];
  try {
    found = JSON.parse(inspect.stdout) as Inspected[];
  } catch {
    return undefined;
  }
  if (!Array.isArray(found) || found.length !== ids.length) return undefined;
  const entries: PsEntry[] = [];
  for (const container of found) {
    const labels = container.Config?.Labels ?? {};
    const state = container.State ?? {};
    const [id, name, status, startedAt, service] = [container.Id, container.Name, state.Status, state.StartedAt, labels[COMPOSE_SERVICE_LABEL]];
    if (labels[COMPOSE_PROJECT_LABEL] !== project.name || labels[OWNER_LABEL] !== undefined) return undefined;
    if (typeof id !== 'string' || typeof name !== 'string' || typeof status !== 'string' || typeof startedAt !== 'string' || typeof service !== 'string')
      return undefined;
    const health = typeof state.Health?.Status === 'string' ? state.Health.Status : '';
    // docker ps's words for what the wait reads: `Exited (<code>)` for a container that ended.
    const ended = status === 'exited' || status === 'dead' ? `Exited (${typeof state.ExitCode === 'number' ? state.ExitCode : '?'})` : status;
    entries.push({ ID: id, Service: service, Name: name.replace(/^\//, ''), State: status, Health: health, Status: ended, StartedAt: startedAt });
  }
  return entries.sort((a, b) => a.Service.localeCompare(b.Service));
}

/**
 * Waits until every container runs (healthy where it has a check) — what `up --wait` does, but
 * a stack that is already up answers on the first look instead of after Compose's polling.
 * One-shot containers that exited 0 count as done. `firstLook`, when given, is the first look
 * (inspectContainers); every later one is `docker ps`.
 */
export async function waitUntilHealthy(project: ComposeProject, timeoutMs = 300_000, run: Runner = runCommand, firstLook?: PsEntry[]): Promise<PsEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (let look = firstLook; ; look = undefined) {
    const entries = look ?? stackContainers(project, run);
    const failed = entries.find((e) => e.Health === 'unhealthy' || ((e.State === 'exited' || e.State === 'dead') && !/^Exited \(0\)/.test(e.Status)));
    if (failed) {
      throw new SandboxError(
        `${failed.Service} is ${failed.Health === 'unhealthy' ? 'unhealthy' : `not running (${failed.Status})`}.${logLinesAfter(project, failed.Service, run)}`,
      );
    }
    const pending = entries.filter((e) => e.Health === 'starting' || (e.State !== 'running' && !/^Exited \(0\)/.test(e.Status)));
    if (entries.length > 0 && pending.length === 0) return entries;
    if (Date.now() > deadline) {
      throw new SandboxError(
        `Still waiting for ${pending.map((e) => e.Service).join(', ') || 'the stack'} after ${timeoutMs / 1000} s.${logLinesAfter(project, pending[0]?.Service, run)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function logLinesAfter(project: ComposeProject, service: string | undefined, run: Runner): string {
  const logs = lastLogLines(project, service, run);
  return logs.trim() ? ` Its last log lines:\n${logs}` : '';
}

/** The project's last 30 log lines (of one service, or of all), for a failure message. */
export function lastLogLines(project: ComposeProject, service?: string, run: Runner = runCommand): string {
  // What the containers printed: shown as text, control characters made visible.
  return visibleText(runCompose(project, ['logs', '--no-color', '--tail', '30', ...(service ? [service] : [])], run).stdout.trimEnd());
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
