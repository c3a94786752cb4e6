/**
 * Which engine the docker CLI talks to, and its API socket as that engine's containers see it.
 * The endpoint comes from DOCKER_HOST or the current docker context (files of yours, read like
 * the CLI reads them); a remote one is refused, since it cannot bind this machine's workspace.
 * The socket's owner, group and mode are learned from inside the engine — a throwaway container
 * of the proxy's base image stats the bind source — never from this machine's filesystem, where
 * a VM-based or rootless engine's socket has other owners. What is learned is kept per endpoint
 * in the state directory until the endpoint's socket is re-created (the engine restarted).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_SOCKET, ENGINE_SOCKET_OVERRIDE, ENGINES, EngineKind, PODMAN_SOCKET, PROXY_SOCKET_TARGET } from '../../sandbox/engines';
import { SandboxError } from '../../sandbox/errors';
import { CONTAINER_USER } from '../../sandbox/vocabulary';
import { visible } from '../../sandbox/visible';
import { lastLine, preflightEngine } from './engine';
import { runCommand, Runner } from './run';
import { readStateFile, stateDir, writeStateFile } from './state-dir';

/** The engine the docker CLI would talk to, and what made it that one. */
export interface Endpoint {
  host: string;
  from: string;
}

/** `docker version --format '{{json .}}'` and `docker info --format '{{json .}}'`: the fields read here. */
export interface EngineReport {
  version: { Server?: { Platform?: { Name?: string }; Components?: Array<{ Name?: string }>; Os?: string; KernelVersion?: string } | null };
  info: {
    ID?: string;
    Name?: string;
    OperatingSystem?: string;
    SecurityOptions?: string[] | null;
    KernelVersion?: string;
    CgroupDriver?: string;
    CgroupVersion?: string;
  };
}

/** The socket as a container on the engine sees it. */
export interface SocketStat {
  uid: number;
  gid: number;
  mode: number;
}

/** What the proxy runs as: a user of its image (`node`) with the socket's group, or the socket's owner. */
export interface ProxyAccess {
  user: string;
  group: number;
}

export interface EngineProfile {
  kind: EngineKind;
  endpoint: Endpoint;
  /** The engine's own ID (docker info), when it has one. */
  id: string;
  /** The bind source of the proxy's socket mount, as the engine resolves it. */
  socket: string;
  stat: SocketStat;
  access: ProxyAccess;
  /** Does the engine enforce mem_limit, pids_limit and cpus (no cgroup driver, e.g. rootless on cgroup v1: accepted, not enforced). */
  enforcesLimits: boolean;
}

const DEFAULT_ENDPOINT = `unix://${DOCKER_SOCKET}`;
/** A socket path that a compose volume line and a .env line carry as it is: absolute, a file, no `.` or `..` segment. */
const SOCKET_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9@._+-]+)+$/;

/** The docker CLI's own order: DOCKER_HOST, then DOCKER_CONTEXT, then the config's currentContext. */
export function resolveEndpoint(env: NodeJS.ProcessEnv = process.env, read: (path: string) => string = (path) => readFileSync(path, 'utf-8')): Endpoint {
  if (env.DOCKER_HOST) return { host: env.DOCKER_HOST, from: `DOCKER_HOST=${env.DOCKER_HOST}` };
  const configDir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  let context = env.DOCKER_CONTEXT;
  if (!context) {
    try {
      context = (JSON.parse(read(join(configDir, 'config.json'))) as { currentContext?: string }).currentContext;
    } catch {
      context = undefined; // no config: the default context
    }
  }
  if (!context || context === 'default') return { host: DEFAULT_ENDPOINT, from: 'the default context' };
  // The CLI stores a context under the SHA-256 of its name.
  const meta = join(configDir, 'contexts', 'meta', createHash('sha256').update(context).digest('hex'), 'meta.json');
  let host: unknown;
  try {
    host = (JSON.parse(read(meta)) as { Endpoints?: { docker?: { Host?: unknown } } }).Endpoints?.docker?.Host;
  } catch {
    throw new SandboxError(
      `The docker context "${context}" has no readable ${meta}. Choose an existing one (docker context ls; docker context use default), then run again.`,
    );
  }
  if (typeof host !== 'string' || host === '')
    throw new SandboxError(`The docker context "${context}" names no Docker endpoint (${meta}). Choose another (docker context ls).`);
  return { host, from: `the docker context "${context}"` };
}

