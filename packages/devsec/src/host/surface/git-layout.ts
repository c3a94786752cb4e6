/**
 * Which repository a workspace belongs to, read from its `.git` without running git (git would
 * run hooks and fsmonitor commands the workspace can name). The approved snapshot is keyed by
 * the repository's common git dir, so every worktree of one repository shares it — and the agent,
 * who can rewrite a worktree's `.git` file, must not be able to point it at a fresh key (a silent
 * new baseline) or at another repository: what we read is validated, and refused when it is not
 * a git layout this workspace belongs to.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SandboxError } from '../../sandbox/errors';
import { visible } from './escape';
import { readSmallText, sha256 } from './read';

export interface GitLayout {
  /** This worktree's git dir (the `.git` directory, or where the `.git` file points). */
  gitDir: string;
  /** The repository's common git dir (real path): the same for every worktree. */
  commonDir: string;
  /** `core.hooksPath` as the repository's config sets it, if it does. */
  hooksPath?: string;
  /** What could not be read (config includes). */
  notes: string[];
}

const kindOf = (path: string) => {
  try {
    const stat = lstatSync(path);
    return stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
};

/** A git directory has HEAD, objects and refs (or reftable). */
const looksLikeGitDir = (path: string) =>
  kindOf(join(path, 'HEAD')) === 'file' && kindOf(join(path, 'objects')) === 'directory' && kindOf(join(path, 'refs')) !== 'missing';

const inside = (parent: string, child: string) => {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

function refuse(root: string, what: string): never {
  throw new SandboxError(
    `${visible(join(root, '.git'))}: ${what} @org/devsec keys the approved snapshot by the repository and will not guess it. ` +
      'Run `git worktree repair` (or re-clone) on the host, check that .git is what git wrote, then run again.',
  );
}

function realDir(root: string, path: string, what: string): string {
  try {
    return realpathSync(path);
  } catch {
    return refuse(root, `${what} ${visible(path)} does not exist.`);
  }
}

/** Reads and validates the workspace's git layout. */
export function readGitLayout(root: string): GitLayout {
  const dotGit = join(root, '.git');
  const kind = kindOf(dotGit);
  let gitDir: string;
  if (kind === 'directory') gitDir = realDir(root, dotGit, 'the git directory');
  else if (kind === 'file') {
    const pointer = /^gitdir: *(.+?)\r?\n?$/.exec(readSmallText(dotGit, 4096) ?? '');
    if (!pointer) refuse(root, 'is a file but not "gitdir: <path>".');
    gitDir = realDir(root, resolve(root, pointer[1]), 'it points to');
    if (inside(root, gitDir)) refuse(root, `points inside the workspace (${visible(gitDir)}), where the agent could have made it.`);
  } else refuse(root, `is ${kind === 'missing' ? 'missing' : `a ${kind}`}: expected a directory or a "gitdir:" file.`);

  let commonDir = gitDir;
  const commondir = readSmallText(join(gitDir, 'commondir'), 4096);
  if (commondir !== undefined) {
    commonDir = realDir(root, resolve(gitDir, commondir.trim()), 'its commondir');
    // A linked worktree's git dir names the worktree back; the agent cannot write that file outside the workspace.
    const back = readSmallText(join(gitDir, 'gitdir'), 4096)?.trim();
    const backPath = back ? resolve(gitDir, back) : undefined;
    if (!backPath || kindOf(backPath) === 'missing' || realpathSync(backPath) !== realpathSync(dotGit)) {
      refuse(root, `points to ${visible(gitDir)}, whose gitdir file does not name this worktree back.`);
    }
  } else if (kind === 'file') {
    refuse(
      root,
      `points to ${visible(gitDir)}, which is not a linked worktree's git dir (no commondir file): submodules and --separate-git-dir are not supported.`,
    );
  }
  if (!looksLikeGitDir(commonDir)) refuse(root, `leads to ${visible(commonDir)}, which has no HEAD, objects and refs.`);
  if (commonDir !== realpathSync(dotGit) && inside(root, commonDir)) refuse(root, `leads to ${visible(commonDir)}, inside the workspace.`);
  // A git dir nested in another one (made in a writable objects/ folder) would be a fresh key: a silent new baseline.
  for (let up = dirname(commonDir); up !== dirname(up); up = dirname(up)) {
    if (looksLikeGitDir(up)) refuse(root, `leads to ${visible(commonDir)}, which lies inside the git directory ${visible(up)}.`);
  }
  const notes: string[] = [];
  let hooksPath: string | undefined;
  for (const file of [join(commonDir, 'config'), join(gitDir, 'config.worktree')]) {
    const config = readGitConfig(readSmallText(file) ?? '');
    hooksPath = config.hooksPath ?? hooksPath;
    if (config.includes) notes.push(`${visible(file)} includes other config files; a core.hooksPath set there is not checked.`);
  }
  return { gitDir, commonDir, hooksPath, notes };
}

/** The snapshot's key: a hash of the common dir's real path, one safe path segment. */
export function repositoryKey(layout: GitLayout): string {
  return `repo-${sha256(layout.commonDir).slice(0, 40)}`;
}

/** `core.hooksPath` and whether the file includes others: enough of git's config syntax for that. */
export function readGitConfig(text: string): { hooksPath?: string; includes: boolean } {
  let section = '';
  let hooksPath: string | undefined;
  let includes = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\](.*)$/.exec(line);
    if (header) {
      section = header[2] === undefined ? header[1].toLowerCase() : `${header[1].toLowerCase()}.${header[2]}`;
      if (section === 'include' || section.startsWith('includeif.')) includes = true;
      continue;
    }
    const entry = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (section === 'core' && entry && entry[1].toLowerCase() === 'hookspath' && entry[2] !== undefined) hooksPath = configValue(entry[2]);
  }
  return { hooksPath, includes };
}

/** A config value: quotes removed, escapes resolved, a trailing comment dropped. */
function configValue(raw: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '"') quoted = !quoted;
    else if (c === '\\' && i + 1 < raw.length) {
      const next = raw[++i];
      out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
    } else if (!quoted && (c === '#' || c === ';')) break;
    else out += c;
  }
  return out.trim();
}

/** Where hooks run from, as a path relative to the root when it lies inside the workspace (git resolves a relative hooksPath from the worktree's top). */
export function hooksPathInWorkspace(root: string, hooksPath: string, env: NodeJS.ProcessEnv): { relative?: string; absolute: string } {
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  const absolute = hooksPath.startsWith('~/') ? join(home, hooksPath.slice(2)) : resolve(root, hooksPath);
  const rel = relative(root, absolute);
  return inside(root, absolute) ? { relative: rel.split(sep).join('/'), absolute } : { absolute };
}
