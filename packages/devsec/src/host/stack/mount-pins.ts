/**
 * What keeps a read-only mount where the host reads it. Inside, only a mount point itself is
 * busy: a folder that *contains* one can be renamed, and the read-only mount moves along with it
 * (`mv apps/app apps/tmp/app`), leaving the agent free to plant a new `apps/app/.devcontainer` that
 * the host would then start, and VS Code would run the `initializeCommand` of. So every folder
 * from the workspace root down to each read-only mount is mounted onto itself as well (the same
 * folder, writable as before): each is then a mount point in the dev container, which the kernel
 * refuses to rename or remove (EBUSY), and the read-only definitions stay exactly where the host
 * looks for them.
 *
 * A mount's source is a host path the engine resolves when the container starts, following
 * symlinks. Between our look and the engine's, a process in another sandbox of this worktree
 * could swap a folder on the way for a symlink (to `/`, say) — and a writable pin of it would then
 * mount that. So every folder on the way is checked to be a real folder (never a symlink) before,
 * and what the engine mounted is read back from the kernel after the start (`/proc/self/mountinfo`
 * of a process of ours in the dev container, as root, before anything else runs there): each
 * mount of a workspace path must be that very path of the workspace's filesystem.
 *
 * On gVisor (runsc) the kernel inside is gVisor's own: its mountinfo shows every mount as `/` of
 * a device of its own, and its inode numbers are its own too — nothing there names a host path.
 * What the engine mounted is then in the host's kernel, in the mount namespace of the container's
 * gofer (the host process of runsc that serves the container's files from the bind sources,
 * mounted at their targets): its /proc/<pid>/mountinfo, read on this machine, is checked the same
 * way. No gofer found for the container (an engine on another machine, /proc hidden) stops the
 * start: never a start with the check skipped.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { SandboxError } from '../../sandbox/errors';
import { below } from '../../sandbox/paths';
import { APP_SERVICE, GVISOR_RUNTIME } from '../../sandbox/vocabulary';
import { visible } from '../../sandbox/visible';
import type { Mount } from '../git/git-mounts';
import { runCommand, Runner } from '../engine/run';
import type { VerifiedStart } from './worktree-state';

/**
 * Every folder from `root` (excluded) down to `path` (excluded, or included with `self`), checked
 * to be a real folder: a symlink on the way is refused, naming it.
 */
export function foldersOnTheWay(root: string, path: string, what: string): string[] {
  const rel = below(root, path);
  if (!rel) return [];
  const parts = rel.split(sep);
  const folders: string[] = [];
  // A name Compose would read as a variable, or that holds a control character, never reaches a compose file (red team, finding A).
  const odd = parts.find((part) => part.includes('$') || visible(part) !== part);
  if (odd !== undefined)
    throw new SandboxError(
      `Refusing to start: the folder name ${visible(JSON.stringify(odd))}, on the way to ${what} ${visible(rel)}, holds ${odd.includes('$') ? "'$', which Compose reads as a variable" : 'a control character'}. ` +
        'Rename or remove it (if an agent made it, it is not yours) and run again.',
    );
  for (let i = 1; i < parts.length; i++) {
    const folder = join(root, ...parts.slice(0, i));
    const stat = lstatSync(folder, { throwIfNoEntry: false });
    // A missing folder is its reader's to report (ENOENT): nothing can be mounted or read through it.
    if (!stat) break;
    if (!stat.isDirectory()) {
      throw new SandboxError(
        `Refusing to start: ${visible(relative(root, folder))}, on the way to ${what} ${visible(rel)}, is ${stat.isSymbolicLink() ? 'a symlink' : 'not a folder'}. ` +
          'The host never mounts or reads a definition through a link the sandbox can change: make it a real folder again (if an agent made it, it is not yours).',
      );
    }
    folders.push(folder);
  }
  return folders;
}

/**
 * The pins of the given read-only paths: each folder on the way from the workspace root, mounted
 * onto itself (writable, as the workspace is), outermost first.
 */
export function pinMounts(root: string, readOnly: { path: string; what: string }[]): Mount[] {
  const folders = new Set<string>();
  for (const { path, what } of readOnly) for (const folder of foldersOnTheWay(root, path, what)) folders.add(folder);
  return [...folders].sort().map((folder) => ({ source: folder, target: folder, readOnly: false }));
}

/** One line of /proc/<pid>/mountinfo: where a mount is, and which path of its filesystem it shows. */
export interface MountInfo {
  /** `major:minor` of the filesystem. */
  device: string;
  root: string;
  mountPoint: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

export function parseMountInfo(text: string): MountInfo[] {
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields.length >= 10)
    .map((fields) => ({ device: fields[2], root: unescape(fields[3]), mountPoint: unescape(fields[4]) }));
}