/** The endpoint the docker CLI would use, refused when it is not on this machine. */
export function localEndpoint(env: NodeJS.ProcessEnv = process.env): Endpoint {
  const endpoint = resolveEndpoint(env);
  localSocketPath(endpoint);
  return endpoint;
}

/** The path of a unix-socket endpoint on this machine; a loopback TCP endpoint is local too, without one. */
export function localSocketPath(endpoint: Endpoint): string | undefined {
  if (/^npipe:/.test(endpoint.host))
    throw new SandboxError(
      `${visible(endpoint.from)} is a Windows named pipe: run devsec from WSL 2 (Docker Desktop's WSL integration), with the workspace in WSL's filesystem.`,
    );
  const unix = /^unix:\/\/(\/.*)$/.exec(endpoint.host);
  if (unix) return unix[1];
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)(:\d+)?\/?$/.exec(endpoint.host);
  if (tcp && /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(tcp[1])) return undefined;
  throw new SandboxError(
    `The Docker engine is not on this machine (${visible(endpoint.from)}): a remote engine cannot bind this machine's workspace, git directory ` +
      "and state into the sandbox, so the stack would start broken. Use a local engine (unset DOCKER_HOST, or 'docker context use default'), " +
      'or run devsec on the machine the engine runs on, with the workspace there. ' +
      'A sandbox generated with --workspace=clone binds nothing from this machine into its dev container, and is the coming way to a remote engine; ' +
      'this version still starts every sandbox on a local engine only.',
  );
}

const componentNames = (report: EngineReport) => (report.version.Server?.Components ?? []).map((component) => component.Name ?? '');

