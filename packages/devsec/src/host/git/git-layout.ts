/**
 * Where a worktree's git data lives, read from the files themselves — never by asking git in a
 * folder where a `.git` planted by the agent could answer (git follows `commondir`, `gitdir:`
 * and the config it then finds, whose `core.fsmonitor` it runs). Everything read here is
 * checked: real directories and files of this user, no symlinks, and a linked worktree's
 * pointers must agree with each other.
 */
import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { WorktreeError } from '../../sandbox/errors';

export interface GitLayout {
  /** The worktree's top level (holds `.git`). */
  workspaceRoot: string;
  /**
   * `main`: `.git` is the repository (a directory, or a gitfile of `--separate-git-dir`);
   * `linked`: a worktree made by `git worktree add`, whose per-worktree files live in
   * `<common>/worktrees/<id>`.
   */
  kind: 'main' | 'linked';
  /** `<root>/.git` is a directory (false: a gitfile). */
  dotGitIsDirectory: boolean;
  /** This worktree's own git dir (HEAD, index). */
  gitDir: string;
  /** The repository's common dir (objects, refs, config, hooks), shared by every worktree. */
  commonDir: string;
  /** `<id>` of `<common>/worktrees/<id>`, for a linked worktree. */
  worktreeId?: string;
  /** The branch HEAD names, or undefined on a detached HEAD. */
  branch: string | undefined;
}

const ownUid = () => (typeof process.getuid === 'function' ? process.getuid() : undefined);

function refuse(path: string, why: string): never {
  throw new WorktreeError(
    `${path} ${why}: @org/devsec reads the worktree's git layout itself and will not follow it. ` +
      'If you did not make it so, something (an agent?) changed your git data: inspect it with `ls -la` before running git here.',
  );
}

function checkReal(path: string, kind: 'directory' | 'file'): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    refuse(path, 'is missing');
  }
  if (stat.isSymbolicLink()) refuse(path, 'is a symlink');
  if (kind === 'directory' ? !stat.isDirectory() : !stat.isFile()) refuse(path, `is not a ${kind}`);
  const uid = ownUid();
  // Root may run the executors on a checkout of an ordinary user (CI does); any other user must own it.
  if (uid !== undefined && uid !== 0 && stat.uid !== uid) refuse(path, `belongs to another user (uid ${stat.uid})`);
}

/** A small pointer file (`gitdir: …`, `commondir`), as the path it names. */
function readPointer(file: string, prefix: string, base: string): string {
  checkReal(file, 'file');
  const text = readFileSync(file, 'utf-8');
  if (text.length > 4096 || !text.startsWith(prefix)) refuse(file, `does not hold "${prefix}<path>"`);
  const value = text.slice(prefix.length).replace(/\r?\n$/, '');
  if (value === '' || /[\0\n\r]/.test(value)) refuse(file, 'holds a path with control characters');
  return resolve(base, value);
}

/** HEAD's branch: `ref: refs/heads/<name>`, or undefined for a detached HEAD (an object id). */
function readBranch(gitDir: string): string | undefined {
  const headPath = join(gitDir, 'HEAD');
  checkReal(headPath, 'file');
  const head = readFileSync(headPath, 'utf-8').trim();
  const ref = /^ref: refs\/heads\/(\S+)$/.exec(head);
  if (ref) return ref[1];
  if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(head)) return undefined;
  refuse(headPath, 'is neither a branch reference nor an object id');
}

/** A path's real location, or undefined when it does not exist. */
function real(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

const isInside = (parent: string, child: string) => {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/** Looks like a repository: HEAD, objects and refs (or packed-refs). */
const looksLikeRepository = (dir: string) =>
  existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects')) && (existsSync(join(dir, 'refs')) || existsSync(join(dir, 'packed-refs')));

/**
 * A repository: objects and refs (or packed-refs) in the common dir — and not one made inside a
 * writable part of another (an objects/ folder the sandbox writes), which would pass for a
 * repository of its own.
 */
function checkRepository(commonDir: string): void {
  checkReal(commonDir, 'directory');
  checkReal(join(commonDir, 'objects'), 'directory');
  if (!existsSync(join(commonDir, 'refs')) && !existsSync(join(commonDir, 'packed-refs'))) refuse(commonDir, 'has no refs');
  const realCommon = real(commonDir) ?? commonDir;
  for (let up = dirname(realCommon); up !== dirname(up); up = dirname(up)) {
    if (looksLikeRepository(up)) refuse(commonDir, `lies inside the git directory ${up}`);
  }
}

export function readGitLayout(root: string): GitLayout {
  const workspaceRoot = resolve(root);
  const dotGit = join(workspaceRoot, '.git');
  let stat;
  try {
    stat = lstatSync(dotGit);
  } catch {
    throw new WorktreeError(
      `${workspaceRoot} is not inside a git repository (it has no .git; the workspace root must be the top of a git worktree): ` +
        "the sandbox's name and its git mounts come from git. Run `git init` (and commit) there, then run again.",
    );
  }
  if (stat.isSymbolicLink()) refuse(dotGit, 'is a symlink');

  if (stat.isDirectory()) {
    checkReal(dotGit, 'directory');
    // git treats a `commondir` file as a pointer to the real repository: a main git dir has none.
    if (existsSync(join(dotGit, 'commondir'))) refuse(join(dotGit, 'commondir'), 'exists in the main git dir');
    checkRepository(dotGit);
    return { workspaceRoot, kind: 'main', dotGitIsDirectory: true, gitDir: dotGit, commonDir: dotGit, branch: readBranch(dotGit) };
  }

  const gitDir = readPointer(dotGit, 'gitdir: ', workspaceRoot);
  checkReal(gitDir, 'directory');
  // Inside the workspace, the agent could have made it.
  if (isInside(workspaceRoot, real(gitDir) ?? gitDir)) refuse(dotGit, `points inside the workspace (${gitDir})`);
  const commondirFile = join(gitDir, 'commondir');
  if (!existsSync(commondirFile)) {
    // --separate-git-dir: the gitfile names the repository itself — but not another worktree's own .git directory.
    if (basename(gitDir) === '.git' && existsSync(join(dirname(gitDir), '.git')) && real(dirname(gitDir)) !== real(workspaceRoot)) {
      refuse(dotGit, `names ${gitDir}, the .git directory of another worktree`);
    }
    checkRepository(gitDir);
    return { workspaceRoot, kind: 'main', dotGitIsDirectory: false, gitDir, commonDir: gitDir, branch: readBranch(gitDir) };
  }
  const commonDir = readPointer(commondirFile, '', gitDir);
  checkRepository(commonDir);
  // A linked worktree's git dir is `<common>/worktrees/<id>`, and its `gitdir` file points back here.
  const worktreeId = basename(gitDir);
  if (real(dirname(gitDir)) !== real(join(commonDir, 'worktrees'))) refuse(commondirFile, `names ${commonDir}, whose worktrees/ does not hold ${gitDir}`);
  const back = readPointer(join(gitDir, 'gitdir'), '', gitDir);
  if (real(dirname(back)) !== real(workspaceRoot)) refuse(join(gitDir, 'gitdir'), `points to ${back}, not to this worktree's .git`);
  return { workspaceRoot, kind: 'linked', dotGitIsDirectory: false, gitDir, commonDir, worktreeId, branch: readBranch(gitDir) };
}
