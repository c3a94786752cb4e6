/**
 * Which host paths a stack may reach: the allowlist of a stack (its workspace, the git paths it
 * mounts, its private state directory, the Docker socket for the proxy) and the paths that are
 * never allowed (container runtime sockets, system and home directories, SSH and credentials).
 * Pure: the host passes what it knows — absolute paths, and a realpath — in a StackContext.
 */
import { posix } from 'node:path';
import { DOCKER_SOCKET } from '../sandbox/engines';
import { isUnder } from '../sandbox/paths';
import { HOME_CREDENTIALS } from '../sandbox/vocabulary';
import type { RuleId } from './registry';

export type StackKind = 'worktree' | 'shared';

/** What the rules need to know about a stack and its host; every path absolute. */
/** What the engine says of an external network (the shared one): the egress rule judges it. */
export interface NetworkFacts {
  /** No route out of it. */
  internal: boolean;
  /** Its bridge has no IPv4 address: the gateway address is not the host. */
  noGateway: boolean;
}

export interface StackContext {
  /** A worktree's sandbox (docker-proxy, app, localhost-proxy, the user's services) or the shared services. */
  kind: StackKind;
  /** The file findings point at (the stack's main compose file). */
  composeFile: string;
  /** The workspace root. Without it, only paths that are never allowed are judged (no allowlist). */
  workspaceRoot?: string;
  /** Worktree: git's common dir, mounted at its host path (may lie outside a linked worktree). */
  gitCommonDir?: string;
  /** Worktree: this stack's `.devcontainer`, inside the workspace. */
  devcontainerDir?: string;
  /** This stack's private directory under `$XDG_STATE_HOME/devsec`, if it mounts one. */
  stateDir?: string;
  /** Host paths @org/devsec itself mounts read-only into the dev container: the package manager's release and store. */
  readOnlySources?: string[];
  /** The host user's home directory, never mounted. */
  homeDir?: string;
  /** Worktree: the engine's socket as its containers see it, which the proxy alone may mount; unknown (the static audit): /var/run/docker.sock. */
  dockerSocket?: string;
  /** The Docker socket's group: only the proxy may join it. */
  dockerGid?: number | string;
  /** Where relative paths of the model resolve (the compose file's folder); unset: a relative path cannot be placed. */
  baseDir?: string;
  /** The workspace root is a stand-in name, not a real path (the static audit): a relative path that climbs out of it cannot be placed. */
  workspacePlaceholder?: boolean;
  /** The engine's name when it ignores the no-gateway option (Podman): an internal network's gateway is then the host. */
  ignoresNoGateway?: string;
  /** External networks as the engine has them, by name (the gate); unknown in the static audit. */
  externalNetworks?: Record<string, NetworkFacts>;
  /** Worktree: the dev container's runtime as up-worktree chose it (its override file sets it; the proxy forces it on children as CHILD_RUNTIME). */
  runtime?: string;
  /** Sees through symlinks on the host (the gate passes a realpath); identity when absent. */
  realPath?: (path: string) => string;
}

/** A path as written, and where it lands on the host when that can be told. */
export interface PlacedPath {
  written: string;
  path?: string;
  /** Why it could not be placed. */
  unplaced?: string;
}

export interface PathVerdict {
  rule: RuleId;
  why: string;
}