/** The engine's kind, from what it says of itself and where the CLI reaches it. */
export function engineKind(endpoint: Endpoint, report: EngineReport): EngineKind {
  const { info } = report;
  const rootless = (info.SecurityOptions ?? []).some((option) => /(^|,)name=rootless(,|$)/.test(option));
  // Podman's info never says rootless (seen on 4.3): its rootless socket sits in a user's runtime directory.
  if (componentNames(report).some((name) => /podman/i.test(name)))
    return rootless || /^unix:\/\/\/run\/user\/\d+\//.test(endpoint.host) ? 'podman-rootless' : 'podman';
  if (info.OperatingSystem === 'Docker Desktop' || /^Docker Desktop/.test(report.version.Server?.Platform?.Name ?? '')) return 'docker-desktop';
  if (info.OperatingSystem === 'OrbStack' || /orbstack/i.test(info.KernelVersion ?? '') || /\/\.orbstack\//.test(endpoint.host)) return 'orbstack';
  if (/^colima(-|$)/.test(info.Name ?? '') || /\/\.colima\//.test(endpoint.host)) return 'colima';
  if (/rancher-desktop/.test(info.Name ?? '') || /\/\.rd\//.test(endpoint.host)) return 'rancher-desktop';
  return rootless ? 'docker-rootless' : 'docker';
}

/** The bind source that reaches the engine's API from a container: the override, the table's path, or the endpoint's own. */
export function socketBindSource(kind: EngineKind, endpoint: Endpoint, env: NodeJS.ProcessEnv = process.env): string {
  const override = env[ENGINE_SOCKET_OVERRIDE];
  if (override) {
    if (!SOCKET_PATH.test(override))
      throw new SandboxError(
        `${ENGINE_SOCKET_OVERRIDE}=${visible(override)} must be an absolute path without ':', spaces or quotes: the engine's socket as its containers see it.`,
      );
    return override;
  }
  const inContainers = ENGINES[kind].socketInContainers;
  if (inContainers !== 'endpoint') return inContainers;
  const path = localSocketPath(endpoint);
  if (path && !SOCKET_PATH.test(path))
    throw new SandboxError(`${visible(endpoint.from)}: the socket path must be absolute, without ':', spaces or quotes, to be bound into the proxy.`);
  return path ?? (kind === 'podman' ? PODMAN_SOCKET : DOCKER_SOCKET);
}

/** The group when the group may read and write the socket (or anyone may); else its owner, with every capability dropped. */
export function proxyAccess(stat: SocketStat, socket: string): ProxyAccess {
  if ((stat.mode & 0o060) === 0o060 || (stat.mode & 0o006) === 0o006) return { user: CONTAINER_USER, group: stat.gid };
  if ((stat.mode & 0o600) === 0o600) return { user: `${stat.uid}:${stat.gid}`, group: stat.gid };
  throw new SandboxError(
    `The engine's socket ${socket} is mode ${(stat.mode & 0o777).toString(8)} as its containers see it: not even its owner may use it, so the proxy could not. ` +
      `Point ${ENGINE_SOCKET_OVERRIDE} at the engine's API socket as its containers see it.`,
  );
}

/** An image name, never an option of docker run. */
export const IMAGE_NAME = /^\w[\w./:@-]*$/;

const STAT_SCRIPT = `const s=require('fs').statSync(process.argv[1]);console.log(JSON.stringify({socket:s.isSocket(),uid:s.uid,gid:s.gid,mode:s.mode&0o7777}))`;
const PROBED_SOCKET = '/run/devsec-engine.sock';

/** A throwaway container of the proxy's base image stats the bind source, as the proxy will see it. */
export function statSocketInside(kind: EngineKind, socket: string, baseImage: string, run: Runner = runCommand): SocketStat {
  if (!IMAGE_NAME.test(baseImage)) throw new SandboxError(`"${visible(baseImage)}" is not an image name (the proxy's BASE_IMAGE build argument).`);
  const result = run('docker', [
    // As nobody: a stat needs no access to the socket itself, and a bound socket answers whoever may open it, read-only or not.
    'run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true', '--user', '65534:65534',
    // --mount, not -v: a missing source is an error, never a folder the engine creates.
    '--mount', `type=bind,source=${socket},target=${PROBED_SOCKET},readonly`,
    '--entrypoint', 'node', baseImage, '-e', STAT_SCRIPT, PROBED_SOCKET,
  ]); // prettier-ignore
  const fix = `If ${ENGINES[kind].name} serves its API elsewhere to its containers, set ${ENGINE_SOCKET_OVERRIDE} to that path in your shell.`;
  if (result.status !== 0) {
    throw new SandboxError(`Could not look at ${socket} from inside the engine (${visible(lastLine(result))}). ${fix}`);
  }
  const seen = /^\{"socket":(true|false),"uid":(\d+),"gid":(\d+),"mode":(\d+)\}$/.exec(result.stdout.trim());
  if (!seen)
    throw new SandboxError(`Looking at ${socket} from inside the engine printed ${visible(result.stdout.trim().slice(0, 200))}, not its owner and mode.`);
  if (seen[1] !== 'true') throw new SandboxError(`${ENGINES[kind].name} shows its containers no socket at ${socket}. ${fix}`);
  return { uid: Number(seen[2]), gid: Number(seen[3]), mode: Number(seen[4]) };
}

/** What names an engine's answers in the cache: the endpoint, the override, and the endpoint socket's identity here (a restart re-creates it). */
function cacheKey(endpoint: Endpoint, env: NodeJS.ProcessEnv): string {
  let identity: string;
  try {
    const path = localSocketPath(endpoint);
    const stat = path ? lstatSync(path) : undefined;
    identity = stat ? `${stat.dev}:${stat.ino}:${stat.ctimeMs}` : '';
  } catch {
    identity = ''; // not on this filesystem (a VM's, or TCP): the endpoint alone
  }
  return createHash('sha256')
    .update(JSON.stringify([endpoint.host, env[ENGINE_SOCKET_OVERRIDE] ?? '', identity]))
    .digest('hex')
    .slice(0, 32);
}

function cachePath(endpoint: Endpoint, env: NodeJS.ProcessEnv): string {
  return join(stateDir(['engines'], env), `${cacheKey(endpoint, env)}.json`);
}

function readCache(path: string, endpoint: Endpoint): EngineProfile | undefined {
  try {
    const cached = JSON.parse(readStateFile(path) ?? 'null') as EngineProfile | null;
    const number = (value: unknown) => Number.isInteger(value) && (value as number) >= 0;
    if (!cached || !Object.hasOwn(ENGINES, cached.kind) || typeof cached.socket !== 'string' || !SOCKET_PATH.test(cached.socket) || !cached.stat)
      return undefined;
    if (![cached.stat.uid, cached.stat.gid, cached.stat.mode].every(number) || typeof cached.enforcesLimits !== 'boolean') return undefined;
    return { ...cached, endpoint, access: proxyAccess(cached.stat, cached.socket) };
  } catch {
    return undefined; // unreadable: learn again
  }
}

function report(run: Runner): EngineReport {
  const json = (args: string[]) => {
    const result = run('docker', [...args, '--format', '{{json .}}']);
    if (result.status !== 0) {
      // No CLI, or no daemon: the preflight's own words, with how to fix it.
      preflightEngine(run);
      throw new SandboxError(`docker ${args[0]} failed: ${visible(lastLine(result))}.`);
    }
    return JSON.parse(result.stdout);
  };
  return { version: json(['version']), info: json(['info']) };
}

/**
 * The engine behind the docker CLI and what the proxy needs to reach it; refuses a remote one.
 * `baseImage` is the proxy's base image (it has node), used for the look from inside; `endpoint`,
 * when the caller already refused a remote one (localEndpoint).
 */
export function discoverEngine(
  baseImage: string,
  run: Runner = runCommand,
  env: NodeJS.ProcessEnv = process.env,
  endpoint: Endpoint = localEndpoint(env),
): EngineProfile {
  const path = cachePath(endpoint, env);
  const cached = readCache(path, endpoint);
  if (cached) return cached;
  const facts = report(run);
  const kind = engineKind(endpoint, facts);
  const socket = socketBindSource(kind, endpoint, env);
  const stat = statSocketInside(kind, socket, baseImage, run);
  // No cgroup driver (rootless Docker on cgroup v1), or any user-namespace engine on cgroup v1 (rootless Podman says cgroupfs, and drops them).
  const enforcesLimits = facts.info.CgroupDriver !== 'none' && !(ENGINES[kind].userNamespace && facts.info.CgroupVersion === '1');
  const profile: EngineProfile = { kind, endpoint, id: facts.info.ID ?? '', socket, stat, access: proxyAccess(stat, socket), enforcesLimits };
  writeStateFile(path, `${JSON.stringify({ kind, id: profile.id, socket, stat, enforcesLimits })}\n`);
  return profile;
}

/** After a start that failed: the next one learns the engine again. */
export function forgetEngine(env: NodeJS.ProcessEnv = process.env): void {
  try {
    writeStateFile(cachePath(resolveEndpoint(env), env), 'null\n');
  } catch {
    // nothing cached, or the endpoint is gone: nothing to forget
  }
}

/** How `up` names the engine, e.g. "rootless Docker at unix:///run/user/1000/docker.sock (proxy as node, group 0)". */
export function describeEngine(profile: EngineProfile): string {
  return `${ENGINES[profile.kind].name} via ${visible(profile.endpoint.from)}; the proxy mounts ${profile.socket} as ${PROXY_SOCKET_TARGET} (user ${profile.access.user}, group ${profile.access.group})`;
}
