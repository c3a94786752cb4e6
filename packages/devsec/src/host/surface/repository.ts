/**
 * Which repository a workspace belongs to, read from its `.git` without running git (git would
 * run hooks and fsmonitor commands the workspace can name). The approved snapshot is keyed by
 * the repository's common git dir, so every worktree of one repository shares it — and the agent,
 * who can rewrite a worktree's `.git` file, must not be able to point it at a fresh key (a silent
 * new baseline) or at another repository: what we read is validated, and refused when it is not
 * a git layout this workspace belongs to.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SandboxError, WorktreeError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { readGitLayout } from '../git/git-layout';
import { readSmallText, sha256 } from './read';

export interface Repository {
  /** This worktree's git dir (the `.git` directory, or where the `.git` file points). */
  gitDir: string;
  /** The repository's common git dir (real path): the same for every worktree. */
  commonDir: string;
  /** `core.hooksPath` as the repository's config sets it, if it does. */
  hooksPath?: string;
  /** What could not be read (config includes). */
  notes: string[];
}

/**
 * Reads and validates the workspace's git layout (host/git-layout.ts: no symlinks, pointers that
 * agree, no git dir inside the workspace or inside another one), and the hooks path its config names.
 */
export function readRepository(root: string): Repository {
  let layout;
  try {
    layout = readGitLayout(root);
  } catch (error) {
    if (!(error instanceof WorktreeError)) throw error;
    throw new SandboxError(
      `${error.message} @org/devsec keys the approved snapshot by the repository and will not guess it; \`git worktree repair\` (or a fresh clone) puts .git back as git wrote it.`,
    );
  }
  const notes: string[] = [];
  let hooksPath: string | undefined;
  for (const file of [join(layout.commonDir, 'config'), join(layout.gitDir, 'config.worktree')]) {
    const config = readGitConfig(readSmallText(file) ?? '');
    hooksPath = config.hooksPath ?? hooksPath;
    if (config.includes) notes.push(`${visible(file)} includes other config files; a core.hooksPath set there is not checked.`);
  }
  return { gitDir: layout.gitDir, commonDir: realpathSync(layout.commonDir), hooksPath, notes };
}

/** The snapshot's key: a hash of the common dir's real path, one safe path segment. */
export function repositoryKey(repository: Repository): string {
  return `repo-${sha256(repository.commonDir).slice(0, 40)}`;
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
  const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  return inside ? { relative: rel.split(sep).join('/'), absolute } : { absolute };
}