/**
 * The mounts whose source is in the workspace and that the kernel shows as another path of the
 * workspace's filesystem than their source (what a symlink swapped in meanwhile would do).
 * `workspaceRoot` is mounted at its own path inside; the last mount at a point is the one in force.
 */
export function misplacedMounts(infos: MountInfo[], mounts: Mount[], workspaceRoot: string): string[] {
  const inForce = new Map(infos.map((info) => [info.mountPoint, info]));
  const workspace = inForce.get(workspaceRoot);
  if (workspace === undefined) return [`${workspaceRoot} (the workspace is not mounted at its path)`];
  const wrong: string[] = [];
  for (const mount of mounts) {
    const rel = below(workspaceRoot, mount.source);
    if (rel === undefined) continue;
    const expected = posix.join(workspace.root, rel.split(sep).join('/'));
    const actual = inForce.get(mount.target);
    // The same path of the same filesystem: another filesystem may hold a folder of that name too.
    if (actual?.root !== expected || actual.device !== workspace.device)
      wrong.push(`${mount.target} shows ${actual === undefined ? 'nothing' : `${actual.root} of ${actual.device}`}, not ${expected} of ${workspace.device}`);
  }
  return wrong;
}

/**
 * Reads back, as root in the just-started dev container (before anything else runs there, so no
 * process of the agent's can stand in for ours), what the engine mounted; a workspace mount that
 * is not the path we named stops the container and the start.
 */
export function verifyMounts(
  container: string,
  mounts: Mount[],
  workspaceRoot: string,
  run: Runner = runCommand,
  proc: ProcReader = hostProc,
  known?: Pick<ContainerStart, 'container' | 'runtime'>,
): void {
  const read = readMountInfo(container, run, proc, known);
  const wrong = 'text' in read ? misplacedMounts(parseMountInfo(read.text), mounts, workspaceRoot) : [`(mountinfo unreadable: ${read.error})`];
  if (wrong.length === 0) return;
  run('docker', ['kill', container]);
  throw new SandboxError(
    `Stopped ${visible(container)}: what the engine mounted is not what @org/devsec named — a folder on the way was changed while the stack started ` +
      `(swapped for a symlink by a process in another sandbox of this worktree?):\n${wrong.map((line) => `  - ${visible(line)}`).join('\n')}\n` +
      `Look at those folders (ls -la ${visible(dirname(workspaceRoot))}/…), stop the other sandboxes of this worktree, and start again.`,
  );
}

/** This machine's /proc, as the gVisor check reads it (tests give another). */
export interface ProcReader {
  pids: () => string[];
  read: (pid: string, file: 'cmdline' | 'mountinfo') => string | undefined;
}

const hostProc: ProcReader = {
  pids: () => {
    try {
      return readdirSync('/proc').filter((name) => /^\d+$/.test(name));
    } catch {
      return [];
    }
  },
  read: (pid, file) => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf-8');
    } catch {
      return undefined; // gone, or not ours to read
    }
  },
};

/** A container id as the engine names it (64 hex digits): what a gofer's bundle path ends with. */
const CONTAINER_ID = /^[0-9a-f]{64}$/;

/**
 * The pid of the runsc gofer of the container `id`: the host process named runsc-gofer running
 * `gofer` with the container's bundle (a folder named by its id). Exactly one, or none.
 */
export function goferPid(id: string, proc: ProcReader): string | undefined {
  if (!CONTAINER_ID.test(id)) return undefined;
  const found = proc.pids().filter((pid) => {
    const argv = proc.read(pid, 'cmdline')?.split('\0') ?? [];
    if (argv[0] !== 'runsc-gofer' || !argv.includes('gofer')) return false;
    const at = argv.indexOf('--bundle');
    const bundle = at >= 0 ? argv[at + 1] : argv.find((arg) => arg.startsWith('--bundle='))?.slice('--bundle='.length);
    return bundle !== undefined && posix.basename(bundle) === id;
  });
  return found.length === 1 ? found[0] : undefined;
}

/**
 * The mountinfo that shows what the engine mounted for the container: its own (runc: the host's
 * kernel inside), or its gofer's on this machine (gVisor).
 */
