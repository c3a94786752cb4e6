/**
 * What the executors create in a checkout — mount points, git folders, the sandbox's private git
 * dir — belongs to the checkout's owner, as if they had made it: the dev container runs as that
 * user (uid 1000 in the Node images). Only matters when root runs the executors (CI does).
 */
import { existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Gives `path` (and what is below it, symlinks not followed) the owner of `reference`, when we are root. */
export function chownLike(path: string, reference: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(reference);
  const visit = (entry: string) => {
    const stat = lstatSync(entry);
    if (stat.isSymbolicLink()) return;
    // lchown: what is a file now may be a symlink by the time it is changed (the agent writes here).
    lchownSync(entry, uid, gid);
    if (stat.isDirectory()) for (const child of readdirSync(entry)) visit(join(entry, child));
  };
  visit(path);
}

/** A folder that must exist (a mount source or mount point Docker would otherwise create, as root). */
export function ensureOwnedFolder(path: string, reference: string): void {
  if (existsSync(path)) return;
  mkdirSync(path, { recursive: true });
  chownLike(path, reference);
}

/** A file that git reads only when present: an empty one is harmless, and can then be mounted read-only. */
export function ensureOwnedFile(path: string, reference: string): void {
  if (existsSync(path)) return;
  writeFileSync(path, '');
  chownLike(path, reference);
}
