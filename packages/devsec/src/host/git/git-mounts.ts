/**
 * What of git the dev container may write. Inside, git must work for the agent's job — status,
 * diff, add, commit, log, branch — but nothing git on the host later follows or executes may be
 * writable: `commondir`, `gitdir`, `config`, hooks, `info/`, `modules/`, other worktrees'
 * folders, `packed-refs`, a linked worktree's `.git` file. Files git reads only when they exist
 * cannot be protected by a read-only mount (a mount point would have to be created first), so
 * the top of the repository is not mounted at all.
 *
 * Instead the sandbox gets a git dir of its own, in the host's state directory, that the host's
 * git never reads: HEAD, index, packed-refs, shallow, config and reflogs of its own, and mounted
 * into it, writable, only what a commit and a branch produce — the object store and `refs` (git
 * replaces a ref or an object by renaming a new file into place, never writing through what is
 * there) — plus hooks, `info`, `modules`, `refs/replace` (which would make the host's git show
 * one commit for another) and `objects/info` (alternates, commit-graph) read-only. Reflogs stay
 * inside: git appends to a reflog through a symlink, so a shared `logs/` would let the agent aim
 * the host's next commit at any file. Commits and branches made inside are the repository's; the
 * sandbox's HEAD, index and reflogs are its own.
 *
 * The private git dir is the agent's to write, and so are `objects` and `refs`: the host removes
 * what it replaces there and creates it anew, never writes through a file, and never mounts what
 * a symlink there points at.
 */
import { constants, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chownLike, ensureOwnedFolder } from './checkout-owner';
import type { GitLayout } from './git-layout';

/** A bind mount of the dev container. */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Where the private git dir appears inside when the worktree's `.git` is a gitfile (linked, or `--separate-git-dir`). */
export const PRIVATE_GIT_DIR_INSIDE = '/devsec/git';

/** What a commit and a branch write, shared with the repository. */
const SHARED_WRITABLE = ['objects', 'refs'];
/** What git reads from the repository and must see, never write. */
const SHARED_READ_ONLY = ['hooks', 'info', 'modules'];
/** Below the writable folders, what git would trust from the agent: mounted read-only, created empty when missing. */
const GUARDED = ['refs/replace', 'objects/info'];
/** Every folder of the repository the dev container sees read-only (those that exist). */
export const GIT_READ_ONLY_INSIDE: readonly string[] = [...GUARDED, ...SHARED_READ_ONLY];

/**
 * A copy of one of the worktree's own git files into the private git dir, when it has one. What
 * the agent left at `to` (a symlink to a file of yours, a folder) is removed, never written
 * through; the copy refuses to open anything that appears there meanwhile.
 */
function seed(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  if (existsSync(from)) copyFileSync(from, to, constants.COPYFILE_EXCL);
}

/**
 * A folder where the agent writes (a mount source or point): whatever else it left there, a
 * symlink above all, goes first — Docker would mount what a symlink names.
 */
function ensureRealFolder(path: string, reference: string): void {
  if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === false) rmSync(path, { force: true });
  ensureOwnedFolder(path, reference);
}

/**
 * The sandbox's private git dir: created when missing (HEAD, index and config seeded from this
 * worktree), kept while the stack lives so a re-run does not reset the agent's staging.
 * packed-refs and shallow follow the repository at every start: refs the host packed since would
 * otherwise vanish inside. The host never runs git in it, and never reads what the agent wrote there.
 */
export function ensurePrivateGitDir(layout: GitLayout, privateDir: string): void {
  const { gitDir, commonDir } = layout;
  if (!existsSync(join(privateDir, 'HEAD'))) {
    rmSync(privateDir, { recursive: true, force: true });
    mkdirSync(privateDir, { recursive: true });
    writeFileSync(join(privateDir, 'HEAD'), readFileSync(join(gitDir, 'HEAD'), 'utf-8'));
    seed(join(gitDir, 'index'), join(privateDir, 'index'));
    seed(join(commonDir, 'config'), join(privateDir, 'config'));
    seed(join(gitDir, 'config.worktree'), join(privateDir, 'config.worktree'));
  }
  seed(join(commonDir, 'packed-refs'), join(privateDir, 'packed-refs'));
  seed(join(commonDir, 'shallow'), join(privateDir, 'shallow'));
  for (const folder of [...SHARED_WRITABLE, ...SHARED_READ_ONLY]) ensureRealFolder(join(privateDir, folder), layout.workspaceRoot);
  chownLike(privateDir, layout.workspaceRoot);
}

/** A gitfile naming the private git dir inside, for a worktree whose `.git` is itself a gitfile. */
function privateGitfile(privateDir: string, owner: string): string {
  const path = `${privateDir}.gitfile`;
  writeFileSync(path, `gitdir: ${PRIVATE_GIT_DIR_INSIDE}\n`);
  chownLike(path, owner);
  return path;
}

/**
 * The git mounts of a worktree's dev container, laid over the compose file's own (which mounts
 * the repository read-only): Compose merges mounts by target. Creates on the host what must
 * exist for them.
 */
export function gitMounts(layout: GitLayout, privateDir: string): Mount[] {
  const { commonDir, workspaceRoot } = layout;
  for (const folder of SHARED_WRITABLE) ensureOwnedFolder(join(commonDir, folder), commonDir);
  for (const folder of GUARDED) ensureRealFolder(join(commonDir, folder), commonDir);
  ensurePrivateGitDir(layout, privateDir);
  const inside = layout.kind === 'main' && layout.dotGitIsDirectory ? join(workspaceRoot, '.git') : PRIVATE_GIT_DIR_INSIDE;
  const dotGit: Mount[] =
    inside === PRIVATE_GIT_DIR_INSIDE
      ? [
          { source: privateGitfile(privateDir, workspaceRoot), target: join(workspaceRoot, '.git'), readOnly: true },
          { source: privateDir, target: inside, readOnly: false },
        ]
      : [{ source: privateDir, target: inside, readOnly: false }];
  return [
    ...dotGit,
    ...SHARED_WRITABLE.map((folder) => ({ source: join(commonDir, folder), target: join(inside, folder), readOnly: false })),
    ...GUARDED.map((folder) => ({ source: join(commonDir, folder), target: join(inside, folder), readOnly: true })),
    ...SHARED_READ_ONLY.filter((folder) => existsSync(join(commonDir, folder))).map((folder) => ({
      source: join(commonDir, folder),
      target: join(inside, folder),
      readOnly: true,
    })),
  ];
}
