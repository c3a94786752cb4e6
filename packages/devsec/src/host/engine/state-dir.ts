/**
 * The host user's state directory for @org/devsec: `$XDG_STATE_HOME/devsec` (default
 * `~/.local/state/devsec`). It holds what the host trusts and the agent must not reach — the
 * shared services' passwords, the approved snapshot of host-executed files, each main
 * worktree's private git state — so it lies outside every workspace and every git directory,
 * which are all the sandbox ever mounts. Directories are 0700, files 0600; nothing here is
 * read through a symlink, and a file or directory that is not ours is refused, not trusted.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { SandboxError } from '../../sandbox/errors';

export const STATE_DIR_NAME = 'devsec';

/** `$XDG_STATE_HOME/devsec`, or `~/.local/state/devsec` when it is unset or not absolute (as the XDG spec says). */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const home = xdg && isAbsolute(xdg) ? xdg : join(env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir(), '.local', 'state');
  return join(home, STATE_DIR_NAME);
}

/** A name safe as one path segment: what a key (a compose project, a repository id) becomes on disk. */
export function stateKey(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[.-]+/, '');
  if (safe === '' || safe.length > 120) throw new SandboxError(`"${name}" cannot name a state file.`);
  return safe;
}

const ownUid = () => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/** Refuses a path that is a symlink, not of the expected kind, or owned by someone else. */
function checkOwned(path: string, kind: 'directory' | 'file'): void {
  const stat = lstatSync(path);
  const ok = kind === 'directory' ? stat.isDirectory() : stat.isFile();
  if (stat.isSymbolicLink() || !ok) {
    throw new SandboxError(`${path} should be a ${kind} of @org/devsec's state, and is not (a symlink or another kind of file). Remove it, then run again.`);
  }
  const uid = ownUid();
  if (uid !== undefined && stat.uid !== uid) {
    throw new SandboxError(`${path} belongs to another user (uid ${stat.uid}): @org/devsec will not trust it. Remove it, then run again.`);
  }
}

/** `<state root>/<parts…>`, each level created 0700 and checked: a real directory of ours. */
export function stateDir(parts: string[], env: NodeJS.ProcessEnv = process.env): string {
  const root = stateRoot(env);
  mkdirSync(dirname(root), { recursive: true, mode: 0o700 });
  let path = root;
  for (const part of ['', ...parts.map(stateKey)]) {
    path = part === '' ? path : join(path, part);
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    checkOwned(path, 'directory');
  }
  return path;
}

/** A state file's content, or undefined when there is none; never through a symlink, never another user's file. */
export function readStateFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new SandboxError(`${path} is a symlink: @org/devsec reads its state files only as themselves. Remove it, then run again.`);
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    const uid = ownUid();
    if (!stat.isFile()) throw new SandboxError(`${path} is not a regular file. Remove it, then run again.`);
    if (uid !== undefined && stat.uid !== uid)
      throw new SandboxError(`${path} belongs to another user (uid ${stat.uid}): @org/devsec will not trust it. Remove it, then run again.`);
    return readFileSync(fd, 'utf-8');
  } finally {
    closeSync(fd);
  }
}

/** Writes a state file whole (a temporary file beside it, then a rename), mode 0600. */
export function writeStateFile(path: string, content: string): void {
  checkOwned(dirname(path), 'directory');
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, content, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // nothing was written
    }
    throw error;
  }
}