export function readMountInfo(
  container: string,
  run: Runner,
  proc: ProcReader = hostProc,
  known?: Pick<ContainerStart, 'container' | 'runtime'>,
): { text: string } | { error: string } {
  let { container: id, runtime } = known ?? {};
  if (runtime === undefined || id === undefined) {
    const inspected = run('docker', ['inspect', '--type', 'container', '--format', '{{.Id}} {{.HostConfig.Runtime}}', container]);
    // Not inspectable: read by name, as on runc — on gVisor its own mountinfo names no host path, and fails the check.
    if (inspected.status === 0) [id, runtime] = inspected.stdout.trim().split(' ');
  }
  if (runtime === GVISOR_RUNTIME && id !== undefined) {
    const pid = goferPid(id, proc);
    const text = pid === undefined ? undefined : proc.read(pid, 'mountinfo');
    return text === undefined
      ? { error: "the container runs on gVisor, and no runsc gofer of it is to be read on this machine (the engine's /proc)" }
      : { text };
  }
  const result = run('docker', ['exec', '-u', '0:0', container, 'cat', '/proc/self/mountinfo']);
  return result.status === 0 ? { text: result.stdout } : { error: result.stderr.trim() };
}

/** What the mounts are checked against: the workspace root and every mount, in order. */
export const mountsKey = (mounts: Mount[], workspaceRoot: string): string =>
  createHash('sha256')
    .update(JSON.stringify([workspaceRoot, mounts]))
    .digest('hex');

/** One start of a container: its full id, when it started, and whether it runs. */
export interface ContainerStart {
  container: string;
  startedAt: string;
  running: boolean;
  /** The runtime the engine runs it with ('' for its default), when the look that found it said. */
  runtime?: string;
}

/** `docker inspect` of one container: its start, or undefined when it cannot be inspected. */
export function inspectStart(container: string, run: Runner = runCommand): ContainerStart | undefined {
  const inspect = run('docker', ['inspect', '--type', 'container', container]);
  try {
    const [info] = JSON.parse(inspect.stdout) as Array<{
      Id?: unknown;
      State?: { StartedAt?: unknown; Running?: unknown };
      HostConfig?: { Runtime?: unknown };
    }>;
    if (inspect.status === 0 && typeof info?.Id === 'string' && typeof info.State?.StartedAt === 'string') {
      const runtime = typeof info.HostConfig?.Runtime === 'string' ? info.HostConfig.Runtime : '';
      return { container: info.Id, startedAt: info.State.StartedAt, running: info.State.Running === true, runtime };
    }
  } catch {
    // not inspectable: the read back by name names what is wrong
  }
  return undefined;
}

/**
 * verifyMounts, once per start of the container: what the engine mounted is fixed when a
 * container starts, so the very start verified last time (the same container id and start time,
 * from `docker inspect`, against the same mounts) is not read again — an inspect instead of a
 * `docker exec`. A container recreated or restarted since (by Compose, the engine's restart
 * policy, anyone) has another id or start time, and is read back. The start is learned before
 * the read (`start`: from an inspect made since `docker compose up` returned, or one made here):
 * a restart in between is read back again at the next start. Returns what to remember.
 */
export function verifyMountsOnce(
  container: string,
  mounts: Mount[],
  workspaceRoot: string,
  previous: VerifiedStart | undefined,
  run: Runner = runCommand,
  start: ContainerStart | undefined = inspectStart(container, run),
): VerifiedStart | undefined {
  const key = mountsKey(mounts, workspaceRoot);
  if (start?.running && previous?.container === start.container && previous.startedAt === start.startedAt && previous.mounts === key) return previous;
  verifyMounts(container, mounts, workspaceRoot, run, hostProc, start);
  return start ? { container: start.container, startedAt: start.startedAt, mounts: key } : undefined;
}

/**
 * The dev container's mounts in the effective model (`docker compose config`) are exactly those
 * we named: what Compose read from the override file is what we wrote, or the start stops.
 */
export function checkNamedMounts(model: { services?: Record<string, { volumes?: unknown } | null | undefined> }, mounts: Mount[]): void {
  const volumes = (model.services?.[APP_SERVICE]?.volumes ?? []) as { type?: string; source?: string; target?: string; read_only?: boolean }[];
  const wrong = mounts.flatMap((mount) => {
    const found = volumes.find((volume) => typeof volume === 'object' && volume.target === mount.target);
    if (found?.type === 'bind' && found.source === mount.source && (found.read_only === true) === mount.readOnly) return [];
    return [
      `${mount.target}: ${found ? `${found.type} ${found.source}${found.read_only ? ' (read-only)' : ''}` : 'not mounted'}, not ${mount.source}${mount.readOnly ? ' (read-only)' : ''}`,
    ];
  });
  if (wrong.length === 0) return;
  throw new SandboxError(
    `Refusing to start: Compose reads the dev container's mounts otherwise than @org/devsec wrote them:\n${wrong.map((line) => `  - ${visible(line)}`).join('\n')}\n` +
      'A folder name of the workspace, or a compose file of the stack, changes them: find it (if an agent made it, it is not yours) and run again.',
  );
}
