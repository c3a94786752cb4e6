/**
 * Every `.git` below the workspace root. A submodule that git registered keeps its git dir in
 * the repository's `modules/` (read-only inside): its `.git` file is mounted read-only, so the
 * agent cannot point it elsewhere. Any other `.git` — a directory, or a gitfile naming anything
 * else — is where the host's tools would run git on the agent's terms (VS Code scans subfolders
 * for repositories; git runs the `core.fsmonitor` of the config it finds there), so the start
 * refuses it, naming it.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { below } from '../../sandbox/paths';
import type { GitLayout } from './git-layout';

export interface NestedGit {
  /** `.git` files of registered submodules (absolute paths). */
  submodules: string[];
  /** Every other `.git` below the root, relative to it. */
  strays: string[];
  /** Set when the walk stopped early (entries or depth). */
  truncated?: string;
}

/** Folders the sandbox does not write at the root: its node_modules and .nx are volumes of its own, .git is the repository. */
const ROOT_SKIPS = new Set(['node_modules', '.git', '.nx']);
const MAX_ENTRIES = 200_000;
const MAX_DEPTH = 32;

/** Where this worktree's submodules keep their git dirs. */
export function modulesDir(layout: GitLayout): string {
  return join(layout.kind === 'linked' ? layout.gitDir : layout.commonDir, 'modules');
}

const isInside = (path: string, folder: string) => below(folder, path) !== undefined;

/** A real folder: never a symlink, which the agent could aim elsewhere after we looked. */
const isRealFolder = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === true;

/**
 * A submodule's `.git` file, in the one form git writes: `gitdir: ` then `../` steps up through
 * the submodule's own folders and a plain path down into the modules dir (or that path absolute),
 * every folder on the way a real folder. Anything else is refused, since git resolves the pointer
 * as the kernel does — a `..` after a symlink climbs from where the link points
 * (`../L/../../.git/modules/x` lands in the agent's folder while reading as the registered module),
 * and a symlink on the way can be re-aimed once we looked (red team, findings C and B).
 */
export function isRegisteredSubmodule(dotGit: string, modules: string): boolean {
  try {
    // The gitfile itself: a file, never a link to one.
    if (!lstatSync(dotGit).isFile()) return false;
    const text = readFileSync(dotGit, 'utf-8');
    const pointer = /^gitdir: (.+)\r?\n?$/.exec(text)?.[1];
    if (!pointer) return false;
    const absolute = pointer.startsWith('/');
    const parts = pointer.split('/').slice(absolute ? 1 : 0);
    let ups = 0;
    if (!absolute) while (parts[ups] === '..') ups++;
    const down = parts.slice(ups);
    if (down.length === 0 || down.some((part) => part === '' || part === '.' || part === '..')) return false;
    // Up: through the folders that hold the .git file, each real.
    let base = dirname(dotGit);
    for (let i = 0; i < ups; i++) {
      if (!isRealFolder(base)) return false;
      base = dirname(base);
    }
    // Down: every folder a real one, the last inside the modules dir.
    let target = absolute ? '/' : base;
    for (const part of down) {
      target = join(target, part);
      if (!absolute && !isRealFolder(target)) return false;
    }
    if (absolute && !isInside(target, modules)) return false;
    if (absolute) for (let folder = target; isInside(folder, modules); folder = dirname(folder)) if (!isRealFolder(folder)) return false;
    // What git will open (the kernel's resolution of the very text) is that folder, inside the modules dir.
    const opened = realpathSync.native(`${dirname(dotGit)}/${pointer}`);
    return opened === realpathSync.native(target) && isInside(opened, realpathSync.native(modules));
  } catch {
    return false;
  }
}

export function findNestedGit(layout: GitLayout): NestedGit {
  const root = layout.workspaceRoot;
  const modules = modulesDir(layout);
  const found: NestedGit = { submodules: [], strays: [] };
  let budget = MAX_ENTRIES;
  const visit = (dir: string, depth: number) => {
    if (found.truncated) return;
    if (depth > MAX_DEPTH) {
      found.truncated = `stopped at depth ${MAX_DEPTH} in ${relative(root, dir)}`;
      return;
    }
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (--budget < 0) {
        found.truncated = `stopped after ${MAX_ENTRIES} entries`;
        return;
      }
      if (depth === 0 && ROOT_SKIPS.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.name === '.git') {
        if (entry.isFile() && isRegisteredSubmodule(path, modules)) found.submodules.push(path);
        else found.strays.push(relative(root, path));
        continue;
      }
      // lstat-based: a symlink is never followed into.
      if (entry.isDirectory()) visit(path, depth + 1);
    }
  };
  visit(root, 0);
  found.submodules.sort();
  found.strays.sort();
  return found;
}