/** Runtime sockets by name: Docker, containerd, Podman, CRI-O, BuildKit, balena. */
const RUNTIME_SOCKET = /^(docker|containerd|podman|crio|cri-dockerd|buildkitd|dockershim|balena-engine|balena)\.sock(\.ttrpc|\.raw)?$/;
/** Where runtimes keep their sockets or their state (state writable is root on the host too). */
const RUNTIME_DIRS = [
  '/run/docker',
  '/run/containerd',
  '/run/podman',
  '/run/crio',
  '/run/buildkit',
  '/run/k3s',
  '/run/user',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/var/lib/containers',
  '/var/snap/docker',
];
/** The same, under a home directory (Docker Desktop, Colima, OrbStack, Rancher Desktop, Lima, rootless Podman). */
const HOME_RUNTIME_DIRS = ['.docker/run', '.docker/desktop', '.colima', '.orbstack', '.rd', '.lima', '.local/share/containers'];
/** System directories no workspace lives in: neither they nor anything under them. */
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/etc', '/boot', '/nix', '/snap', '/private/etc'];
/** Directories that hold other people's files: never whole, though a workspace may lie under one. */
const SHARED_ROOTS: Array<[string, string]> = [
  ['/home', 'home directories'],
  ['/Users', 'home directories'],
  ['/root', "root's home directory"],
  ['/tmp', "every user's temporary files and sockets"],
  ['/var/tmp', "every user's temporary files"],
  ['/mnt', 'mounted drives'],
  ['/media', 'mounted drives'],
  ['/opt', "the host's installed software"],
  ['/srv', "the host's served data"],
  // Programs and libraries: whole, never (a workspace may sit in /usr/src; other paths under them fall to the allowlist).
  ...['/usr', '/usr/local', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'].map((root): [string, string] => [
    root,
    "the host's programs and libraries",
  ]),
];

const SSH_PATH = /(^|\/)\.ssh(\/|$)|ssh-auth\.sock|ssh-agent|SSH_AUTH_SOCK/;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** Credentials other than SSH (which ssh-mount covers). */
const CREDENTIAL_PATH = new RegExp(
  `(^|/)(${HOME_CREDENTIALS.filter((path) => path !== '.ssh')
    .map(escape)
    .join('|')})(/|$)`,
);

/** `/run` and `/var/run` are one directory on every current distribution. */
const canonical = (path: string) => posix.normalize(path.replace(/^\/var\/run(\/|$)/, '/run$1')).replace(/(.)\/$/, '$1');

export { isUnder };

/** Home directories by shape (/root, /home/x, /Users/x, WSL's /mnt/c/Users/x), and the host user's own. */
function homeOf(path: string, context: StackContext): string | undefined {
  const home = context.homeDir && canonical(context.homeDir);
  if (home && isUnder(path, home)) return home;
  return /^(\/root|\/home\/[^/]+|\/Users\/[^/]+|\/mnt\/[^/]+\/Users\/[^/]+)(\/|$)/.exec(path)?.[1];
}

function socketVerdict(path: string, context: StackContext): string | undefined {
  if (RUNTIME_SOCKET.test(posix.basename(path))) return "a container runtime's socket: whoever reaches it is root on the host";
  // The engine's socket wherever it is (DEVSEC_ENGINE_SOCKET may name any path), and any folder that holds it.
  if (context.dockerSocket && isUnder(canonical(context.dockerSocket), path)) return "the engine's API socket, or a folder that holds it: root on the host";
  const dir = RUNTIME_DIRS.find((root) => isUnder(path, root) || isUnder(root, path));
  if (dir) return `it holds a container runtime's sockets or state (${dir}): root on the host`;
  const home = homeOf(path, context);
  if (home && path !== home) {
    const inHome = path.slice(home.length + 1);
    const runtime = HOME_RUNTIME_DIRS.find((root) => isUnder(inHome, root) || isUnder(root, inHome));
    if (runtime) return `it holds a container runtime's socket (~/${runtime}): root on the host, or your user`;
  }
  return undefined;
}

function systemVerdict(path: string, context: StackContext): string | undefined {
  const tree = SYSTEM_TREES.find((root) => isUnder(path, root));
  if (tree) return `${tree} is the host's own system`;
  const home = homeOf(path, context);
  if (home === path) return 'a home directory: your keys, credentials and shell startup files';
  const own = context.homeDir && canonical(context.homeDir);
  if (own && isUnder(own, path)) return `it holds your home directory (${own})`;
  const shared = SHARED_ROOTS.find(([root]) => isUnder(root, path));
  if (shared) return `it holds ${shared[1]}`;
  if (/^\/mnt\/[^/]+$/.test(path)) return 'a whole mounted drive';
  return undefined;
}

