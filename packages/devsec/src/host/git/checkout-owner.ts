/**
 * What the executors create in a checkout — mount points, git folders, the sandbox's private git
 * dir — belongs to the checkout's owner, as if they had made it: the dev container runs as that
 * user (uid 1000 in the Node images). Only matters when root runs the executors (CI does).
 *
 * Only what the host itself has just created is given away, one entry at a time, never a tree:
 * the places it creates in are the agent's to write, and a walk of them by path would follow a
 * folder the agent swaps for a symlink meanwhile to the host's own files.
 */
import { dirname } from 'node:path';
import { existsSync, lchownSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';

/** Gives the one entry `path` (never what is below it; a symlink is not followed) the owner of `reference`, when we are root. */
export function chownLike(path: string, reference: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(reference);
  // lchown: what is a file now may be a symlink by the time it is changed (the agent writes here).
  if (lstatSync(path, { throwIfNoEntry: false })) lchownSync(path, uid, gid);
}

/** A folder that must exist (a mount source or mount point Docker would otherwise create, as root): the folders made for it are the user's. */
export function ensureOwnedFolder(path: string, reference: string): void {
  if (existsSync(path)) return;
  const first = mkdirSync(path, { recursive: true });
  if (first === undefined) return;
  for (let folder = path; ; folder = dirname(folder)) {
    chownLike(folder, reference);
    if (folder === first || dirname(folder) === folder) break;
  }
}

/** A file that git reads only when present: an empty one is harmless, and can then be mounted read-only. */
export function ensureOwnedFile(path: string, reference: string): void {
  if (existsSync(path)) return;
  writeFileSync(path, '');
  chownLike(path, reference);
}
