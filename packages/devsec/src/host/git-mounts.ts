/**
 * What of git the dev container may write. Inside, git must work for the agent's job — status,
 * diff, add, commit, log, branch — but nothing git on the host later executes or follows may be
 * writable: `commondir`, `gitdir`, `config`, `config.worktree`, hooks, `info/`, `modules/` and
 * `worktrees/` of other worktrees, a linked worktree's `.git` file. So the common dir is mounted
 * read-only as a whole, and only what commits need is mounted writable on top: `objects`,
 * `refs`, `logs`, and the worktree's own per-worktree files.
 *
 * A linked worktree keeps those in `<common>/worktrees/<id>`, a folder of its own: it is
 * writable, with its pointers (`commondir`, `gitdir`) and config read-only inside it. The main
 * worktree keeps them at the top of the common dir, beside `config` and the place a planted
 * `commondir` would go, so none of it can be writable: the sandbox gets a private git dir of its
 * own instead, in the host's state directory, seeded from this worktree's HEAD and index, whose
 * `commondir` names the real repository. Commits made inside land in the shared refs and objects;
 * the private HEAD and index are the sandbox's own.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chownLike, ensureOwnedFile, ensureOwnedFolder } from './checkout-owner';
import type { GitLayout } from './git-layout';

/** A bind mount of the dev container. */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Where the main worktree's repository appears inside, since its own path shows the private git dir. */
export const COMMON_DIR_INSIDE = '/devsec/git';
/** Where a `--separate-git-dir` worktree's private git dir appears inside (its `.git` is a gitfile naming it). */
export const PRIVATE_GIT_DIR_INSIDE = '/devsec/worktree-git';

/** The folders of the common dir a commit writes to. */
const WRITABLE_COMMON = ['objects', 'refs', 'logs'];

/**
 * The private git dir of a main worktree's sandbox: created (and seeded from the worktree's own
 * HEAD and index) when missing, kept while the stack lives, so a re-run does not reset the agent's
 * staging. The host never runs git in it.
 */
export function ensurePrivateGitDir(layout: GitLayout, privateDir: string): void {
  if (existsSync(join(privateDir, 'HEAD'))) return;
  rmSync(privateDir, { recursive: true, force: true });
  mkdirSync(join(privateDir, 'logs'), { recursive: true });
  writeFileSync(join(privateDir, 'HEAD'), readFileSync(join(layout.gitDir, 'HEAD'), 'utf-8'));
  writeFileSync(join(privateDir, 'commondir'), `${COMMON_DIR_INSIDE}\n`);
  if (existsSync(join(layout.gitDir, 'index'))) copyFileSync(join(layout.gitDir, 'index'), join(privateDir, 'index'));
  chownLike(privateDir, layout.workspaceRoot);
}

/** A gitfile naming the private git dir, for a worktree whose `.git` is itself a gitfile. */
function privateGitfile(privateDir: string): string {
  const path = `${privateDir}.gitfile`;
  writeFileSync(path, `gitdir: ${PRIVATE_GIT_DIR_INSIDE}\n`);
  return path;
}

/**
 * The git mounts of a worktree's dev container, laid over the compose file's own (the common
 * dir read-only at its host path, hooks and config read-only): Compose merges mounts by target.
 * Creates on the host what must exist for them.
 */
export function gitMounts(layout: GitLayout, privateDir: string): Mount[] {
  const { commonDir, workspaceRoot } = layout;
  for (const folder of WRITABLE_COMMON) ensureOwnedFolder(join(commonDir, folder), commonDir);
  if (layout.kind === 'linked') {
    const { gitDir } = layout;
    ensureOwnedFile(join(gitDir, 'config.worktree'), gitDir);
    ensureOwnedFolder(join(gitDir, 'modules'), gitDir);
    return [
      ...WRITABLE_COMMON.map((folder) => ({ source: join(commonDir, folder), target: join(commonDir, folder), readOnly: false })),
      { source: gitDir, target: gitDir, readOnly: false },
      ...['commondir', 'gitdir', 'config.worktree', 'modules'].map((name) => ({ source: join(gitDir, name), target: join(gitDir, name), readOnly: true })),
      { source: join(workspaceRoot, '.git'), target: join(workspaceRoot, '.git'), readOnly: true },
    ];
  }
  ensurePrivateGitDir(layout, privateDir);
  const repository = [
    { source: commonDir, target: COMMON_DIR_INSIDE, readOnly: true },
    ...WRITABLE_COMMON.map((folder) => ({ source: join(commonDir, folder), target: join(COMMON_DIR_INSIDE, folder), readOnly: false })),
  ];
  if (layout.dotGitIsDirectory) return [{ source: privateDir, target: join(workspaceRoot, '.git'), readOnly: false }, ...repository];
  return [
    { source: privateGitfile(privateDir), target: join(workspaceRoot, '.git'), readOnly: true },
    { source: privateDir, target: PRIVATE_GIT_DIR_INSIDE, readOnly: false },
    ...repository,
  ];
}