/** The roots a path may lie under, for binds (and host files read into a container) or for builds. */
function allowedRoots(use: 'bind' | 'build', context: StackContext): string[] {
  if (!context.workspaceRoot) return [];
  if (use === 'build') return [context.workspaceRoot];
  return [
    context.workspaceRoot,
    ...(context.kind === 'worktree' && context.gitCommonDir ? [context.gitCommonDir] : []),
    ...(context.stateDir ? [context.stateDir] : []),
    ...(context.readOnlySources ?? []),
  ];
}

/** May the proxy mount this path: the engine's socket only, in a worktree stack. */
export function isDockerSocket(path: string, context: StackContext): boolean {
  const sockets = [context.dockerSocket ? canonical(context.dockerSocket) : canonical(DOCKER_SOCKET)];
  const real = context.realPath ?? ((p: string) => p);
  return sockets.some((socket) => canonical(path) === socket || canonical(real(path)) === canonical(real(socket)));
}

/**
 * The rule a host path breaks, most specific first: a runtime socket, a system or home
 * directory, SSH, credentials, then anything off the stack's allowlist. One verdict per path,
 * so that `--unsafe-allow=ssh-mount` lets an `.ssh` mount through without also allowing every path.
 */
export function judgeHostPath(placed: PlacedPath, use: 'bind' | 'build', context: StackContext): PathVerdict | undefined {
  const real = context.realPath ?? ((path: string) => path);
  const paths = placed.path ? [...new Set([canonical(placed.path), canonical(real(placed.path))])] : [];
  for (const path of paths.length ? paths : [placed.written]) {
    const socket = paths.length ? socketVerdict(path, context) : RUNTIME_SOCKET.test(posix.basename(path)) ? "a container runtime's socket" : undefined;
    if (socket) return { rule: 'socket-mount', why: socket };
  }
  for (const path of paths) {
    const system = systemVerdict(path, context);
    if (system) return { rule: 'system-path-mount', why: system };
  }
  const texts = [placed.written, ...paths];
  if (texts.some((text) => SSH_PATH.test(text))) return { rule: 'ssh-mount', why: 'SSH keys or an SSH agent let the agent push, or log in elsewhere as you' };
  if (texts.some((text) => CREDENTIAL_PATH.test(text))) return { rule: 'credential-mount', why: 'credentials of yours' };
  const outside = use === 'build' ? 'build-outside-workspace' : 'host-path-mount';
  if (!placed.path) return context.workspaceRoot ? { rule: outside, why: placed.unplaced ?? 'the rules cannot tell where it points' } : undefined;
  const roots = allowedRoots(use, context).map((root) => canonical(real(root)));
  if (!context.workspaceRoot || roots.some((root) => isUnder(paths[paths.length - 1], root))) return undefined;
  const allowed =
    use === 'build' ? 'the workspace' : `the workspace${context.kind === 'worktree' ? ', its git directory' : ''} and this stack's state directory`;
  return { rule: outside, why: `outside ${allowed}` };
}

/**
 * Places a path of the model on the host: absolute as is, `~` under the home directory,
 * relative against the compose file's folder; `${…}` left by interpolation cannot be placed.
 */
export function placeHostPath(written: string, context: StackContext): PlacedPath {
  if (written.includes('${') || /\$[A-Za-z_]/.test(written)) return { written, unplaced: `${written} holds a variable the rules cannot resolve` };
  if (written === '~' || written.startsWith('~/')) {
    return context.homeDir ? { written, path: posix.join(context.homeDir, written.slice(1)) } : { written, unplaced: 'a path in your home directory' };
  }
  if (posix.isAbsolute(written)) return { written, path: posix.normalize(written) };
  if (!context.baseDir) return { written, unplaced: `${written} is relative: the engine resolves it against its own working directory` };
  const path = posix.resolve(context.baseDir, written);
  // Outside the workspace, a relative path lands wherever the checkout sits: say so rather than guess.
  if (context.workspacePlaceholder && context.workspaceRoot && !isUnder(path, context.workspaceRoot))
    return { written, unplaced: `${written} resolves outside the workspace` };
  return { written, path };
}
